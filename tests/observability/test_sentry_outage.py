"""Sentry down (a closed port, or a server that accepts and never answers): nothing fails, no
request waits for it, and the process still exits within the flush timeout.

The bounds are generous hang detectors, not latency measurements (those belong in bench/).
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
import sentry_sdk
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.conftest import ROOT, client_for, make_settings, register

HANG = 20.0  # seconds; everything here normally takes well under one
KEY = "0123456789abcdef0123456789abcdef"


@contextmanager
def closed_port() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://{KEY}@127.0.0.1:{port}/1"


@contextmanager
def black_hole() -> Iterator[str]:
    """Connections complete (the kernel queues them) but nothing is ever read or answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        yield f"http://{KEY}@127.0.0.1:{sock.getsockname()[1]}/1"


OUTAGES = {"closed-port": closed_port, "never-answers": black_hole}


@pytest.fixture(params=sorted(OUTAGES))
def dead_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    with OUTAGES[request.param]() as dsn:
        yield dsn


@pytest.fixture
async def sentry_off_after() -> AsyncIterator[None]:
    yield
    sentry_sdk.init(dsn=None)


async def test_requests_do_not_wait_for_an_unreachable_sentry(
    dead_dsn: str, database_url: str, engine: AsyncEngine, sentry_off_after: None
) -> None:
    settings = make_settings(database_url, SENTRY_DSN=dead_dsn, SENTRY_SHUTDOWN_TIMEOUT=1.0)
    app = create_app(settings)
    started = time.monotonic()
    async with client_for(app) as client:
        await register(client, "ada.fabrics@example.com")
        await _requests(client)
    assert time.monotonic() - started < HANG
    closing = time.monotonic()
    sentry_sdk.get_client().close(timeout=settings.SENTRY_SHUTDOWN_TIMEOUT)
    assert time.monotonic() - closing < settings.SENTRY_SHUTDOWN_TIMEOUT + 5
    await app.state.engine.dispose()


async def test_the_serving_app_neither_waits_nor_stops_late(
    dead_dsn: str, database_url: str, engine: AsyncEngine, sentry_off_after: None
) -> None:
    """With its lifespan, as it serves: envelopes leave from its loop (app/observability/
    transport.py), and its shutdown flush is bounded all the same."""
    settings = make_settings(database_url, SENTRY_DSN=dead_dsn, SENTRY_SHUTDOWN_TIMEOUT=1.0)
    app = create_app(settings)
    started = time.monotonic()
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with client_for(app) as client:
            await register(client, "ada.fabrics@example.com")
            await _requests(client)
        assert time.monotonic() - started < HANG
    finally:
        closing = time.monotonic()
        await lifespan.__aexit__(None, None, None)
    assert time.monotonic() - closing < settings.SENTRY_SHUTDOWN_TIMEOUT + 5


async def _requests(client: httpx.AsyncClient) -> None:
    for _ in range(10):
        assert (await client.get("/api/sentry/test-error")).status_code == 500
        assert (await client.get("/api/sentry/test-message")).status_code == 200
        assert (await client.get("/api/store/ada-fabrics")).status_code == 200


EXIT_SCRIPT = """
import sys
from app.settings import Settings
from app.observability.sentry import capture_custom_error, capture_message_with_context, init_sentry

assert init_sentry(Settings(_env_file=None, SENTRY_DSN=sys.argv[1], SENTRY_SHUTDOWN_TIMEOUT=1))
for n in range(20):
    capture_message_with_context("queued", {"n": n})
    capture_custom_error(RuntimeError(n))
print("exiting", flush=True)
"""


def test_exit_waits_no_longer_than_the_flush_timeout() -> None:
    with black_hole() as dsn:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", EXIT_SCRIPT, dsn],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline() == "exiting\n"
            exiting = time.monotonic()
            process.wait(timeout=60)
            shutdown = time.monotonic() - exiting
        finally:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    # The flush timeout (1 s) plus a margin; without it the SDK's HTTP timeout alone is 30 s.
    assert shutdown < 1 + HANG / 4
