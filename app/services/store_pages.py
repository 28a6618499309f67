"""The store pages (`/s/...`): a store's page of products and one product's page, each read in one
statement together with its photos' stored sizes, and shaped for the templates.

Like the JSON storefront, these read plain rows through prebuilt statements on the hot-path reader
(`app/fastpath/reads.py`), never ORM objects, and find the store the same way (`link_params`:
slugs, old links, aliases).
"""

import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from sqlalchemy import Label, Select, String, and_, bindparam, cast, func, select
from sqlalchemy.orm import aliased

from app.domain.money import format_naira
from app.domain.products import IMAGE_SLOTS, is_sold_out
from app.fastpath.mapping import Row, label_positions
from app.fastpath.reads import ReadConnection, ReadQuery
from app.images.encode import PREVIEW_MAX_BYTES, PREVIEW_MIN_WIDTH
from app.models import Photo, Product, User
from app.services.bodies import PHOTO_COLUMNS, vendor_name
from app.services.store import link_params, vendor_matches

V = TypeVar("V")
PAGE_SIZE = 24
# Product ids are at most this long (the JSON routes' limit).
PRODUCT_ID_MAX_LENGTH = 100
# A card shows this much of a description; the product's page shows it all.
SUMMARY_CHARS = 180
# Page numbers past this are refused before any statement (no store has that many products).
MAX_PAGE = 100_000

_MATCHES, _PREFERENCE = vendor_matches()
_AVAILABLE = Product.is_available.is_(True)
_NEWEST = (Product.created_at.desc(), Product.id.desc())
_FIRST_PHOTO = func.coalesce(*PHOTO_COLUMNS)


@dataclass(frozen=True, slots=True)
class Picture:
    """One photo as an <img>: the URL to load, the widths to choose from, its proportions."""

    src: str
    srcset: str  # "" for a photo without stored widths (the earlier backend's, not backfilled)
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class Preview:
    """The link-preview image (og:image): a JPEG at least 600 px wide, under 300 KB."""

    url: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Store:
    vendor_id: str
    name: str
    slug: str
    whatsapp_number: str
    banner: Picture | None
    total: int  # available products


@dataclass(frozen=True, slots=True)
class Item:
    """A product as the pages show it."""

    id: str
    ref: str  # the id as it goes in a URL path
    name: str
    description: str
    summary: str  # the description's start, for a card
    price: str  # ₦12,500.00
    amount: str  # 12500.00: the price as the cart script adds it up
    available: bool  # on show (a product taken off show still has its page)
    sold_out: bool  # tracked stock at 0
    pictures: list[Picture]

    @property
    def orderable(self) -> bool:
        return self.available and not self.sold_out


@dataclass(frozen=True, slots=True)
class StoreView:
    store: Store
    items: list[Item]
    page: int
    pages: int
    preview: Preview | None  # None: the service's default image


@dataclass(frozen=True, slots=True)
class ProductView:
    store: Store
    item: Item
    preview: Preview | None


@dataclass(frozen=True, slots=True)
class OrderLink:
    """What the order link needs: whom to message and what about."""

    whatsapp_number: str
    slug: str
    product_name: str
    price: str
    available: bool  # on show and not sold out


# ---- statements -----------------------------------------------------------------------------

_PHOTO_FIELDS = ("url", "width", "height", "variants")
_PREVIEW_FIELDS = ("preview_url", "preview_width", "preview_height", "preview_bytes")


def _photo(alias: Any, prefix: str, fields: Sequence[str]) -> list[Label[Any]]:
    # The widths as JSON text on both databases (SQLite's driver would decode them to a list),
    # so every value of a row is hashable and the row can be a rendered page's key.
    return [
        (cast(alias.variants, String) if name == "variants" else getattr(alias, name)).label(
            prefix + name
        )
        for name in fields
    ]


