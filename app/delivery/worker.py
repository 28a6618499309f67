"""The delivery worker: claims due jobs, hands each to its deliverer, records what happened.

Delivery is at least once: a job is marked delivered only after its deliverer returned, so a
worker that dies between the two leaves the job to be sent again once its lease runs out. Short
of that, each job is sent once: a lease outlasts a try (twice its timeout at least), and an
outcome is recorded only under the claim that owns the job.
"""

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine

from app.delivery.errors import DeliveryFailed, RetryLater
from app.delivery.outbox import (
    ClaimedJob,
    Outcome,
    claim_due,
    delivered,
    finished_unsent,
    purge_finished,
    record,
    retry_at,
)
from app.delivery.registry import TRACKED, Deliverer
from app.models import JobStatus
from app.models.base import utcnow
from app.models.delivery import DeliveryTracked
from app.observability.sentry import background_context
from app.settings import Settings

logger = logging.getLogger("app.delivery")

# A Retry-After longer than this is taken as this: a confused server must not park a message
# for days.
MAX_RETRY_AFTER_SECONDS = 3600.0
# Writing an outcome is retried this many times (the database may blink) before the job is left
# to its lease.
RECORD_TRIES = 3


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int
    timeout: float
    backoff_base: float
    backoff_max: float
    poll_interval: float
    lease: float
    batch_size: int
    retention: timedelta
    purge_interval: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            max_attempts=settings.DELIVERY_MAX_ATTEMPTS,
            timeout=settings.DELIVERY_TIMEOUT_SECONDS,
            backoff_base=settings.DELIVERY_BACKOFF_BASE_SECONDS,
            backoff_max=settings.DELIVERY_BACKOFF_MAX_SECONDS,
            poll_interval=settings.DELIVERY_POLL_INTERVAL_SECONDS,
            lease=settings.DELIVERY_LEASE_SECONDS,
            batch_size=settings.DELIVERY_BATCH_SIZE,
            retention=timedelta(days=settings.DELIVERY_RETENTION_DAYS),
            purge_interval=settings.MAINTENANCE_INTERVAL_SECONDS,
        )

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after `attempts` failed tries: doubling from the base up to the cap,
        the upper half drawn at random so jobs that failed together do not return together."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** min(attempts - 1, 60))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not security


