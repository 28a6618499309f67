"""A vendor's products: list, create, update, delete, their photos, and the click counter."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.fastpath.changes import NOT_SHOWN
from app.fastpath.mapping import EncodedRows, position
from app.fastpath.reads import ReadConnection, ReadQuery
from app.images.encode import EncodedPhoto
from app.models import Product
from app.models.base import utcnow
from app.schemas.product import ProductCreate, ProductUpdate
from app.services import photos
from app.services.auth import LIVE_USER_ID, live_user_subquery
from app.services.bodies import PRODUCT
from app.storage import Storage

NO_PHOTOS: Mapping[int, EncodedPhoto] = {}


_OWNER = Product.user_id == bindparam("user_id")
_ME = live_user_subquery()
# The live session's user joined to one page of their products, with their total as a window
# count: the session check and the page in one statement. The outer join yields the user even
# with no product (one row, no product); no row at all means the session is not live, or, with
# an offset, a page past the end.
OWN_PAGE = ReadQuery(
    select(
        _ME.c.user_id.label("session_user_id"),
        *PRODUCT.select(),
        func.count(Product.id).over().label("total"),
    )
    .select_from(_ME.outerjoin(Product, Product.user_id == _ME.c.user_id))
    .order_by(Product.created_at.desc(), Product.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
OWN_PRODUCT_COUNT = ReadQuery(
    select(func.count().label("total")).select_from(Product).where(_OWNER)
)
# Mapping and encoding 50 rows was a fifth of the list's time (bench/cpu.py --cprofile).
_OWN_USER_ID = position(OWN_PAGE.statement, "session_user_id")
_OWN_PRODUCT_ID = position(OWN_PAGE.statement, "id")
_OWN_BODIES = EncodedRows(
    PRODUCT.bind(OWN_PAGE.statement), identity=_OWN_PRODUCT_ID, budget_bytes=4 * 1024 * 1024
)
_OWN_TOTAL = position(OWN_PAGE.statement, "total")
_LIVE_USER_ID = position(LIVE_USER_ID.statement, "user_id")
_COUNT = position(OWN_PRODUCT_COUNT.statement, "total")


@dataclass(frozen=True, slots=True)
class OwnPage:
    user_id: str
    body: bytes  # the JSON array of the page's products
    total: int


async def own_page(
    db: ReadConnection, *, live_session: Mapping[str, Any], limit: int, offset: int
) -> OwnPage | None:
    """The signed-in vendor's products, newest first, and how many they have in all; None when
    the session is not live. One statement; three for a page past the end."""
    rows = await db.fetch(OWN_PAGE, {**live_session, "limit": limit, "offset": offset})
    if rows:
        body = _OWN_BODIES.encode(row for row in rows if row[_OWN_PRODUCT_ID] is not None)
        first = rows[0]
        return OwnPage(user_id=str(first[_OWN_USER_ID]), body=body, total=int(first[_OWN_TOTAL]))
    if offset == 0:
        return None
    found = await db.fetchrow(LIVE_USER_ID, live_session)
    if found is None:
        return None
    user_id = str(found[_LIVE_USER_ID])
    total = await db.fetchrow(OWN_PRODUCT_COUNT, {"user_id": user_id})
    return OwnPage(user_id=user_id, body=b"[]", total=int(total[_COUNT]) if total else 0)


async def get_owned_product(
    session: AsyncSession, *, user_id: str, product_id: str
) -> Product | None:
    """The product if this vendor owns it; another vendor's product is simply not found."""
    return await session.scalar(
        select(Product).where(Product.id == product_id, Product.user_id == user_id)
    )


def _set_photo(product: Product, slot: int, url: str | None) -> None:
    setattr(product, f"image_url_{slot}", url)


async def create_product(
    session: AsyncSession,
    storage: Storage,
    *,
    user_id: str,
    data: ProductCreate,
    images: Mapping[int, EncodedPhoto] = NO_PHOTOS,
) -> Product:
    """Store the photos first, so the row never points at a file that is not there."""
    new = await photos.store(session, storage, folder=photos.product_folder(user_id), images=images)
    product = Product(
        user_id=user_id,
        name=data.name,
        description=data.description or None,
        price=data.price,
        is_available=data.is_available,
        stock=data.stock,
        click_count=0,
        created_at=utcnow(),
    )
    for slot, url in new.urls.items():
        _set_photo(product, slot, url)
    session.add(product)
    await photos.commit_or_release(session, storage, new=new)
    return product


def apply_update(product: Product, data: ProductUpdate) -> None:
    """Copy the fields the client sent; an empty or null description clears it, an empty or
    null stock stops tracking it."""
    sent = data.model_fields_set
    if data.name is not None:
        product.name = data.name
    if "description" in sent:
        product.description = data.description or None
    if data.price is not None:
        product.price = data.price
    if data.is_available is not None:
        product.is_available = data.is_available
    if "stock" in sent:
        product.stock = data.stock
    product.updated_at = utcnow()


async def update_product(
    session: AsyncSession,
    storage: Storage,
    *,
    product: Product,
    data: ProductUpdate | None = None,
    images: Mapping[int, EncodedPhoto] = NO_PHOTOS,
) -> Product:
    """Apply field changes and put each new photo in its slot; replaced files are removed."""
    folder = photos.product_folder(product.user_id)
    new = await photos.store(session, storage, folder=folder, images=images)
    urls = new.urls
    if urls:
        # Locks the row (PostgreSQL) so two concurrent replacements each see the other's file.
        await session.refresh(product, with_for_update=True)
    replaced = [product.image_slots()[slot - 1] for slot in urls]
    if data is not None:
        apply_update(product, data)
    for slot, url in urls.items():
        _set_photo(product, slot, url)
    if urls:
        product.updated_at = utcnow()
    await photos.commit_or_release(session, storage, new=new)
    await photos.release(session, storage, urls=replaced)
    return product


async def remove_photo(
    session: AsyncSession, storage: Storage, *, product: Product, slot: int
) -> bool:
    """Empty one slot; False when it held no photo."""
    await session.refresh(product, with_for_update=True)
    url = product.image_slots()[slot - 1]
    if not url:
        return False
    _set_photo(product, slot, None)
    product.updated_at = utcnow()
    await session.commit()
    await photos.release(session, storage, urls=[url])
    return True


async def delete_product(session: AsyncSession, storage: Storage, *, product: Product) -> None:
    # Locked and re-read, so a photo put in a slot meanwhile is removed too.
    await session.refresh(product, with_for_update=True)
    urls = product.image_slots()
    await session.execute(delete(Product).where(Product.id == product.id))
    await session.commit()
    await photos.release(session, storage, urls=urls)


async def track_click(session: AsyncSession, *, product_id: str) -> str | None:
    """Count a shopper's click on an available product: its vendor's id, None when there is no
    such product."""
    vendor_id = await session.scalar(
        update(Product)
        .where(Product.id == product_id, Product.is_available.is_(True))
        .values(click_count=Product.click_count + 1)
        .returning(Product.user_id)
        # A tap's count is not on the store's pages: their recent reads stay.
        .execution_options(**{NOT_SHOWN: True})
    )
    await session.commit()
    return vendor_id


async def is_clickable(session: AsyncSession, *, product_id: str) -> bool:
    """Whether a click on this product would count: it exists and is available."""
    found = await session.scalar(
        select(Product.id).where(Product.id == product_id, Product.is_available.is_(True))
    )
    return found is not None
