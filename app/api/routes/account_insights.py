"""The vendor's storefront figures as a page of the `/account/` area: a chart of the days, the
day totals, top products and sources, and a range picker (plain GET form, no script)."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse

from app.api.account_area import account_page
from app.api.authentication import PageVendor
from app.api.deps import SessionDep, SettingsDep
from app.domain.money import format_naira
from app.domain.traffic import ReportRangeError
from app.services import analytics as analytics_service
from app.web.charts import day_chart

router = APIRouter(prefix="/account", tags=["vendor area"], include_in_schema=False)

DayText = Annotated[str | None, Query(max_length=32)]
PRESETS = (7, 30, 90, 365)
TOP_PRODUCTS = 20


@router.get("/insights", response_class=HTMLResponse)
async def insights(
    request: Request,
    vendor: PageVendor,
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[str | None, Query(alias="from", max_length=32)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=32)] = None,
) -> HTMLResponse:
    """Who opened the store's link, what they looked at and where they came from."""
    zone = settings.analytics_zone
    error, status_code = None, 200
    try:
        report = await analytics_service.report(
            session, vendor_id=vendor.id, zone=zone, start=start or None, end=end or None
        )
    except ReportRangeError as exc:
        # The page still shows the last 30 days, with what was wrong above the form.
        error, status_code = str(exc), 422
        report = await analytics_service.report(
            session, vendor_id=vendor.id, zone=zone, start=None, end=None
        )
    today = analytics_service.today_in(zone)
    presets = [
        (days, (today - timedelta(days=days - 1)).isoformat(), today.isoformat())
        for days in PRESETS
    ]
    chart = day_chart(
        [day.date for day in report.days],
        [day.views for day in report.days],
        [day.visitors for day in report.days],
        unit="store views",
    )
    return account_page(
        request,
        "insights.html",
        status_code=status_code,
        active="insights",
        report=report,
        chart=chart,
        presets=presets,
        top_products=report.products[:TOP_PRODUCTS],
        order_total=format_naira(report.totals.order_total),
        naira=format_naira,
        error=error,
    )
