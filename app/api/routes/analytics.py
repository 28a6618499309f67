"""The vendor's storefront figures: views, visitors, product views, taps and orders by day."""

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError

from app.api.authentication import CurrentUser
from app.api.deps import SessionDep, SettingsDep
from app.api.responses import errors
from app.domain.traffic import ReportRangeError
from app.schemas.analytics import AnalyticsReport
from app.services import analytics as analytics_service

router = APIRouter(prefix="/api/analytics", tags=["analytics"])

From = Annotated[
    str | None,
    Query(alias="from", max_length=32, description="First day, YYYY-MM-DD (default: 29 days ago)"),
]
To = Annotated[
    str | None,
    Query(alias="to", max_length=32, description="Last day, YYYY-MM-DD (default: today)"),
]


async def _report(
    session: SessionDep,
    settings: SettingsDep,
    vendor: CurrentUser,
    start: str | None,
    end: str | None,
) -> AnalyticsReport:
    try:
        return await analytics_service.report(
            session, vendor_id=vendor.id, zone=settings.analytics_zone, start=start, end=end
        )
    except ReportRangeError as exc:
        raise RequestValidationError(
            [{"loc": ("query", exc.field), "msg": str(exc), "type": "value_error"}]
        ) from None


@router.get(
    "", response_model=AnalyticsReport, responses=errors(401, 422), response_model_by_alias=True
)
async def read_analytics(
    session: SessionDep,
    settings: SettingsDep,
    vendor: CurrentUser,
    start: From = None,
    end: To = None,
) -> AnalyticsReport:
    """The vendor's figures for a range of days (at most 366) in ANALYTICS_TIMEZONE."""
    return await _report(session, settings, vendor, start, end)


@router.get(
    "/export.csv",
    response_class=Response,
    responses={
        **errors(401, 422),
        200: {"content": {"text/csv": {}}, "description": "One line per day"},
    },
)
async def export_analytics(
    session: SessionDep,
    settings: SettingsDep,
    vendor: CurrentUser,
    start: From = None,
    end: To = None,
) -> Response:
    """The same days as CSV: date,views,visitors,product_views,taps,orders,order_total."""
    report = await _report(session, settings, vendor, start, end)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(analytics_service.CSV_HEADER)
    writer.writerows(analytics_service.csv_rows(report))
    name = f"analytics-{report.start.isoformat()}-{report.end.isoformat()}.csv"
    return Response(
        text.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
