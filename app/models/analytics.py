"""Storefront analytics: a vendor's daily counts (kept as their history, removed with the
account) and the short-lived daily key and visitor marks that count unique visitors.

No address or user agent is stored anywhere: a visitor is a keyed hash whose key changes every
day and is deleted, with the day's marks, once the day is over.
"""

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.types import Money

_ZERO = text("0")


def _count() -> Mapped[int]:
    return mapped_column(Integer, default=0, server_default=_ZERO)


class AnalyticsDay(Base):
    """One vendor's storefront on one day (in ANALYTICS_TIMEZONE)."""

    __tablename__ = "analytics_days"

    vendor_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    views: Mapped[int] = _count()
    visitors: Mapped[int] = _count()
    product_views: Mapped[int] = _count()
    taps: Mapped[int] = _count()
    orders: Mapped[int] = _count()
    order_total: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default=_ZERO)


class AnalyticsProductDay(Base):
    """One product on one day. No foreign key to the product: its history outlives it."""

    __tablename__ = "analytics_product_days"

    vendor_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[str] = mapped_column(String, primary_key=True)
    views: Mapped[int] = _count()
    taps: Mapped[int] = _count()
    orders: Mapped[int] = _count()


class AnalyticsSourceDay(Base):
    """Views and visitors from one source (`?ref=`, the Referer's site, or direct) on one day."""

    __tablename__ = "analytics_source_days"

    vendor_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    views: Mapped[int] = _count()
    visitors: Mapped[int] = _count()


class AnalyticsDayKey(Base):
    """The day's random key for visitor hashes (shared by every worker); deleted after the day."""

    __tablename__ = "analytics_day_keys"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))


class AnalyticsVisitor(Base):
    """A visitor (or a visitor from one source) already counted on `day`: a keyed hash only."""

    __tablename__ = "analytics_visitors"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    mark: Mapped[str] = mapped_column(String(32), primary_key=True)
