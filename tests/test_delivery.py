"""The delivery worker against a real database and a stand-in Slack on loopback: retries with
capped backoff, Retry-After, timeouts, give-ups, expiry, leases, purging, racing workers, the
caller's transaction, the wake-up after a commit, and a graceful stop."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine
from app.db.session import create_session_factory
from app.delivery.errors import RetryLater
from app.delivery.outbox import claim_due, delivered, enqueue, purge_finished, record
from app.delivery.registry import FEEDBACK_KIND, Deliverer
from app.delivery.slack import SlackWebhook
from app.delivery.worker import MAX_RETRY_AFTER_SECONDS, DeliveryPolicy, DeliveryWorker
from app.main import create_app
from app.models import DeliveryJob
from app.models.base import utcnow
from app.observability.context import RequestContext, request_context
from app.schemas.feedback import FeedbackReport
from app.services.feedback import submit_report
from app.settings import Settings
from tests.conftest import client_for, make_settings
from tests.feedback_helpers import app_log_records, send_report, stored
from tests.slack_stub import FAIL, GONE, HANG, OK, THROTTLE, SlackStub, running_slack_stub

# One try may take this long here; a hung Slack is given up on after it. Generous: an "ok" that
# comes back after it counts as a failed try, and the retry posts the message a second time.
TIMEOUT = 5.0
# Generous bounds for a shared, slow machine: they catch hangs, they time nothing.
WAIT = 60.0


def policy(**overrides: Any) -> DeliveryPolicy:
    values: dict[str, Any] = {
        "max_attempts": 10,
        "timeout": TIMEOUT,
        "backoff_base": 0.05,
        "backoff_max": 0.2,
        "poll_interval": 0.05,
        "lease": 3 * TIMEOUT,
        "batch_size": 5,
        "retention": timedelta(days=7),
        "purge_interval": 3600.0,
    }
    values.update(overrides)
    return DeliveryPolicy(**values)


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    # A hung post is dropped by the stub long after the client's timeout.
    with running_slack_stub(hang_seconds=TIMEOUT + 20) as stub:
        yield stub


@pytest.fixture
def settings(database_url: str, slack: SlackStub) -> Settings:
    return make_settings(database_url, SLACK_WEBHOOK_URL=slack.url)


@pytest.fixture
async def app_engine(settings: Settings, engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """An engine configured as the app's (SQLite pragmas included)."""
    made = create_engine(settings)
    yield made
    await made.dispose()


def worker(engine: AsyncEngine, slack: SlackStub, **overrides: Any) -> DeliveryWorker:
    deliverers: dict[str, Deliverer] = {FEEDBACK_KIND: SlackWebhook(slack.url, timeout=TIMEOUT)}
    return DeliveryWorker(engine, deliverers, policy(**overrides))


async def report(engine: AsyncEngine, message: str = "The checkout button is hidden") -> str:
    """A stored report with its queued job, as request `req-1` stores it; the report's id."""
    token = request_context.set(RequestContext(request_id="req-1"))
    try:
        async with create_session_factory(engine)() as session:
            data = FeedbackReport(message=message, url="https://x.example/", timestamp="now")
            saved = await submit_report(
                session, data=data, vendor_id=None, request_id="req-1", to_slack=True
            )
            return saved.id
    finally:
        request_context.reset(token)


async def enqueue_texts(engine: AsyncEngine, texts: list[str], **fields: Any) -> list[str]:
    async with create_session_factory(engine)() as session:
        ids = [
            await enqueue(session, kind=FEEDBACK_KIND, payload={"text": body}, **fields)
            for body in texts
        ]
        await session.commit()
    return ids


async def one(engine: AsyncEngine, table: str) -> dict[str, Any]:
    [row] = await stored(engine, table)
    return row


async def run_until(
    workers: list[DeliveryWorker], slack: SlackStub, count: int, answer: str = OK
) -> list[str]:
    """Run the workers until the stub has `count` posts answered `answer`; those texts."""
    for each in workers:
        each.start()
    try:
        return await asyncio.to_thread(slack.wait_for, count, WAIT, answer)
    finally:
        await asyncio.gather(*(each.stop() for each in workers))