def _vendor(*extra: Label[Any]) -> Any:
    """The vendor behind the link (an old link first, as the JSON storefront prefers it)."""
    return (
        select(
            User.id.label("vendor_id"),
            User.store_name,
            User.email,
            User.whatsapp_number,
            User.banner_url,
            User.store_slug,
            *extra,
        )
        .where(_MATCHES)
        .order_by(_PREFERENCE)
        .limit(1)
        .subquery("vendor")
    )


def _product_columns(*names: str) -> list[Label[Any]]:
    return [getattr(Product, name).label("p_" + name) for name in names]


_COUNT = (
    select(func.count()).where(Product.user_id == User.id, _AVAILABLE).correlate(User)
).scalar_subquery()
# The newest product's first photo: the store's preview when its banner has none.
_LEAD_URL = (
    select(_FIRST_PHOTO)
    .where(Product.user_id == User.id, _AVAILABLE)
    .order_by(*_NEWEST)
    .limit(1)
    .correlate(User)
).scalar_subquery()

_STORE_VENDOR = _vendor(_COUNT.label("total"), _LEAD_URL.label("lead_url"))
_BANNER = aliased(Photo, name="banner_photo")
_LEAD = aliased(Photo, name="lead_photo")
_CARD = aliased(Photo, name="card_photo")
# The vendor, their banner's and lead photo's sizes, joined to one page of their available
# products with each one's first photo's sizes: the whole store page in one statement. The outer
# join yields the vendor alone when they list nothing; a page past the end yields no row.
STORE_PAGE: ReadQuery = ReadQuery(
    select(
        *_STORE_VENDOR.c,
        *_photo(_BANNER, "b_", _PHOTO_FIELDS + _PREVIEW_FIELDS),
        *_photo(_LEAD, "l_", _PREVIEW_FIELDS),
        *_product_columns("id", "name", "description", "price", "stock"),
        *[column.label(f"p_image_url_{n}") for n, column in enumerate(PHOTO_COLUMNS, 1)],
        *_photo(_CARD, "c_", _PHOTO_FIELDS),
    )
    .select_from(
        _STORE_VENDOR.outerjoin(_BANNER, _BANNER.url == _STORE_VENDOR.c.banner_url)
        .outerjoin(_LEAD, _LEAD.url == _STORE_VENDOR.c.lead_url)
        .outerjoin(Product, and_(Product.user_id == _STORE_VENDOR.c.vendor_id, _AVAILABLE))
        .outerjoin(_CARD, _CARD.url == _FIRST_PHOTO)
    )
    .order_by(*_NEWEST)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)

_PRODUCT_VENDOR = _vendor()
_SLOTS = [aliased(Photo, name=f"photo_{n}") for n in range(1, IMAGE_SLOTS + 1)]


def _product_page() -> Select[Any]:
    joined = _PRODUCT_VENDOR.join(
        Product,
        and_(
            Product.user_id == _PRODUCT_VENDOR.c.vendor_id,
            Product.id == bindparam("product_id"),
        ),
    ).outerjoin(_BANNER, _BANNER.url == _PRODUCT_VENDOR.c.banner_url)
    for column, alias in zip(PHOTO_COLUMNS, _SLOTS, strict=True):
        joined = joined.outerjoin(alias, alias.url == column)
    return select(
        *_PRODUCT_VENDOR.c,
        *_photo(_BANNER, "b_", _PHOTO_FIELDS + _PREVIEW_FIELDS),
        *_product_columns("id", "name", "description", "price", "is_available", "stock"),
        *[column.label(f"p_image_url_{n}") for n, column in enumerate(PHOTO_COLUMNS, 1)],
        *[
            label
            for n, alias in enumerate(_SLOTS, 1)
            for label in _photo(alias, f"s{n}_", _PHOTO_FIELDS + _PREVIEW_FIELDS)
        ],
    ).select_from(joined)


