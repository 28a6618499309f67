"""Order shapes: what a shopper sends, what they and the vendor get back."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.domain.orders import CODE_PATTERN, MAX_QUANTITY, OrderStatus
from app.domain.phones import check_whatsapp_characters
from app.schemas.common import MoneyOut, strip_text

# Repeated products are merged (their quantities added) before the line limit applies.
MAX_ITEMS_SENT = 200


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    return value


def _blank_is_none(value: Any) -> Any:
    value = strip_text(value)
    return None if value == "" else value


def _phone_characters(value: Any) -> Any:
    return check_whatsapp_characters(value) if isinstance(value, str) else value


Quantity = Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=MAX_QUANTITY)]
# Trimmed; blank is absent.
CustomerName = Annotated[
    Annotated[str, Field(max_length=100)] | None, BeforeValidator(_blank_is_none)
]
CustomerPhone = Annotated[
    Annotated[str, Field(max_length=40), BeforeValidator(_phone_characters)] | None,
    BeforeValidator(_blank_is_none),
]
Note = Annotated[Annotated[str, Field(max_length=1000)] | None, BeforeValidator(_blank_is_none)]


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    product_id: Annotated[str, Field(min_length=1, max_length=100)]
    quantity: Quantity


class OrderCreate(BaseModel):
    # Prices, names and totals sent by a client are ignored: they come from the database.
    model_config = ConfigDict(extra="ignore")

    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=MAX_ITEMS_SENT)]
    customer_name: CustomerName = None
    # As typed; the route turns it into digits as it does a vendor's WhatsApp number.
    customer_phone: CustomerPhone = None
    note: Note = None
    delivery_area: CustomerName = None


class OrderStatusChange(BaseModel):
    status: OrderStatus


class OrderLineOut(BaseModel):
    product_id: str
    name: str
    unit_price: MoneyOut
    quantity: int
    line_total: MoneyOut


class OrderPlaced(BaseModel):
    """What the shopper gets: the order, and the link that sends it to the vendor."""

    id: str
    code: str = Field(pattern=CODE_PATTERN)
    status: OrderStatus
    items: list[OrderLineOut]
    total: MoneyOut
    currency: str
    whatsapp_url: str
    created_at: datetime


class OrderOut(BaseModel):
    """What the vendor sees: the order with the customer's details."""

    id: str
    code: str
    status: OrderStatus
    items: list[OrderLineOut]
    total: MoneyOut
    currency: str
    customer_name: str | None
    customer_phone: str | None
    note: str | None
    delivery_area: str | None
    whatsapp_url: str
    created_at: datetime
    updated_at: datetime | None