async def test_a_job_is_delivered_once_and_its_payload_cleared(
    app_engine: AsyncEngine, slack: SlackStub
) -> None:
    feedback_id = await report(app_engine)
    assert await worker(app_engine, slack).run_once() == 1
    assert await worker(app_engine, slack).run_once() == 0
    [sent] = slack.delivered()
    assert feedback_id in sent and "The checkout button is hidden" in sent
    job = await one(app_engine, "delivery_jobs")
    assert job["status"] == "delivered" and job["payload"] is None
    assert job["attempts"] == 1 and job["finished_at"] is not None
    assert job["locked_by"] is None and job["locked_until"] is None
    tracked = await one(app_engine, "feedback")
    assert tracked["delivered_at"] is not None
    assert (tracked["attempts"], tracked["last_error"]) == (1, None)


async def test_temporary_failures_are_retried_until_slack_recovers(
    app_engine: AsyncEngine, slack: SlackStub
) -> None:
    slack.play(FAIL, HANG, THROTTLE, FAIL, then=OK)
    await report(app_engine)
    [sent] = await run_until([worker(app_engine, slack)], slack, 1)
    assert "The checkout button is hidden" in sent
    assert slack.answers() == [FAIL, HANG, THROTTLE, FAIL, OK]
    posts = slack.posts
    # Slack's Retry-After (1 s) was respected after the 429, though the backoff was shorter.
    assert posts[3].at - posts[2].at >= 1.0
    # The hung post was given up on at the timeout, before the stub would have dropped it.
    assert posts[2].at - posts[1].at < slack.hang_seconds
    job = await one(app_engine, "delivery_jobs")
    assert (job["status"], job["attempts"], job["payload"]) == ("delivered", 5, None)
    tracked = await one(app_engine, "feedback")
    assert (tracked["attempts"], tracked["last_error"]) == (5, None)
    assert tracked["delivered_at"] is not None


