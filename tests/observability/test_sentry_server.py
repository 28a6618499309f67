"""Through a real uvicorn server: each request runs in its own asyncio task, as in production."""

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import sentry_sdk
import uvicorn
from fastapi import FastAPI

from tests.observability.bugsink import Bugsink
from tests.observability.conftest import RELEASE, Observe
from tests.servers import running_api, server_env


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            # uvicorn offers no event to wait on.
            while not server.started:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=20)


async def test_request_tags_reach_the_transaction_and_errors_arrive_once(
    observe: Observe,
) -> None:
    obs = await observe()
    ada = await obs.vendor("ada.fabrics@example.com")
    async with serving(obs.app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        failed = await http.get("/api/sentry/test-error", headers=ada.headers)
        assert failed.status_code == 500
        assert failed.headers["X-Request-ID"] == failed.json()["request_id"]
        errors = obs.errors()
        recorder = obs.record()
        listed = await http.get("/api/products", headers=ada.headers)
        assert listed.status_code == 200
        sentry_sdk.flush(timeout=5)

    assert len(errors) == 1
    assert errors[0]["tags"]["request_id"] == failed.headers["X-Request-ID"]
    assert errors[0]["user"] == {"id": ada.user["id"]}
    [transaction] = [t for t in recorder.transactions() if t["transaction"] == "/api/products"]
    assert transaction["tags"]["request_id"] == listed.headers["X-Request-ID"]
    assert transaction["user"] == {"id": ada.user["id"]}


class OrphanTaskError(Exception):
    pass


async def test_an_error_in_a_task_nobody_awaits_reaches_sentry_once(observe: Observe) -> None:
    """No SDK integration wraps tasks: asyncio's own "never retrieved" error line reports it."""
    obs = await observe()

    async def fails() -> None:
        raise OrphanTaskError("in the background")

    task = asyncio.create_task(fails())
    await asyncio.wait([task])
    del task
    gc.collect()

    found = [e for e in obs.errors() if e["exception"]["values"][-1]["type"] == "OrphanTaskError"]
    assert len(found) == 1


def test_a_500_keeps_its_connection_and_reaches_sentry_once(
    database_url: str, bugsink: Bugsink, tmp_path: Path
) -> None:
    """The server production runs, reporting to Bugsink: the error that stops short of uvicorn
    (so the keep-alive connection survives) has still been reported, exactly once."""
    project_id, dsn = bugsink.create_project("keep-alive-after-500")
    env = server_env(database_url, SENTRY_DSN=dsn, SENTRY_RELEASE=RELEASE)
    server = running_api(env, tmp_path / "server.log")
    with server as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        failed = http.get("/api/sentry/test-error")
        assert failed.status_code == 500
        sent = http.get("/api/sentry/test-message")
        assert sent.status_code == 200
        # One connection for both.
        [first, second] = [r.extensions["network_stream"] for r in (failed, sent)]
        assert first.get_extra_info("client_addr") == second.get_extra_info("client_addr")
    # The server has exited, flushing Sentry: everything it was going to send has been sent.
    bugsink.wait_for_events(project_id, 2)
    events = bugsink.events(project_id)
    errors = [event for event in events if "exception" in event]
    assert len(errors) == 1, errors
    [error] = errors
    assert error["exception"]["values"][-1]["type"] == "SentryTestError"
    assert error["exception"]["values"][-1]["mechanism"]["handled"] is False
    assert error["tags"]["request_id"] == failed.headers["X-Request-ID"]
    assert error["transaction"] == "/api/sentry/test-error"
    assert sent.json()["event_id"] in {event["event_id"] for event in events}
