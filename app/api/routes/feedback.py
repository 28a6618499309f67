"""The frontend's feedback button: reports stored, then delivered to Slack in the background."""

import hmac

from fastapi import APIRouter, Depends, Request

from app.api.authentication import cookie_vendor_id, unauthorized
from app.api.deps import SessionDep, SettingsDep
from app.api.limits import limit_feedback
from app.api.responses import errors
from app.observability.context import current_request_id
from app.schemas.feedback import FeedbackAccepted, FeedbackHealth, FeedbackReport
from app.services import feedback as feedback_service

router = APIRouter(prefix="/api/feedback", tags=["feedback"])

BAD_FEEDBACK_KEY = "Invalid or missing feedback key"


async def require_feedback_key(request: Request, settings: SettingsDep) -> None:
    """With FEEDBACK_SECRET_KEY set, only callers sending it as a Bearer token may report."""
    if settings.FEEDBACK_SECRET_KEY is None:
        return
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    expected = settings.FEEDBACK_SECRET_KEY.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), expected):
        raise unauthorized(BAD_FEEDBACK_KEY)


@router.post(
    "/report",
    response_model=FeedbackAccepted,
    responses=errors(400, 401, 413, 422, 429),
    # The limit first: it also counts attempts at guessing the key.
    dependencies=[Depends(limit_feedback), Depends(require_feedback_key)],
)
async def report(
    data: FeedbackReport, request: Request, session: SessionDep, settings: SettingsDep
) -> FeedbackAccepted:
    """Store a feedback report (linked to the vendor of a live session cookie) for the team."""
    vendor_id = await cookie_vendor_id(request, session, settings)
    await feedback_service.submit_report(
        session,
        data=data,
        vendor_id=vendor_id,
        request_id=current_request_id(),
        to_slack=settings.slack_configured,
    )
    return FeedbackAccepted()


@router.get("/health", response_model=FeedbackHealth)
async def feedback_health(settings: SettingsDep) -> FeedbackHealth:
    """Whether reports are forwarded to Slack (nothing secret)."""
    return FeedbackHealth(slack_configured=settings.slack_configured)
