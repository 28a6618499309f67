"""Delivery as it runs in production: the frontend's call replayed against real uvicorn servers
and worker processes, with a stand-in Slack on loopback that fails, hangs, answers 429 and then
recovers, while the server is restarted and crashes. Every accepted report arrives exactly once
(nothing here crashes after Slack said "ok" and before that was recorded), escaped, and is in
the database."""

import asyncio
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.db.session import create_session_factory
from app.delivery.slack import slack_escape
from app.schemas.feedback import FeedbackReport
from app.services.feedback import submit_report
from tests.conftest import postgres_only
from tests.feedback_helpers import HOSTILE, THANK_YOU, feedback_ids, send_report, stored
from tests.pg_cluster import PrivateCluster, execute, migrated_cluster
from tests.processes import FakeSentry, Processes, managed
from tests.servers import ApiServer, server_env
from tests.slack_stub import FAIL, GONE, HANG, OK, THROTTLE, SlackStub, running_slack_stub

WORKER = [sys.executable, "-m", "app.worker"]
# Generous bounds for a shared, slow machine: they catch hangs, they time nothing.
WAIT = 120.0
# Generous: an "ok" that comes back after the timeout counts as a failed try, and its retry
# would post the report a second time; a hung post is given up on after it.
TIMEOUT = 8
# Small waits so the scenario runs in seconds; the lease outlasts a try as the settings demand.
FAST_DELIVERY = {
    "DELIVERY_TIMEOUT_SECONDS": str(TIMEOUT),
    "DELIVERY_LEASE_SECONDS": str(2 * TIMEOUT + 1),
    "DELIVERY_BACKOFF_BASE_SECONDS": "0.1",
    "DELIVERY_BACKOFF_MAX_SECONDS": "0.5",
    "DELIVERY_POLL_INTERVAL_SECONDS": "0.2",
    "DELIVERY_MAX_ATTEMPTS": "100",
    "LOG_LEVEL": "INFO",
}


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    # A hung post outlasts the server's patience (the timeout), so Slack never answers it.
    with running_slack_stub(hang_seconds=TIMEOUT + 3, retry_after="1") as stub:
        yield stub


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    yield from managed(tmp_path)


async def report_through(server: ApiServer, client: httpx.AsyncClient, number: int) -> None:
    response = await send_report(
        client, f"Report {number:02d}: {HOSTILE}", base_url=server.base_url
    )
    assert response.status_code == 200, response.text
    assert response.json() == THANK_YOU


def exactly_once(texts: list[str]) -> list[str]:
    ids = feedback_ids(texts)
    assert len(ids) == len(set(ids)), f"delivered twice: {sorted(ids)}"
    return ids


async def assert_all_delivered_and_escaped(
    engine: AsyncEngine, slack: SlackStub, count: int
) -> None:
    texts = slack.delivered()
    ids = exactly_once(texts)
    assert len(ids) == count
    rows = await stored(engine, "feedback")
    assert {row["id"] for row in rows} == set(ids)
    assert all(row["delivered_at"] is not None for row in rows)
    assert all(HOSTILE in row["message"] for row in rows)  # stored as sent
    for text in texts:
        assert slack_escape(HOSTILE) in text and "<" not in text and ">" not in text
    jobs = await stored(engine, "delivery_jobs")
    assert {job["status"] for job in jobs} == {"delivered"}
    assert all(job["payload"] is None for job in jobs)