# One product of the store, available or not (a sold-out product still has its page), with the
# sizes of each of its photos and of the banner.
PRODUCT_PAGE = ReadQuery(_product_page())
ORDER_LINK = ReadQuery(
    select(
        _PRODUCT_VENDOR.c.whatsapp_number,
        _PRODUCT_VENDOR.c.store_slug,
        *_product_columns("name", "price", "is_available", "stock"),
    ).select_from(
        _PRODUCT_VENDOR.join(
            Product,
            and_(
                Product.user_id == _PRODUCT_VENDOR.c.vendor_id,
                Product.id == bindparam("product_id"),
            ),
        )
    )
)


# ---- rows to views --------------------------------------------------------------------------


class _Reader:
    """A row read by its statement's labels (positions looked up once)."""

    def __init__(self, statement: Select[Any]) -> None:
        self.at = label_positions(statement)

    def photo(self, row: Row, prefix: str, original: str | None) -> Picture | None:
        if not original:
            return None
        if row[self.at[prefix + "url"]] is None:
            # No stored sizes (the earlier backend's URL, or not backfilled yet): the original.
            return Picture(original, "", None, None)
        variants = row[self.at[prefix + "variants"]]
        decoded: list[dict[str, Any]] = json.loads(variants)
        width = row[self.at[prefix + "width"]]
        height = row[self.at[prefix + "height"]]
        widths = {item["width"]: item["url"] for item in decoded}
        widths.setdefault(width, original)
        srcset = ", ".join(f"{url} {w}w" for w, url in sorted(widths.items()))
        # The middle width loads where srcset is not understood.
        src = next((url for w, url in sorted(widths.items()) if w >= 640), original)
        return Picture(src, srcset, width, height)

    def preview(self, row: Row, prefix: str) -> Preview | None:
        url = row[self.at[prefix + "preview_url"]]
        width = row[self.at[prefix + "preview_width"]]
        size = row[self.at[prefix + "preview_bytes"]]
        if not url or width is None or width < PREVIEW_MIN_WIDTH:
            return None
        if size is None or size >= PREVIEW_MAX_BYTES:
            return None
        return Preview(url, width, row[self.at[prefix + "preview_height"]])

    def store(self, row: Row, total: int) -> Store:
        at = self.at
        banner_url = row[at["banner_url"]]
        return Store(
            vendor_id=row[at["vendor_id"]],
            name=vendor_name(row[at["store_name"]], row[at["email"]]),
            slug=row[at["store_slug"]],
            whatsapp_number=row[at["whatsapp_number"]],
            banner=self.photo(row, "b_", banner_url),
            total=total,
        )

    def urls(self, row: Row) -> list[str | None]:
        return [row[self.at[f"p_image_url_{n}"]] for n in range(1, IMAGE_SLOTS + 1)]


_STORE_ROWS = _Reader(STORE_PAGE.statement)
_PRODUCT_ROWS = _Reader(PRODUCT_PAGE.statement)


