"""The public storefront: a vendor's store and their available products."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.slugs import SLUG_MAX_LENGTH, normalise_slug
from app.fastpath.mapping import position
from app.fastpath.reads import ReadConnection, ReadQuery
from app.models import Product, StoreAlias, User
from app.services.bodies import STORE_PRODUCT, STOREFRONT, share_url

# The storefront reads plain rows through prebuilt statements, not ORM objects: for a 50-product
# store, building statements and loading and validating Product instances was most of the
# request's time (bench/cpu.py --profile).


@dataclass(frozen=True, slots=True)
class StorePage:
    body: dict[str, Any]
    total: int
    vendor_id: str


@dataclass(frozen=True, slots=True)
class StoreItem:
    body: dict[str, Any]
    vendor_id: str


def vendor_matches() -> tuple[ColumnElement[bool], ColumnElement[int]]:
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


_MATCHES, _PREFERENCE = vendor_matches()
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
    select(User.id.label("vendor_id"), *STOREFRONT.select("v_"), _AVAILABLE_COUNT.label("total"))
    .where(_MATCHES)
    .order_by(_PREFERENCE)
    .limit(1)
)
FIND_STORE = ReadQuery(_VENDOR)
_VENDOR_ROW = _VENDOR.subquery("vendor")
# The vendor joined to one page of their products: one statement for the whole storefront. The
# outer join still yields the vendor when they list nothing (one row, no product); only a page
# past the end yields no row at all, and then FIND_STORE tells an empty page from no store.
STORE_PAGE = ReadQuery(
    select(*_VENDOR_ROW.c, *STORE_PRODUCT.select("p_"))
    .select_from(
        _VENDOR_ROW.outerjoin(Product, and_(Product.user_id == _VENDOR_ROW.c.vendor_id, _AVAILABLE))
    )
    .order_by(Product.created_at.desc(), Product.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_VENDOR_ID = select(User.id).where(_MATCHES).order_by(_PREFERENCE).limit(1).scalar_subquery()
STORE_PRODUCT_QUERY = ReadQuery(
    select(*STORE_PRODUCT.select(), Product.user_id.label("vendor_id")).where(
        Product.user_id == _VENDOR_ID, Product.id == bindparam("product_id"), _AVAILABLE
    )
)

_PAGE_VENDOR = STOREFRONT.bind(STORE_PAGE.statement, "v_")
_PAGE_PRODUCT = STORE_PRODUCT.bind(STORE_PAGE.statement, "p_")
_PAGE_VENDOR_ID = position(STORE_PAGE.statement, "vendor_id")
_PAGE_TOTAL = position(STORE_PAGE.statement, "total")
_PAGE_PRODUCT_ID = position(STORE_PAGE.statement, "p_id")
_FOUND_VENDOR = STOREFRONT.bind(FIND_STORE.statement, "v_")
_FOUND_VENDOR_ID = position(FIND_STORE.statement, "vendor_id")
_PAGE_SLUG = position(STORE_PAGE.statement, "v_store_slug")
_FOUND_SLUG = position(FIND_STORE.statement, "v_store_slug")
_FOUND_TOTAL = position(FIND_STORE.statement, "total")
_ONE_PRODUCT = STORE_PRODUCT.bind(STORE_PRODUCT_QUERY.statement)
_ONE_PRODUCT_VENDOR = position(STORE_PRODUCT_QUERY.statement, "vendor_id")


async def store_page(
    db: ReadConnection, *, identifier: str, limit: int, offset: int, share_base: str
) -> StorePage | None:
    """The store and one page of its available products: one statement, two for a page past
    the end."""
    if not identifier.strip():
        return None
    params = link_params(identifier)
    rows = await db.fetch(STORE_PAGE, {**params, "limit": limit, "offset": offset})
    if rows:
        products = [_PAGE_PRODUCT.body(row) for row in rows if row[_PAGE_PRODUCT_ID] is not None]
        first = rows[0]
        return StorePage(
            body=_PAGE_VENDOR.body(
                first, {"share_url": share_url(share_base, first[_PAGE_SLUG]), "products": products}
            ),
            total=int(first[_PAGE_TOTAL]),
            vendor_id=first[_PAGE_VENDOR_ID],
        )
    if offset == 0:
        return None
    # No row: no such store, or a page past the end of one.
    vendor = await db.fetchrow(FIND_STORE, params)
    if vendor is None:
        return None
    return StorePage(
        body=_FOUND_VENDOR.body(
            vendor, {"share_url": share_url(share_base, vendor[_FOUND_SLUG]), "products": []}
        ),
        total=int(vendor[_FOUND_TOTAL]),
        vendor_id=vendor[_FOUND_VENDOR_ID],
    )


async def store_product(
    db: ReadConnection, *, identifier: str, product_id: str
) -> StoreItem | None:
    """One available product of the store behind `identifier`, in one statement."""
    if not identifier.strip():
        return None
    params = {**link_params(identifier), "product_id": product_id}
    row = await db.fetchrow(STORE_PRODUCT_QUERY, params)
    if row is None:
        return None
    return StoreItem(body=_ONE_PRODUCT.body(row), vendor_id=row[_ONE_PRODUCT_VENDOR])


async def find_vendor(session: AsyncSession, *, identifier: str) -> User | None:
    """The vendor behind a store link, by the storefront's rules, for the ORM routes (orders)."""
    if not identifier.strip():
        return None
    statement = select(User).where(_MATCHES).order_by(_PREFERENCE).limit(1)
    return await session.scalar(statement, link_params(identifier))