class DeliveryWorker:
    """Runs as a task of the web process (app/main.py's lifespan) or of `python -m app.worker`;
    any number of them, in any number of processes and instances, share one outbox."""

    def __init__(
        self,
        engine: AsyncEngine,
        deliverers: Mapping[str, Deliverer],
        policy: DeliveryPolicy,
        *,
        tracked: Mapping[str, type[DeliveryTracked]] = TRACKED,
    ) -> None:
        self._engine = engine
        self._deliverers = dict(deliverers)
        self._policy = policy
        self._tracked = tracked
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._next_purge = 0.0

    @property
    def kinds(self) -> list[str]:
        return sorted(self._deliverers)

    def wake(self) -> None:
        """Look for due jobs now (a job was just committed by this process)."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name="delivery-worker")

    async def stop(self) -> None:
        """Let the tries under way finish (each is bounded by the timeout), then stop. A try still
        running after that is cancelled; its job is tried again once its lease runs out."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), self._policy.timeout + 5)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._purge_when_due()
                claimed = await self.run_once()
            except Exception as exc:  # the database may be away: try again after a pause
                logger.warning("delivery worker: %s; trying again shortly", type(exc).__name__)
                claimed = 0
            if claimed < self._policy.batch_size and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._policy.poll_interval)

    async def run_once(self) -> int:
        """Claim one batch of due jobs and try each; how many were claimed."""
        jobs = await claim_due(
            self._engine,
            kinds=self.kinds,
            limit=self._policy.batch_size,
            lease=self._policy.lease,
            claim=f"{self.name}:{uuid.uuid4().hex[:12]}",
        )
        if jobs:
            await asyncio.gather(*(self._try(job) for job in jobs))
        return len(jobs)

    async def _try(self, job: ClaimedJob) -> None:
        with background_context(job.request_id):
            if job.expires_at is not None and job.expires_at <= utcnow():
                outcome = finished_unsent(job, status=JobStatus.EXPIRED, reason="expired unsent")
                if await self._record(job, outcome):
                    logger.info(
                        "delivery job %s (%s) expired before it could be sent; dropped",
                        job.id,
                        job.kind,
                        extra=_fields(job),
                    )
                return
            try:
                async with asyncio.timeout(self._policy.timeout):
                    await self._deliverers[job.kind].deliver(job.payload or {})
            except RetryLater as exc:
                await self._failed_try(job, exc.reason, exc.after_seconds)
            except DeliveryFailed as exc:
                await self._give_up(job, exc.reason)
            except TimeoutError:
                await self._failed_try(job, "timed out", None)
            except Exception as exc:  # a deliverer's own bug: retried, and given up in the end
                logger.warning(
                    "delivery job %s (%s): deliverer raised %s",
                    job.id,
                    job.kind,
                    type(exc).__name__,
                    extra=_fields(job),
                )
                await self._failed_try(job, type(exc).__name__, None)
            else:
                if await self._record(job, delivered(job)):
                    logger.info(
                        "delivery job %s (%s) delivered on attempt %d",
                        job.id,
                        job.kind,
                        job.attempts,
                        extra=_fields(job),
                    )

    async def _failed_try(self, job: ClaimedJob, reason: str, after: float | None) -> None:
        if job.attempts >= self._policy.max_attempts:
            await self._give_up(job, reason)
            return
        delay = self._policy.backoff(job.attempts)
        if after is not None:
            delay = max(delay, min(after, MAX_RETRY_AFTER_SECONDS))
        run_after = utcnow() + timedelta(seconds=delay)
        if await self._record(job, retry_at(job, run_after=run_after, reason=reason)):
            logger.info(
                "delivery job %s (%s) attempt %d failed (%s); next try in %.1f s",
                job.id,
                job.kind,
                job.attempts,
                reason,
                delay,
                extra=_fields(job),
            )

    async def _give_up(self, job: ClaimedJob, reason: str) -> None:
        # Recorded under the claim, so the one worker that owns the job reports it, once; an
        # ERROR line is also the Sentry event (the logging integration), without any payload.
        if await self._record(job, finished_unsent(job, status=JobStatus.FAILED, reason=reason)):
            logger.error(
                "delivery job %s (%s) given up after %d attempt(s): %s",
                job.id,
                job.kind,
                job.attempts,
                reason,
                extra=_fields(job),
            )

    async def _record(self, job: ClaimedJob, outcome: Outcome) -> bool:
        tracked = self._tracked.get(job.kind)
        for attempt in range(RECORD_TRIES):
            try:
                owned = await record(self._engine, job, outcome, tracked=tracked)
            except Exception as exc:  # the database blinked: the lease still gives us time
                if attempt == RECORD_TRIES - 1:
                    logger.error(
                        "delivery job %s (%s): outcome not recorded (%s); it will be tried "
                        "again when its lease runs out",
                        job.id,
                        job.kind,
                        type(exc).__name__,
                        extra=_fields(job),
                    )
                    return False
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            if not owned:
                logger.warning(
                    "delivery job %s (%s): lease lost before the outcome was recorded",
                    job.id,
                    job.kind,
                    extra=_fields(job),
                )
            return owned
        return False

    async def _purge_when_due(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + self._policy.purge_interval
        purged = await purge_finished(self._engine, before=utcnow() - self._policy.retention)
        if purged:
            logger.info("delivery: purged %d finished job(s)", purged)


def _fields(job: ClaimedJob) -> dict[str, object]:
    return {"job_id": job.id, "kind": job.kind, "attempt": job.attempts}
