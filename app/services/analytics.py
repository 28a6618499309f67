"""The vendor's storefront figures, read from the daily rows the analytics flusher writes."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.traffic import days_between, local_day, report_range
from app.models import AnalyticsDay, AnalyticsProductDay, AnalyticsSourceDay, Product
from app.schemas.analytics import (
    AnalyticsReport,
    DayFigures,
    Figures,
    ProductFigures,
    SourceFigures,
)

FIGURES = ("views", "visitors", "product_views", "taps", "orders")


def today_in(zone: ZoneInfo) -> date:
    return local_day(datetime.now(UTC), zone)


async def report(
    session: AsyncSession, *, vendor_id: str, zone: ZoneInfo, start: str | None, end: str | None
) -> AnalyticsReport:
    """Totals, every day of the range (zeros included), products by views, sources by views;
    ReportRangeError for dates it cannot cover."""
    first, last = report_range(start, end, today_in(zone))
    in_range = and_(AnalyticsDay.vendor_id == vendor_id, AnalyticsDay.day.between(first, last))
    stored = {row.day: row for row in (await session.scalars(select(AnalyticsDay).where(in_range)))}
    days = []
    for day in days_between(first, last):
        row = stored.get(day)
        days.append(
            DayFigures(
                date=day,
                order_total=row.order_total if row else Decimal(0),
                **{name: getattr(row, name) if row else 0 for name in FIGURES},
            )
        )
    totals = Figures(
        order_total=sum((d.order_total for d in days), Decimal(0)),
        **{name: sum(getattr(d, name) for d in days) for name in FIGURES},
    )
    return AnalyticsReport(
        start=first,
        end=last,
        timezone=zone.key,
        totals=totals,
        days=days,
        products=await _products(session, vendor_id, first, last),
        sources=await _sources(session, vendor_id, first, last),
    )


async def _products(
    session: AsyncSession, vendor_id: str, first: date, last: date
) -> list[ProductFigures]:
    """The vendor's products seen in the range (a deleted product is left out), most viewed
    first."""
    views, taps, orders = (
        func.sum(AnalyticsProductDay.views).label("views"),
        func.sum(AnalyticsProductDay.taps).label("taps"),
        func.sum(AnalyticsProductDay.orders).label("orders"),
    )
    rows = await session.execute(
        select(Product.id, Product.name, views, taps, orders)
        .join(
            Product,
            and_(
                Product.id == AnalyticsProductDay.product_id,
                Product.user_id == AnalyticsProductDay.vendor_id,
            ),
        )
        .where(
            AnalyticsProductDay.vendor_id == vendor_id,
            AnalyticsProductDay.day.between(first, last),
        )
        .group_by(Product.id, Product.name)
        .order_by(views.desc(), taps.desc(), orders.desc(), Product.name, Product.id)
    )
    return [
        ProductFigures(id=r.id, name=r.name, views=r.views, taps=r.taps, orders=r.orders)
        for r in rows
    ]


async def _sources(
    session: AsyncSession, vendor_id: str, first: date, last: date
) -> list[SourceFigures]:
    views = func.sum(AnalyticsSourceDay.views).label("views")
    visitors = func.sum(AnalyticsSourceDay.visitors).label("visitors")
    rows = await session.execute(
        select(AnalyticsSourceDay.source, views, visitors)
        .where(
            AnalyticsSourceDay.vendor_id == vendor_id,
            AnalyticsSourceDay.day.between(first, last),
        )
        .group_by(AnalyticsSourceDay.source)
        .order_by(views.desc(), AnalyticsSourceDay.source)
    )
    return [SourceFigures(source=r.source, views=r.views, visitors=r.visitors) for r in rows]


CSV_HEADER = ("date", "views", "visitors", "product_views", "taps", "orders", "order_total")


def csv_rows(result: AnalyticsReport) -> list[list[str]]:
    """The report's days as CSV cells, under CSV_HEADER."""
    return [
        [
            day.date.isoformat(),
            *(str(getattr(day, name)) for name in FIGURES),
            f"{day.order_total:.2f}",
        ]
        for day in result.days
    ]
