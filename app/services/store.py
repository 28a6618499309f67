"""The public storefront: a vendor's store and their available products."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Product, StoreAlias, User
from app.services.slugs import SLUG_MAX_LENGTH, normalise_slug


@dataclass(frozen=True, slots=True)
class StorePage:
    vendor: User
    products: Sequence[Product]
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
    products = await session.scalars(
        select(Product)
        .where(Product.user_id == vendor.id, Product.is_available.is_(True))
        .order_by(Product.created_at.desc(), Product.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return StorePage(vendor=vendor, products=products.all(), total=int(total))


async def store_product(
    session: AsyncSession, *, identifier: str, product_id: str
) -> Product | None:
    """One available product of the store behind `identifier`, in one statement."""
    vendor = _vendor_id(identifier)
    return await session.scalar(
        select(Product).where(
            Product.user_id == vendor, Product.id == product_id, Product.is_available.is_(True)
        )
    )


def _vendor_id(identifier: str) -> ColumnElement[str]:
    """The id of the vendor behind a store link, as a subquery for a one-statement lookup."""
    matches, preference = _vendor_matches(identifier)
    return select(User.id).where(matches).order_by(preference).limit(1).scalar_subquery()
