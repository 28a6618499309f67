"""The public storefront: a vendor's store and their available products."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, or_, select

from app.core.reads import ReadConnection, ReadQuery, Row
from app.models import IMAGE_SLOTS, Product, StoreAlias, User
from app.schemas.common import money_to_json
from app.services.slugs import SLUG_MAX_LENGTH, normalise_slug

# The storefront reads plain rows through prebuilt statements, not ORM objects: for a 50-product
# store, building statements and loading and validating Product instances was most of the
# request's time (bench/cpu.py --profile).
_IMAGE_COLUMNS = tuple(getattr(Product, f"image_url_{slot}") for slot in range(1, IMAGE_SLOTS + 1))
STORE_PRODUCT_COLUMNS = (
    Product.id,
    Product.name,
    Product.price,
    Product.description,
    Product.is_available,
    *_IMAGE_COLUMNS,
)


def photo_fields(urls: Sequence[str | None]) -> dict[str, Any]:
    """`image_urls` and `images` from the five photo slots, empty slots left out."""
    slots = [(slot, url) for slot, url in enumerate(urls, start=1) if url]
    return {
        "image_urls": [url for _, url in slots],
        "images": [{"slot": slot, "url": url} for slot, url in slots],
    }


def store_product_body(row: Row) -> dict[str, Any]:
    """One product in the storefront's JSON shape (the `StoreProduct` schema)."""
    product_id, name, price, description, is_available, *urls = row
    return {
        "id": product_id,
        "name": name,
        "price": money_to_json(price),
        **photo_fields(urls),
        "description": description,
        "is_available": bool(is_available),
    }


@dataclass(frozen=True, slots=True)
class StorePage:
    body: dict[str, Any]
    total: int
    vendor_id: str


def vendor_name(store_name: str | None, email: str) -> str:
    """The store name, else the email's local part as the earlier backend showed it."""
    if store_name:
        return store_name
    local = email.split("@", 1)[0]
    return " ".join(local.replace(".", " ").replace("_", " ").replace("-", " ").split()).title()


def _vendor_matches() -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """Where-clause and preference for the vendor behind a store link.

    An old link kept from the earlier backend (an alias, matched exactly) wins over the slug the
    identifier normalises to (`Ada.Fabrics` -> `ada-fabrics`): `ada_b` may be one vendor's old
    link while `ada-b` is another's slug. Parameters: `alias`, `slug` (link_params).
    """
    owner = (
        select(StoreAlias.user_id).where(StoreAlias.alias == bindparam("alias")).scalar_subquery()
    )
    matches = or_(User.id == owner, User.store_slug == bindparam("slug"))
    return matches, case((User.id == owner, 0), else_=1)


def link_params(identifier: str) -> dict[str, str]:
    identifier = identifier[: SLUG_MAX_LENGTH * 4]
    return {"alias": identifier.lower(), "slug": normalise_slug(identifier)}


_MATCHES, _PREFERENCE = _vendor_matches()
_AVAILABLE = Product.is_available.is_(True)
_AVAILABLE_COUNT = (
    select(func.count())
    .where(Product.user_id == User.id, _AVAILABLE)
    .correlate(User)
    .scalar_subquery()
)
# The vendor row carries its count of available products, so a page of products needs no
# second statement for the total.
_VENDOR = (
    select(
        User.id,
        User.store_name,
        User.email,
        User.whatsapp_number,
        User.banner_url,
        User.store_slug,
        _AVAILABLE_COUNT.label("total"),
    )
    .where(_MATCHES)
    .order_by(_PREFERENCE)
    .limit(1)
)
FIND_STORE = ReadQuery(_VENDOR)
_VENDOR_ROW = _VENDOR.subquery("vendor")
VENDOR_WIDTH = len(_VENDOR_ROW.c)
# The vendor joined to one page of their products: one statement for the whole storefront. The
# outer join still yields the vendor when they list nothing (one row, no product); only a page
# past the end yields no row at all, and then FIND_STORE tells an empty page from no store.
STORE_PAGE = ReadQuery(
    select(*_VENDOR_ROW.c, *STORE_PRODUCT_COLUMNS)
    .select_from(
        _VENDOR_ROW.outerjoin(Product, and_(Product.user_id == _VENDOR_ROW.c.id, _AVAILABLE))
    )
    .order_by(Product.created_at.desc(), Product.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_VENDOR_ID = select(User.id).where(_MATCHES).order_by(_PREFERENCE).limit(1).scalar_subquery()
STORE_PRODUCT = ReadQuery(
    select(*STORE_PRODUCT_COLUMNS).where(
        Product.user_id == _VENDOR_ID, Product.id == bindparam("product_id"), _AVAILABLE
    )
)


async def store_page(
    db: ReadConnection, *, identifier: str, limit: int, offset: int
) -> StorePage | None:
    """The store and one page of its available products: one statement, two for a page past
    the end."""
    if not identifier.strip():
        return None
    params = link_params(identifier)
    rows = await db.fetch(STORE_PAGE, {**params, "limit": limit, "offset": offset})
    vendor: Row | None = rows[0][:VENDOR_WIDTH] if rows else None
    if not rows and offset > 0:
        # No row: no such store, or a page past the end of one.
        vendor = await db.fetchrow(FIND_STORE, params)
    if vendor is None:
        return None
    vendor_id, store_name, email, whatsapp_number, banner_url, store_slug, total = vendor
    body = {
        "vendor_name": vendor_name(store_name, email),
        "store_name": store_name,
        "whatsapp_number": whatsapp_number,
        "banner_url": banner_url,
        "store_slug": store_slug,
        "products": [
            store_product_body(row[VENDOR_WIDTH:]) for row in rows if row[VENDOR_WIDTH] is not None
        ],
    }
    return StorePage(body=body, total=int(total), vendor_id=vendor_id)


async def store_product(
    db: ReadConnection, *, identifier: str, product_id: str
) -> dict[str, Any] | None:
    """One available product of the store behind `identifier`, in one statement."""
    if not identifier.strip():
        return None
    row = await db.fetchrow(STORE_PRODUCT, {**link_params(identifier), "product_id": product_id})
    return None if row is None else store_product_body(row)
