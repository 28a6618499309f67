"""Product shapes: what a vendor sends and what the API answers."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.domain.products import IMAGE_SLOTS, MAX_STOCK
from app.schemas.common import MoneyIn, MoneyOut, strip_text

ProductName = Annotated[str, BeforeValidator(strip_text), Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=2000)]


def _stock_input(value: Any) -> Any:
    """A form's empty `stock=""` stops tracking, as null does in JSON; true is not a count."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number from 0 to 100000, or null")
    return None if isinstance(value, str) and not value.strip() else value


Stock = Annotated[
    Annotated[int, Field(ge=0, le=MAX_STOCK, examples=[12])] | None,
    BeforeValidator(_stock_input),
]


class ProductCreate(BaseModel):
    # Unknown fields (id, user_id, click_count, timestamps) are ignored, never applied.
    model_config = ConfigDict(extra="ignore")

    name: ProductName
    description: Description | None = None
    price: MoneyIn
    is_available: bool = True
    stock: Stock = None


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: ProductName | None = None
    description: Description | None = None
    price: MoneyIn | None = None
    is_available: bool | None = None
    # Absent: unchanged; null (or "" in a form): no longer tracked.
    stock: Stock = None


PhotoSlotNumber = Annotated[int, Field(ge=1, le=IMAGE_SLOTS)]


class PhotoSlot(BaseModel):
    """The text part of a single-photo upload: which slot the photo goes in."""

    image_slot: PhotoSlotNumber


class ProductImage(BaseModel):
    slot: int
    url: str


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str | None
    price: MoneyOut
    image_urls: list[str]
    images: list[ProductImage]
    is_available: bool
    stock: int | None = Field(description="Units in stock; null when not tracked")
    click_count: int
    user_id: str
    created_at: datetime
    updated_at: datetime | None


class StoreProduct(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    price: MoneyOut
    image_urls: list[str]
    images: list[ProductImage]
    description: str | None
    is_available: bool
    sold_out: bool = Field(description="Tracked stock has run out (the count is never shown)")


class Storefront(BaseModel):
    vendor_name: str
    store_name: str | None
    whatsapp_number: str
    banner_url: str | None
    store_slug: str
    # The store's own page, the link to share: <SHARE_BASE_URL>/s/<slug>.
    share_url: str
    products: list[StoreProduct]
