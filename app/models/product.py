"""A product a vendor lists in their store."""

from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.products import IMAGE_SLOTS, MAX_STOCK
from app.models.base import Base, TimestampMixin, new_id
from app.models.types import Money


class Product(TimestampMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("click_count >= 0", name="click_count_non_negative"),
        CheckConstraint(f"stock >= 0 AND stock <= {MAX_STOCK}", name="stock_range"),
        # Indexes user_id for the foreign key, and serves the owner's list and the storefront
        # (newest first) from the same index.
        Index("ix_products_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True, default=lambda: new_id("product"))
    name: Mapped[str] = mapped_column(String)
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Money())
    image_url_1: Mapped[str | None] = mapped_column(String)
    image_url_2: Mapped[str | None] = mapped_column(String)
    image_url_3: Mapped[str | None] = mapped_column(String)
    image_url_4: Mapped[str | None] = mapped_column(String)
    image_url_5: Mapped[str | None] = mapped_column(String)
    is_available: Mapped[bool] = mapped_column(default=True, server_default=true())
    click_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Units in stock; null when the vendor does not track it. Orders take from it when confirmed.
    stock: Mapped[int | None] = mapped_column()

    def image_slots(self) -> list[str | None]:
        return [getattr(self, f"image_url_{slot}") for slot in range(1, IMAGE_SLOTS + 1)]
