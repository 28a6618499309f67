"""The outbox table's operations: queue a job in the caller's transaction, claim due jobs under a
lease, record the outcome of a try, purge finished jobs.

The claim is one statement on both databases: a CTE picks the due jobs (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so claimers running at once skip each other's rows instead of queueing
on them; SQLite has one writer at a time and renders no locking clause) and the UPDATE sets the
lease, re-checking that each job is still pending and free. The claim commits at once: no
transaction stays open while a message is sent. Every later write names the claim, so a worker
whose lease ran out can no longer record anything for a job another worker now owns.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from app.models import DeliveryJob, JobStatus
from app.models.base import new_id, utcnow
from app.models.delivery import LAST_ERROR_MAX_CHARS, DeliveryTracked
from app.observability.context import current_request_id

# A session's `info` key: called after the session commits a job (the in-process worker's wake).
WAKE_WORKER = "delivery.wake_worker"
_WAKE_PENDING = "delivery.wake_pending"

_jobs = cast(Table, DeliveryJob.__table__)


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: str
    kind: str
    payload: dict[str, Any] | None
    # Tries so far, this one included.
    attempts: int
    expires_at: datetime | None
    request_id: str | None
    # The claim that owns the lease; the outcome is recorded only under it.
    claim: str


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    payload: dict[str, Any],
    vendor_id: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Add one job to the caller's session (committed with the caller's own rows); its id."""
    job_id = new_id("job")
    session.add(
        DeliveryJob(
            id=job_id,
            kind=kind,
            payload=payload,
            status=JobStatus.PENDING,
            vendor_id=vendor_id,
            request_id=current_request_id(),
            attempts=0,
            run_after=utcnow(),
            expires_at=expires_at,
        )
    )
    _wake_after_commit(session)
    return job_id


def wake_on_commit(wake: Callable[[], None]) -> dict[str, Any]:
    """Session `info` that wakes a worker of this process when a job is committed, so a message
    leaves at once instead of at the worker's next poll."""
    return {WAKE_WORKER: wake}


def _wake_after_commit(session: AsyncSession) -> None:
    wake = session.info.get(WAKE_WORKER)
    if wake is None or session.info.get(_WAKE_PENDING):
        return
    session.info[_WAKE_PENDING] = True

    def committed(sync_session: Session) -> None:
        sync_session.info.pop(_WAKE_PENDING, None)
        wake()

    event.listen(session.sync_session, "after_commit", committed, once=True)


async def claim_due(
    engine: AsyncEngine, *, kinds: Sequence[str], limit: int, lease: float, claim: str
) -> list[ClaimedJob]:
    """Lease up to `limit` due jobs of these kinds to `claim`, counting the try they start."""
    if not kinds:
        return []
    now = utcnow()
    free = or_(_jobs.c.locked_until.is_(None), _jobs.c.locked_until <= now)
    due = (
        select(_jobs.c.id)
        .where(
            _jobs.c.status == JobStatus.PENDING,
            _jobs.c.kind.in_(kinds),
            _jobs.c.run_after <= now,
            free,
        )
        .order_by(_jobs.c.run_after)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(_jobs)
        .where(_jobs.c.id == due.c.id, _jobs.c.status == JobStatus.PENDING, free)
        .values(
            locked_until=now + timedelta(seconds=lease),
            locked_by=claim,
            attempts=_jobs.c.attempts + 1,
        )
        .returning(
            _jobs.c.id,
            _jobs.c.kind,
            _jobs.c.payload,
            _jobs.c.attempts,
            _jobs.c.expires_at,
            _jobs.c.request_id,
        )
    )
    async with engine.begin() as connection:
        rows = (await connection.execute(statement)).all()
    return [
        ClaimedJob(
            id=row.id,
            kind=row.kind,
            payload=row.payload,
            attempts=row.attempts,
            expires_at=row.expires_at,
            request_id=row.request_id,
            claim=claim,
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one try changed: the job's columns, and those of the record tracking it."""

    job: Mapping[str, Any]
    tracked: Mapping[str, Any]


def delivered(job: ClaimedJob) -> Outcome:
    now = utcnow()
    return Outcome(
        job={
            "status": JobStatus.DELIVERED,
            "payload": None,
            "finished_at": now,
            "last_error": None,
            "locked_until": None,
            "locked_by": None,
        },
        tracked={"delivered_at": now, "attempts": job.attempts, "last_error": None},
    )


def _short(reason: str) -> str:
    """A deliverer's reason as the last_error columns hold it (a long one must not fail the write
    that records the outcome)."""
    return reason[:LAST_ERROR_MAX_CHARS]


def retry_at(job: ClaimedJob, *, run_after: datetime, reason: str) -> Outcome:
    reason = _short(reason)
    return Outcome(
        job={"run_after": run_after, "last_error": reason, "locked_until": None, "locked_by": None},
        tracked={"attempts": job.attempts, "last_error": reason},
    )


def finished_unsent(job: ClaimedJob, *, status: JobStatus, reason: str) -> Outcome:
    """Given up or expired: the payload goes (a token in it must not outlive its use)."""
    reason = _short(reason)
    return Outcome(
        job={
            "status": status,
            "payload": None,
            "finished_at": utcnow(),
            "last_error": reason,
            "locked_until": None,
            "locked_by": None,
        },
        tracked={"attempts": job.attempts, "last_error": reason},
    )


async def record(
    engine: AsyncEngine,
    job: ClaimedJob,
    outcome: Outcome,
    *,
    tracked: type[DeliveryTracked] | None = None,
) -> bool:
    """Write a try's outcome (and the tracking record's) in one transaction; False when the claim
    no longer owns the job (its lease ran out and another worker took it)."""
    async with engine.begin() as connection:
        result = await connection.execute(
            update(_jobs)
            .where(
                _jobs.c.id == job.id,
                _jobs.c.locked_by == job.claim,
                _jobs.c.status == JobStatus.PENDING,
            )
            .values(**outcome.job)
        )
        if result.rowcount != 1:
            return False
        if tracked is not None:
            await connection.execute(
                update(tracked).where(tracked.delivery_job_id == job.id).values(**outcome.tracked)
            )
    return True


async def purge_finished(engine: AsyncEngine, *, before: datetime) -> int:
    """Delete jobs that were delivered, given up or expired before `before`."""
    async with engine.begin() as connection:
        result = await connection.execute(
            delete(DeliveryJob).where(
                DeliveryJob.status != JobStatus.PENDING, DeliveryJob.finished_at < before
            )
        )
    return int(result.rowcount)