async def test_every_report_arrives_once_through_failures_429s_hangs_restarts_and_a_crash(
    database_url: str, engine: AsyncEngine, slack: SlackStub, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    server = ApiServer(server_env(database_url, SLACK_WEBHOOK_URL=slack.url, **FAST_DELIVERY), log)
    async with httpx.AsyncClient(timeout=30) as client:
        # Slack fails, hangs and throttles while reports come in; then a graceful restart.
        slack.play(FAIL, FAIL, HANG, THROTTLE, FAIL, HANG, THROTTLE, FAIL, then=OK)
        await asyncio.to_thread(server.start)
        for number in range(8):
            await report_through(server, client, number)
        await asyncio.to_thread(server.stop)
        # Whatever was not delivered before the restart is delivered after it.
        await asyncio.to_thread(server.start)
        for number in range(8, 16):
            await report_through(server, client, number)
        assert len(await asyncio.to_thread(slack.wait_for, 16, WAIT)) == 16

        # A crash while Slack hangs on two reports: the process dies mid-delivery, Slack never
        # answered those posts, and the restarted server sends them once their leases lapse.
        hung_before = slack.answers().count(HANG)
        slack.play(HANG, HANG, HANG, HANG, then=OK)
        for number in range(16, 18):
            await report_through(server, client, number)
        await asyncio.to_thread(slack.wait_for, hung_before + 2, WAIT, HANG)
        await asyncio.to_thread(server.stop, crash=True)
        await asyncio.to_thread(server.start)
        assert len(await asyncio.to_thread(slack.wait_for, 18, WAIT)) == 18
        await asyncio.to_thread(server.stop)

    assert {FAIL, HANG, THROTTLE, OK} <= set(slack.answers())
    await assert_all_delivered_and_escaped(engine, slack, 18)
    output = log.read_text()
    # Log lines name reports and jobs, never their text or the webhook (its URL is the secret).
    assert "Report 0" not in output and "evil.example" not in output
    assert "/services/" not in output
    assert "given up" not in output


async def test_two_worker_processes_race_over_the_same_reports_and_deliver_each_once(
    database_url: str,
    engine: AsyncEngine,
    processes: Processes,
    tmp_path: Path,
) -> None:
    # Slack answers slowly and each worker takes one report at a time, so both have work.
    with running_slack_stub(ok_after_seconds=0.3) as slack:
        env = server_env(
            database_url,
            SLACK_WEBHOOK_URL=slack.url,
            DELIVERY_WORKER_IN_PROCESS="false",
            DELIVERY_BATCH_SIZE="1",
            **FAST_DELIVERY,
        )
        workers = [processes.start(WORKER, env) for _ in range(2)]
        deadline = time.monotonic() + WAIT
        while not all("started" in processes.output(worker) for worker in workers):
            assert time.monotonic() < deadline, [processes.output(w) for w in workers]
            assert all(worker.poll() is None for worker in workers)
            await asyncio.sleep(0.2)
        server = ApiServer(env, tmp_path / "server.log")
        await asyncio.to_thread(server.start)
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                for number in range(24):
                    await report_through(server, client, number)
            assert len(await asyncio.to_thread(slack.wait_for, 24, WAIT)) == 24
        finally:
            await asyncio.to_thread(server.stop)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        assert [await processes.wait(worker) for worker in workers] == [0, 0]
        await assert_all_delivered_and_escaped(engine, slack, 24)
    delivered_by = [processes.output(w).count("delivered on attempt") for w in workers]
    assert sum(delivered_by) == 24
    assert all(count > 0 for count in delivered_by), delivered_by
    assert all("stopping" in processes.output(worker) for worker in workers)


async def test_the_worker_process_reports_a_give_up_to_sentry_once(
    database_url: str, engine: AsyncEngine, processes: Processes, slack: SlackStub
) -> None:
    slack.play(then=GONE)
    sentry = FakeSentry(answer_after=0)
    ingest = await asyncio.start_server(sentry.handle, "127.0.0.1", 0)
    sentry.port = ingest.sockets[0].getsockname()[1]
    async with ingest:
        env = server_env(database_url, SLACK_WEBHOOK_URL=slack.url, **FAST_DELIVERY)
        env["SENTRY_DSN"] = sentry.dsn
        worker = processes.start(WORKER, env)
        async with create_session_factory(engine)() as session:
            data = FeedbackReport(
                message="Private: my number is 08031234567", url="https://x.example/", timestamp="t"
            )
            await submit_report(session, data=data, vendor_id=None, request_id=None, to_slack=True)
        await asyncio.to_thread(slack.wait_for, 1, WAIT, GONE)
        deadline = time.monotonic() + WAIT
        while not any(b"given up" in envelope for envelope in sentry.envelopes):
            assert time.monotonic() < deadline, processes.output(worker)
            await asyncio.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        assert await processes.wait(worker) == 0
    events = [envelope for envelope in sentry.envelopes if b'"type":"event"' in envelope]
    assert len(events) == 1
    assert b"HTTP 404" in events[0]
    for envelope in sentry.envelopes:
        assert b"08031234567" not in envelope and b"Private" not in envelope
        assert b"/services/" not in envelope
    assert slack.answers() == [GONE]


async def store_reports(url: str, numbers: range) -> None:
    """Reports taken as the route takes them (report and job in one transaction)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        for number in numbers:
            async with create_session_factory(engine)() as session:
                data = FeedbackReport(
                    message=f"Report {number:02d}: {HOSTILE}",
                    url="https://x.example/",
                    timestamp="t",
                )
                await submit_report(
                    session, data=data, vendor_id=None, request_id=None, to_slack=True
                )
    finally:
        await engine.dispose()


async def wait_for_output(processes: Processes, worker: Any, needle: str) -> None:
    deadline = time.monotonic() + WAIT
    while needle not in processes.output(worker):
        assert time.monotonic() < deadline, processes.output(worker)
        assert worker.poll() is None, processes.output(worker)
        await asyncio.sleep(0.2)


@postgres_only
def test_the_worker_rides_out_a_database_outage_and_delivers_each_report_once(
    processes: Processes, slack: SlackStub
) -> None:
    """The worker process's database is killed (-m immediate) while reports wait for a Slack
    that fails, and later its connections are terminated: it keeps running, and once the
    database is back every report is delivered exactly once. (Slack answers "ok" only while the
    database is up: an "ok" that cannot be recorded is a crash mid-delivery, sent again.)"""
    with migrated_cluster() as cluster:
        asyncio.run(ride_out_an_outage(cluster, processes, slack))


async def ride_out_an_outage(
    cluster: PrivateCluster, processes: Processes, slack: SlackStub
) -> None:
    url = cluster.url("qv")
    slack.play(then=FAIL)
    env = server_env(url, SLACK_WEBHOOK_URL=slack.url, DB_POOL_TIMEOUT="2", **FAST_DELIVERY)
    worker = processes.start(WORKER, env)
    await wait_for_output(processes, worker, "started")
    await store_reports(url, range(8))
    await asyncio.to_thread(slack.wait_for, 8, WAIT, FAIL)

    await asyncio.to_thread(cluster.stop, "immediate")
    await wait_for_output(processes, worker, "trying again shortly")
    await asyncio.sleep(2)  # several polls against a dead database
    await asyncio.to_thread(cluster.start)
    slack.play(then=OK)
    assert len(await asyncio.to_thread(slack.wait_for, 8, WAIT)) == 8

    # Every connection the worker holds is killed under it; new reports still go out.
    await execute(
        cluster.url(),
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = 'qv' AND pid <> pg_backend_pid()",
    )
    await store_reports(url, range(8, 12))
    assert len(await asyncio.to_thread(slack.wait_for, 12, WAIT)) == 12

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        deadline = time.monotonic() + WAIT
        while {job["status"] for job in await stored(engine, "delivery_jobs")} != {"delivered"}:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        await assert_all_delivered_and_escaped(engine, slack, 12)
    finally:
        await engine.dispose()
    assert worker.poll() is None
    worker.send_signal(signal.SIGTERM)
    assert await processes.wait(worker) == 0
    output = processes.output(worker)
    assert "Report 0" not in output and "/services/" not in output
