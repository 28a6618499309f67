"""A shopper's order and its lines, kept as they were when it was placed."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.orders import CURRENCY, OrderStatus
from app.models.base import Base, TimestampMixin, new_id
from app.models.types import Money, UTCDateTime

_STATUSES = ", ".join(f"'{status}'" for status in OrderStatus)


class Order(TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("user_id", "code", name="uq_orders_user_id_code"),
        # At most one order per key and store: two requests racing with one key make one order.
        UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_id_idempotency_key"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        CheckConstraint("total > 0", name="total_positive"),
        # The vendor's list (newest first) and the user_id foreign key.
        Index("ix_orders_user_id_created_at", "user_id", "created_at"),
        # The expiry of orders left new.
        Index("ix_orders_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True, default=lambda: new_id("order"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.NEW)
    total: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    # Personal data: shown only to the vendor, gone with the vendor's account, never logged.
    customer_name: Mapped[str | None] = mapped_column(String(100))
    customer_phone: Mapped[str | None] = mapped_column(String(15))
    note: Mapped[str | None] = mapped_column(Text)
    delivery_area: Mapped[str | None] = mapped_column(String(100))
    whatsapp_url: Mapped[str] = mapped_column(Text)
    # The client's Idempotency-Key and a hash of the body it came with; the key is released
    # (set to null) once its window has passed and the same key comes again.
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list["OrderLine"]] = relationship(
        order_by="OrderLine.position", lazy="raise", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price > 0", name="unit_price_positive"),
    )

    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # No foreign key: the line keeps the product's id, name and price after it is edited or gone.
    product_id: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    unit_price: Mapped[Decimal] = mapped_column(Money())
    quantity: Mapped[int] = mapped_column()
    line_total: Mapped[Decimal] = mapped_column(Money())
    # Whether confirming took this line's quantity from the product's tracked stock, so a
    # cancellation gives back exactly what was taken.
    stock_taken: Mapped[bool] = mapped_column(default=False)