def pages_for(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


@dataclass(frozen=True, slots=True)
class Fetched(Generic[V]):
    """A page's rows as read. Equal keys mean equal rows, hence the same page: one rendered
    from them may be served again. `page_id` names the page whatever its rows (a store's page
    N, a product's page). `view()` shapes them for the template."""

    page_id: Hashable
    key: Hashable
    vendor_id: str
    total: int  # the store's available products (0 on a product's page: not read)
    view: Callable[[], V]


async def fetch_store(
    db: ReadConnection, *, identifier: str, page: int
) -> Fetched[StoreView] | None:
    """A store's page of available products, newest first; None for no such store or a page
    past its end. One statement."""
    if not identifier.strip() or not 1 <= page <= MAX_PAGE:
        return None
    params = {**link_params(identifier), "limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
    rows = await db.fetch(STORE_PAGE, params)
    if not rows:
        return None
    at = _STORE_ROWS.at
    vendor_id = rows[0][at["vendor_id"]]
    return Fetched(
        page_id=("store", vendor_id, page),
        key=tuple(rows),
        vendor_id=vendor_id,
        total=int(rows[0][at["total"]]),
        view=partial(_store_view, rows, page),
    )


def _store_view(rows: list[Row], page: int) -> StoreView:
    read = _STORE_ROWS
    at = read.at
    first = rows[0]
    total = int(first[at["total"]])
    items = []
    for row in rows:
        if row[at["p_id"]] is None:
            continue  # the vendor without products
        card = read.photo(row, "c_", next((url for url in read.urls(row) if url), None))
        items.append(_item(row, at, available=True, pictures=[card] if card else []))
    preview = read.preview(first, "b_") or read.preview(first, "l_")
    return StoreView(read.store(first, total), items, page, pages_for(total), preview)


async def fetch_product(
    db: ReadConnection, *, identifier: str, product_id: str
) -> Fetched[ProductView] | None:
    """One product of the store behind `identifier`, sold out or not, with all its photos; None
    when the store has no such product. One statement."""
    params = _product_params(identifier, product_id)
    row = None if params is None else await db.fetchrow(PRODUCT_PAGE, params)
    if row is None:
        return None
    at = _PRODUCT_ROWS.at
    return Fetched(
        page_id=("product", row[at["p_id"]]),
        key=(row,),
        vendor_id=row[at["vendor_id"]],
        total=0,
        view=partial(_product_view, row),
    )


def _product_view(row: Row) -> ProductView:
    read = _PRODUCT_ROWS
    at = read.at
    pictures = []
    previews = []
    for slot, url in enumerate(read.urls(row), start=1):
        picture = read.photo(row, f"s{slot}_", url)
        if picture is not None:
            pictures.append(picture)
            previews.append(read.preview(row, f"s{slot}_"))
    item = _item(row, at, available=bool(row[at["p_is_available"]]), pictures=pictures)
    # The product's photos in order, then the store's banner.
    preview = next((p for p in previews if p), None) or read.preview(row, "b_")
    return ProductView(read.store(row, 0), item, preview)


async def order_link(db: ReadConnection, *, identifier: str, product_id: str) -> OrderLink | None:
    """Whom to message about a product of this store, and what; None when there is no such
    product in it. One statement."""
    params = _product_params(identifier, product_id)
    row = None if params is None else await db.fetchrow(ORDER_LINK, params)
    if row is None:
        return None
    return OrderLink(
        whatsapp_number=row[0],
        slug=row[1],
        product_name=row[2],
        price=format_naira(row[3]),
        available=bool(row[4]) and not is_sold_out(row[5]),
    )


def _product_params(identifier: str, product_id: str) -> dict[str, str] | None:
    """The statement's parameters; None for what names no product (and reaches no statement)."""
    if not identifier.strip() or len(product_id) > PRODUCT_ID_MAX_LENGTH:
        return None
    return {**link_params(identifier), "product_id": product_id}


def order_message(link: OrderLink, page_url: str) -> str:
    """The message the shopper's WhatsApp opens with: the product, its price, its page."""
    return f"Hello! I would like to order {link.product_name} ({link.price}): {page_url}"


def summary(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The start of a text, cut at a word, on one line."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def product_path(slug: str, product_id: str) -> str:
    return f"/s/{slug}/p/{quote(product_id, safe='')}"


def _item(row: Row, at: dict[str, int], *, available: bool, pictures: list[Picture]) -> Item:
    price: Decimal = row[at["p_price"]]
    product_id: str = row[at["p_id"]]
    description: str = row[at["p_description"]] or ""
    return Item(
        id=product_id,
        ref=quote(product_id, safe=""),
        name=row[at["p_name"]],
        description=description,
        summary=summary(description),
        price=format_naira(price),
        amount=f"{price:.2f}",
        available=available,
        sold_out=is_sold_out(row[at["p_stock"]]),
        pictures=pictures,
    )
