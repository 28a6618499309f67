"""The JSON shapes of a product, a store and an order, each field's source written once.

The vendor's own product (`ProductOut`) and the storefront's (`StoreProduct`) share the product's
fields; the fast path and the ORM path both build their bodies through these mappers.
"""

from typing import Any

from app.domain.money import money_to_json
from app.domain.products import IMAGE_SLOTS, is_sold_out
from app.fastpath.mapping import GIVEN, BodyMapper, Column, Source, column, columns
from app.models import Order, OrderLine, Product, User
from app.schemas.order import OrderLineOut, OrderOut, OrderPlaced
from app.schemas.product import ProductOut, Storefront, StoreProduct

PHOTO_COLUMNS: tuple[Column, ...] = tuple(
    getattr(Product, f"image_url_{slot}") for slot in range(1, IMAGE_SLOTS + 1)
)


def photo_urls(*urls: str | None) -> list[str]:
    """The photos in slot order, empty slots left out."""
    return [url for url in urls if url]


def photo_slots(*urls: str | None) -> list[dict[str, int | str]]:
    """Each photo with its slot number, empty slots left out."""
    return [{"slot": slot, "url": url} for slot, url in enumerate(urls, start=1) if url]


def share_url(share_base: str, slug: str) -> str:
    """The link a vendor shares: their store's page on this service."""
    return f"{share_base}/s/{slug}"


def vendor_name(store_name: str | None, email: str) -> str:
    """The store name, else the email's local part as the earlier backend showed it."""
    if store_name:
        return store_name
    local = email.split("@", 1)[0]
    return " ".join(local.replace(".", " ").replace("_", " ").replace("-", " ").split()).title()


PRODUCT_FIELDS: dict[str, Source] = {
    "id": column(Product.id),
    "name": column(Product.name),
    "description": column(Product.description),
    "price": column(Product.price, money_to_json),
    "image_urls": columns(*PHOTO_COLUMNS, build=photo_urls),
    "images": columns(*PHOTO_COLUMNS, build=photo_slots),
    "is_available": column(Product.is_available, bool),
    "stock": column(Product.stock),
    "sold_out": column(Product.stock, is_sold_out),
    "click_count": column(Product.click_count),
    "user_id": column(Product.user_id),
    "created_at": column(Product.created_at),
    "updated_at": column(Product.updated_at),
}
PRODUCT = BodyMapper(ProductOut, **{name: PRODUCT_FIELDS[name] for name in ProductOut.model_fields})
STORE_PRODUCT = BodyMapper(
    StoreProduct, **{name: PRODUCT_FIELDS[name] for name in StoreProduct.model_fields}
)
STOREFRONT = BodyMapper(
    Storefront,
    vendor_name=columns(User.store_name, User.email, build=vendor_name),
    store_name=column(User.store_name),
    whatsapp_number=column(User.whatsapp_number),
    banner_url=column(User.banner_url),
    store_slug=column(User.store_slug),
    share_url=GIVEN,
    products=GIVEN,
)

ORDER_LINE = BodyMapper(
    OrderLineOut,
    product_id=column(OrderLine.product_id),
    name=column(OrderLine.name),
    unit_price=column(OrderLine.unit_price, money_to_json),
    quantity=column(OrderLine.quantity),
    line_total=column(OrderLine.line_total, money_to_json),
)
ORDER_FIELDS: dict[str, Source] = {
    "id": column(Order.id),
    "code": column(Order.code),
    "status": column(Order.status),
    "items": GIVEN,
    "total": column(Order.total, money_to_json),
    "currency": column(Order.currency),
    "customer_name": column(Order.customer_name),
    "customer_phone": column(Order.customer_phone),
    "note": column(Order.note),
    "delivery_area": column(Order.delivery_area),
    "whatsapp_url": column(Order.whatsapp_url),
    "created_at": column(Order.created_at),
    "updated_at": column(Order.updated_at),
}
ORDER = BodyMapper(OrderOut, **{name: ORDER_FIELDS[name] for name in OrderOut.model_fields})
PLACED_ORDER = BodyMapper(
    OrderPlaced, **{name: ORDER_FIELDS[name] for name in OrderPlaced.model_fields}
)


def order_body(order: Order, mapper: BodyMapper = ORDER) -> dict[str, Any]:
    """An order (its lines loaded) as the vendor (ORDER) or the shopper (PLACED_ORDER) sees it."""
    items = [ORDER_LINE.body_of(line) for line in order.lines]
    return mapper.body_of(order, {"items": items})
