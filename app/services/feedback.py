"""Feedback reports: stored with their Slack delivery in one transaction; listed and sent again
by operators (`python -m app.feedback`)."""

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.outbox import enqueue
from app.delivery.registry import FEEDBACK_KIND
from app.delivery.slack import slack_escape
from app.models import DeliveryJob, Feedback, JobStatus
from app.models.base import new_id, utcnow
from app.schemas.feedback import FeedbackReport
from app.services.errors import ServiceError

logger = logging.getLogger("app.feedback")


class ReportNotFoundError(ServiceError):
    pass


class ReportAlreadyDeliveredError(ServiceError):
    pass


class ReportAlreadyQueuedError(ServiceError):
    pass


def _sent_at(client_timestamp: str) -> str:
    """The client's time in UTC when it reads as an ISO date with a zone; else as it came."""
    try:
        parsed = datetime.fromisoformat(client_timestamp)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return slack_escape(client_timestamp) or "(not given)"
    return f"{parsed.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def slack_text(report: Feedback) -> str:
    """The Slack message for a report; everything the user sent is escaped for Slack."""
    sender = f"vendor `{report.vendor_id}`" if report.vendor_id else "an anonymous visitor"
    return "\n".join(
        [
            f":speech_balloon: *New feedback* `{report.id}` from {sender}",
            f"*Page:* {slack_escape(report.url) or '(not given)'}",
            f"*Sent at:* {_sent_at(report.client_timestamp)} "
            f"(received {report.created_at:%Y-%m-%d %H:%M:%S} UTC)",
            "*Message:*",
            slack_escape(report.message),
        ]
    )


async def _queue_for_slack(session: AsyncSession, report: Feedback) -> None:
    report.delivery_job_id = await enqueue(
        session,
        kind=FEEDBACK_KIND,
        payload={"text": slack_text(report)},
        # Not tied to the vendor: deleting the account unlinks the report, and it still reaches
        # Slack.
        vendor_id=None,
    )
    report.attempts = 0
    report.last_error = None


async def submit_report(
    session: AsyncSession,
    *,
    data: FeedbackReport,
    vendor_id: str | None,
    request_id: str | None,
    to_slack: bool,
) -> Feedback:
    """Store a report and, with Slack configured, its delivery job: both or neither."""
    report = Feedback(
        id=new_id("feedback"),
        message=data.message,
        url=data.url,
        client_timestamp=data.timestamp,
        vendor_id=vendor_id,
        request_id=request_id,
        created_at=utcnow(),
        attempts=0,
    )
    if to_slack:
        await _queue_for_slack(session, report)
    session.add(report)
    await session.commit()
    # The id is enough to find the report; its text never goes to the logs.
    logger.info(
        "feedback %s stored%s",
        report.id,
        " and queued for Slack" if to_slack else " (Slack not configured)",
        extra={"feedback_id": report.id, "delivery_job_id": report.delivery_job_id},
    )
    return report


async def recent_reports(
    session: AsyncSession, *, limit: int, undelivered_only: bool = False
) -> Sequence[Feedback]:
    """Newest first."""
    query = select(Feedback).order_by(Feedback.created_at.desc(), Feedback.id).limit(limit)
    if undelivered_only:
        query = query.where(Feedback.delivered_at.is_(None))
    return (await session.scalars(query)).all()


async def find_report(session: AsyncSession, *, feedback_id: str) -> Feedback | None:
    return await session.get(Feedback, feedback_id)


async def resend_report(session: AsyncSession, *, feedback_id: str) -> Feedback:
    """Queue an undelivered report for Slack again (after a give-up, or one stored while Slack
    was not configured)."""
    report = await session.get(Feedback, feedback_id)
    if report is None:
        raise ReportNotFoundError
    if report.delivered_at is not None:
        raise ReportAlreadyDeliveredError
    if report.delivery_job_id is not None:
        status = await session.scalar(
            select(DeliveryJob.status).where(DeliveryJob.id == report.delivery_job_id)
        )
        if status == JobStatus.PENDING:
            raise ReportAlreadyQueuedError
    await _queue_for_slack(session, report)
    await session.commit()
    logger.info(
        "feedback %s queued for Slack again",
        report.id,
        extra={"feedback_id": report.id, "delivery_job_id": report.delivery_job_id},
    )
    return report
