"""The outbox: one row per message to deliver (a Slack post, an email), written in the same
transaction as the change that caused it, and delivered by the worker in `app/delivery/`."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.types import UTCDateTime

LAST_ERROR_MAX_CHARS = 200


class JobStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    # Attempts spent, or refused for good (a 4xx from Slack): logged and reported to Sentry.
    FAILED = "failed"
    # Its expires_at passed before it could be sent (a password-reset link nobody can use).
    EXPIRED = "expired"


class DeliveryJob(Base):
    __tablename__ = "delivery_jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'expired')", name="status_known"
        ),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        # The worker's claim: pending jobs in the order they fall due.
        Index("ix_delivery_jobs_status_run_after", "status", "run_after"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    # Names the deliverer (app/delivery/registry.py): "feedback", "email".
    kind: Mapped[str] = mapped_column(String(50))
    # What the deliverer needs; cleared (NULL) once the job is finished, so a token in an email
    # lives only until the mail is sent.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(
        String(20), default=JobStatus.PENDING, server_default=JobStatus.PENDING.value
    )
    # A vendor's queued messages go with their account.
    vendor_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The request that queued it: the worker's log lines and Sentry events carry it.
    request_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Not tried before this time (backoff, Retry-After).
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The lease: while it runs, `locked_by` (one claim of one worker) owns the job; a worker that
    # died leaves it to expire, and the job is claimable again.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why the last try failed ("HTTP 503", "ConnectError"): never message text.
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_MAX_CHARS))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeliveryTracked:
    """Columns of a record whose delivery the worker reports back (a feedback report keeps its
    delivery state after its job is purged)."""

    delivery_job_id: Mapped[str | None] = mapped_column(
        ForeignKey("delivery_jobs.id", ondelete="SET NULL"), index=True
    )
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_MAX_CHARS))