async def test_a_permanent_refusal_is_given_up_at_once_and_logged_once(
    app_engine: AsyncEngine, slack: SlackStub
) -> None:
    slack.play(GONE, then=GONE)
    await report(app_engine)
    with app_log_records() as records:
        assert await worker(app_engine, slack).run_once() == 1
        assert await worker(app_engine, slack).run_once() == 0
    assert slack.answers() == [GONE]
    job = await one(app_engine, "delivery_jobs")
    assert (job["status"], job["payload"], job["last_error"]) == ("failed", None, "HTTP 404")
    tracked = await one(app_engine, "feedback")
    assert (tracked["delivered_at"], tracked["last_error"]) == (None, "HTTP 404")
    errors = [r for r in records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "given up after 1 attempt(s): HTTP 404" in errors[0].getMessage()
    # The request that queued it names the log line (and the Sentry event it becomes).
    assert errors[0].__dict__["request_id"] == "req-1"


async def test_attempts_are_capped_then_the_job_is_given_up_once(
    app_engine: AsyncEngine, slack: SlackStub
) -> None:
    slack.play(then=FAIL)
    await report(app_engine)
    with app_log_records() as records:
        await run_until([worker(app_engine, slack, max_attempts=3)], slack, 3, answer=FAIL)
        # Nothing is left to try: a fresh worker claims nothing.
        assert await worker(app_engine, slack).run_once() == 0
    assert slack.answers() == [FAIL, FAIL, FAIL]
    job = await one(app_engine, "delivery_jobs")
    assert (job["status"], job["attempts"], job["last_error"]) == ("failed", 3, "HTTP 500")
    errors = [r for r in records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "given up after 3 attempt(s)" in errors[0].getMessage()


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = policy(backoff_base=1.0, backoff_max=30.0).backoff
    for attempt in range(1, 40):
        ceiling = min(30.0, 2.0 ** (attempt - 1))
        for _ in range(20):
            assert ceiling / 2 <= backoff(attempt) <= ceiling
    assert policy().backoff(1000) <= 0.2


async def test_a_long_retry_after_is_respected_and_an_absurd_one_capped(
    app_engine: AsyncEngine, slack: SlackStub
) -> None:
    for retry_after, expected in (("120", 120.0), ("86400", MAX_RETRY_AFTER_SECONDS)):
        slack.retry_after = retry_after
        slack.play(THROTTLE)
        [job_id] = await enqueue_texts(app_engine, [f"throttled {retry_after}"])
        before = utcnow()
        assert await worker(app_engine, slack).run_once() == 1
        async with app_engine.connect() as connection:
            row = (
                await connection.execute(
                    select(DeliveryJob.run_after, DeliveryJob.status).where(
                        DeliveryJob.id == job_id
                    )
                )
            ).one()
        assert row.status == "pending"
        waited = (row.run_after - before).total_seconds()
        assert expected - 1 <= waited <= expected + 30


async def test_an_expired_job_is_dropped_unsent(app_engine: AsyncEngine, slack: SlackStub) -> None:
    await enqueue_texts(app_engine, ["reset link"], expires_at=utcnow() - timedelta(seconds=1))
    with app_log_records() as records:
        assert await worker(app_engine, slack).run_once() == 1
    assert slack.posts == []
    job = await one(app_engine, "delivery_jobs")
    assert (job["status"], job["payload"]) == ("expired", None)
    assert any("expired before it could be sent" in r.getMessage() for r in records)


async def test_finished_jobs_are_purged_after_retention_and_reports_stay(
    app_engine: AsyncEngine, slack: SlackStub
) -> None:
    await report(app_engine)
    assert await worker(app_engine, slack).run_once() == 1
    [pending_id] = await enqueue_texts(app_engine, ["still queued"])
    assert await purge_finished(app_engine, before=utcnow() - timedelta(days=1)) == 0
    assert await purge_finished(app_engine, before=utcnow() + timedelta(seconds=1)) == 1
    [left] = await stored(app_engine, "delivery_jobs")
    assert left["id"] == pending_id
    tracked = await one(app_engine, "feedback")
    assert tracked["delivered_at"] is not None and tracked["delivery_job_id"] is None


async def test_a_lapsed_lease_makes_a_job_claimable_again_and_mutes_the_old_claim(
    app_engine: AsyncEngine, slack: SlackStub
) -> None:
    await enqueue_texts(app_engine, ["claimed by a worker that then died"])
    [first] = await claim_due(
        app_engine, kinds=[FEEDBACK_KIND], limit=5, lease=1.0, claim="worker-a"
    )
    assert await claim_due(app_engine, kinds=[FEEDBACK_KIND], limit=5, lease=1.0, claim="b") == []
    deadline = time.monotonic() + WAIT
    while not (
        again := await claim_due(
            app_engine, kinds=[FEEDBACK_KIND], limit=5, lease=60.0, claim="worker-c"
        )
    ):
        assert time.monotonic() < deadline, "the lease never lapsed"
        await asyncio.sleep(0.1)
    [second] = again
    assert second.id == first.id and second.attempts == 2
    # The first claim's late outcome changes nothing: the job is worker-c's now.
    assert not await record(app_engine, first, delivered(first))
    assert await record(app_engine, second, delivered(second))
    assert (await one(app_engine, "delivery_jobs"))["status"] == "delivered"


async def test_workers_racing_over_the_same_jobs_deliver_each_exactly_once(
    settings: Settings, app_engine: AsyncEngine, slack: SlackStub
) -> None:
    texts = [f"message {number:03d}" for number in range(60)]
    await enqueue_texts(app_engine, texts)
    slack.play(*([OK] * 6 + [FAIL]) * 5, then=OK)
    engines = [create_engine(settings) for _ in range(3)]
    try:
        # No try may time out here (a stall of the shared machine would make its retry a second
        # post that no race caused): whatever posts twice was claimed twice.
        racers = [
            worker(each, slack, batch_size=4, poll_interval=0.01, timeout=30.0, lease=60.0)
            for each in engines
        ]
        sent = await run_until(racers, slack, len(texts))
    finally:
        await asyncio.gather(*(each.dispose() for each in engines))
    assert sorted(sent) == texts
    assert len(slack.delivered()) == len(texts)
    jobs = await stored(app_engine, "delivery_jobs")
    assert {job["status"] for job in jobs} == {"delivered"}


class Broken:
    """A deliverer with a bug of its own (not a RetryLater or a DeliveryFailed)."""

    def __init__(self) -> None:
        self.calls = 0

    async def deliver(self, payload: dict[str, Any]) -> None:
        self.calls += 1
        raise KeyError("to")


async def test_a_deliverers_own_bug_is_retried_then_given_up(app_engine: AsyncEngine) -> None:
    await enqueue_texts(app_engine, ["anything"])
    broken = Broken()
    buggy = DeliveryWorker(app_engine, {FEEDBACK_KIND: broken}, policy(max_attempts=2))
    deadline = time.monotonic() + WAIT
    while (await one(app_engine, "delivery_jobs"))["status"] == "pending":
        assert time.monotonic() < deadline
        await buggy.run_once()
        await asyncio.sleep(0.05)
    job = await one(app_engine, "delivery_jobs")
    assert (job["status"], job["last_error"], broken.calls) == ("failed", "KeyError", 2)


async def test_a_try_is_bounded_by_the_timeout_whatever_the_deliverer(
    app_engine: AsyncEngine,
) -> None:
    class Stuck:
        async def deliver(self, payload: dict[str, Any]) -> None:
            await asyncio.sleep(3600)

    await enqueue_texts(app_engine, ["stuck"])
    stuck = DeliveryWorker(app_engine, {FEEDBACK_KIND: Stuck()}, policy(timeout=0.5, lease=2))
    started = time.monotonic()
    assert await stuck.run_once() == 1
    assert time.monotonic() - started < WAIT
    job = await one(app_engine, "delivery_jobs")
    assert (job["status"], job["last_error"], job["locked_by"]) == ("pending", "timed out", None)


async def test_a_long_reason_is_cut_to_fit(app_engine: AsyncEngine) -> None:
    class Verbose:
        async def deliver(self, payload: dict[str, Any]) -> None:
            raise RetryLater("x" * 5000)

    await report(app_engine)
    verbose = DeliveryWorker(app_engine, {FEEDBACK_KIND: Verbose()}, policy())
    assert await verbose.run_once() == 1
    job = await one(app_engine, "delivery_jobs")
    assert job["status"] == "pending" and job["last_error"] == "x" * 200
    assert (await one(app_engine, "feedback"))["last_error"] == "x" * 200


async def test_a_job_is_written_in_the_callers_transaction(app_engine: AsyncEngine) -> None:
    factory = create_session_factory(app_engine)
    async with factory() as session:
        await enqueue(session, kind=FEEDBACK_KIND, payload={"text": "rolled back"})
        await session.rollback()
    assert await stored(app_engine, "delivery_jobs") == []
    async with factory() as session:
        job_id = await enqueue(session, kind=FEEDBACK_KIND, payload={"text": "kept"})
        await session.commit()
    job = await one(app_engine, "delivery_jobs")
    assert job["id"] == job_id and job["status"] == "pending" and job["attempts"] == 0


async def test_a_kind_without_a_deliverer_is_left_for_a_worker_that_has_one(
    app_engine: AsyncEngine, slack: SlackStub
) -> None:
    async with create_session_factory(app_engine)() as session:
        await enqueue(session, kind="email", payload={"to": "nobody"})
        await session.commit()
    assert await worker(app_engine, slack).run_once() == 0
    assert (await one(app_engine, "delivery_jobs"))["status"] == "pending"


async def test_retry_later_and_delivery_failed_are_the_contract(app_engine: AsyncEngine) -> None:
    class Throttled:
        async def deliver(self, payload: dict[str, Any]) -> None:
            raise RetryLater("provider busy", after_seconds=90)

    await enqueue_texts(app_engine, ["x"])
    throttled = DeliveryWorker(app_engine, {FEEDBACK_KIND: Throttled()}, policy())
    assert await throttled.run_once() == 1
    job = await one(app_engine, "delivery_jobs")
    assert (job["status"], job["last_error"]) == ("pending", "provider busy")
    assert await throttled.run_once() == 0  # not due for 90 s


async def lifespan_app(database_url: str, slack: SlackStub, **overrides: Any) -> FastAPI:
    return create_app(
        make_settings(
            database_url,
            SLACK_WEBHOOK_URL=slack.url,
            DELIVERY_TIMEOUT_SECONDS=TIMEOUT,
            DELIVERY_LEASE_SECONDS=3 * TIMEOUT,
            DELIVERY_BACKOFF_BASE_SECONDS=0.05,
            DELIVERY_BACKOFF_MAX_SECONDS=0.2,
            **overrides,
        )
    )


async def test_a_commit_wakes_the_worker_of_its_process(
    database_url: str, engine: AsyncEngine, slack: SlackStub
) -> None:
    # The worker polls once a minute: a report delivered sooner was announced by its commit.
    app = await lifespan_app(database_url, slack, DELIVERY_POLL_INTERVAL_SECONDS=60)
    try:
        async with app.router.lifespan_context(app), client_for(app) as client:
            assert (await send_report(client, "First")).status_code == 200
            assert len(await asyncio.to_thread(slack.wait_for, 1, WAIT)) == 1
            # The worker found less than a batch, so it now sleeps until woken or a minute.
            assert (await send_report(client, "Wake up")).status_code == 200
            sent = await asyncio.to_thread(slack.wait_for, 2, 30.0)
        assert len(sent) == 2 and "Wake up" in sent[1]
    finally:
        await app.state.engine.dispose()


async def test_stopping_lets_the_try_under_way_finish(
    database_url: str, engine: AsyncEngine, slack: SlackStub
) -> None:
    slack.ok_after_seconds = 1.0
    app = await lifespan_app(database_url, slack)
    try:
        async with app.router.lifespan_context(app), client_for(app) as client:
            assert (await send_report(client, "Sent during shutdown")).status_code == 200
            # Slack has the post and is slow to answer: the process is told to stop now.
            await asyncio.to_thread(slack.wait_for, 1, WAIT)
    finally:
        await app.state.engine.dispose()
    job = await one(engine, "delivery_jobs")
    assert (job["status"], job["attempts"]) == ("delivered", 1)


async def test_a_try_cut_short_by_a_hang_is_kept_for_later(
    database_url: str, engine: AsyncEngine, slack: SlackStub
) -> None:
    slack.play(HANG)
    app = await lifespan_app(database_url, slack)
    try:
        async with app.router.lifespan_context(app), client_for(app) as client:
            assert (await send_report(client, "Slack hangs")).status_code == 200
            await asyncio.to_thread(slack.wait_for, 1, WAIT, HANG)
    finally:
        await app.state.engine.dispose()
    job = await one(engine, "delivery_jobs")
    assert job["status"] == "pending" and job["attempts"] == 1
    assert job["last_error"] in ("timed out", "ReadTimeout") and job["payload"] is not None
    assert slack.delivered() == []


def test_delivery_settings_are_checked(database_url: str) -> None:
    defaults = make_settings(database_url)
    assert defaults.DELIVERY_BACKOFF_MAX_SECONDS == 30
    assert defaults.DELIVERY_TIMEOUT_SECONDS == 10
    assert defaults.DELIVERY_WORKER_IN_PROCESS is True
    with pytest.raises(ValueError, match="DELIVERY_TIMEOUT_SECONDS"):
        make_settings(database_url, DELIVERY_TIMEOUT_SECONDS=11)
    with pytest.raises(ValueError, match="twice DELIVERY_TIMEOUT_SECONDS"):
        make_settings(database_url, DELIVERY_TIMEOUT_SECONDS=5, DELIVERY_LEASE_SECONDS=9)
    with pytest.raises(ValueError, match="must not exceed"):
        make_settings(database_url, DELIVERY_BACKOFF_BASE_SECONDS=40)
    app = create_app(make_settings(database_url, DELIVERY_WORKER_IN_PROCESS=False))
    assert app.state.delivery_worker is None
