"""The public storefront: a vendor's store and their available products."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IMAGE_SLOTS, Product, StoreAlias, User
from app.schemas.common import money_to_json
from app.services.slugs import SLUG_MAX_LENGTH, normalise_slug

# The storefront reads plain rows, not ORM objects: for a 50-product store, loading and
# validating Product instances was most of the request's time (bench/cpu.py --profile).
_IMAGE_COLUMNS = tuple(getattr(Product, f"image_url_{slot}") for slot in range(1, IMAGE_SLOTS + 1))
STORE_PRODUCT_COLUMNS = (
    Product.id,
    Product.name,
    Product.price,
    Product.description,
    Product.is_available,
    *_IMAGE_COLUMNS,
)


def store_product_body(row: Row[Any]) -> dict[str, Any]:
    """One product in the storefront's JSON shape (the `StoreProduct` schema)."""
    urls: tuple[str | None, ...] = tuple(row[5:])
    slots = [(slot, url) for slot, url in enumerate(urls, start=1) if url]
    return {
        "id": row.id,
        "name": row.name,
        "price": money_to_json(row.price),
        "image_urls": [url for _, url in slots],
        "images": [{"slot": slot, "url": url} for slot, url in slots],
        "description": row.description,
        "is_available": row.is_available,
    }


@dataclass(frozen=True, slots=True)
class StorePage:
    vendor: User
    products: Sequence[dict[str, Any]]
    total: int


def vendor_name(user: User) -> str:
    """The store name, else the email's local part as the earlier backend showed it."""
    if user.store_name:
        return user.store_name
    local = user.email_local_part
    return " ".join(local.replace(".", " ").replace("_", " ").replace("-", " ").split()).title()


def _alias_owner(identifier: str) -> ColumnElement[str]:
    return (
        select(StoreAlias.user_id)
        .where(StoreAlias.alias == identifier[: SLUG_MAX_LENGTH * 4].lower())
        .scalar_subquery()
    )


def _vendor_matches(identifier: str) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """Where-clause and preference for the vendor behind a store link.

    An old link kept from the earlier backend (an alias, matched exactly) wins over the slug the
    identifier normalises to (`Ada.Fabrics` -> `ada-fabrics`): `ada_b` may be one vendor's old
    link while `ada-b` is another's slug.
    """
    slug = normalise_slug(identifier[: SLUG_MAX_LENGTH * 4])
    owner = _alias_owner(identifier)
    return or_(User.id == owner, User.store_slug == slug), case((User.id == owner, 0), else_=1)


async def find_vendor(session: AsyncSession, *, identifier: str) -> User | None:
    """The vendor behind a store link: an old link kept as an alias, else the normalised slug."""
    if not identifier.strip():
        return None
    matches, preference = _vendor_matches(identifier)
    return await session.scalar(select(User).where(matches).order_by(preference).limit(1))


async def store_page(
    session: AsyncSession, *, identifier: str, limit: int, offset: int
) -> StorePage | None:
    """The store and one page of its available products: two statements whatever the size.

    The vendor row carries its count of available products, so a page past the end still
    knows the total without a third statement.
    """
    if not identifier.strip():
        return None
    matches, preference = _vendor_matches(identifier)
    available = (
        select(func.count())
        .where(Product.user_id == User.id, Product.is_available.is_(True))
        .correlate(User)
        .scalar_subquery()
    )
    found = (
        await session.execute(
            select(User, available.label("total")).where(matches).order_by(preference).limit(1)
        )
    ).first()
    if found is None:
        return None
    vendor, total = found
    rows = await session.execute(
        select(*STORE_PRODUCT_COLUMNS)
        .where(Product.user_id == vendor.id, Product.is_available.is_(True))
        .order_by(Product.created_at.desc(), Product.id.desc())
        .limit(limit)
        .offset(offset)
    )
    products = [store_product_body(row) for row in rows]
    return StorePage(vendor=vendor, products=products, total=int(total))


async def store_product(
    session: AsyncSession, *, identifier: str, product_id: str
) -> dict[str, Any] | None:
    """One available product of the store behind `identifier`, in one statement."""
    vendor = _vendor_id(identifier)
    row = (
        await session.execute(
            select(*STORE_PRODUCT_COLUMNS).where(
                Product.user_id == vendor, Product.id == product_id, Product.is_available.is_(True)
            )
        )
    ).first()
    return None if row is None else store_product_body(row)


def _vendor_id(identifier: str) -> ColumnElement[str]:
    """The id of the vendor behind a store link, as a subquery for a one-statement lookup."""
    matches, preference = _vendor_matches(identifier)
    return select(User.id).where(matches).order_by(preference).limit(1).scalar_subquery()
