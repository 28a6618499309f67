"""Running out of pooled connections, or a statement that runs away, is a quick 503 with the
usual error body, never a hang; requests beyond the pool queue instead of failing.

Time bounds here are generous hang detectors, not speed measurements.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from time import perf_counter

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.conftest import (
    PASSWORD,
    client_for,
    create_product,
    make_settings,
    postgres_only,
    vendor,
)

pytestmark = postgres_only
HANG = 15.0


@pytest.fixture
async def tight_app(database_url: str, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """One pooled connection, no overflow, a short wait for it and a short statement timeout."""
    settings = make_settings(
        database_url,
        DB_POOL_SIZE=1,
        DB_MAX_OVERFLOW=0,
        DB_POOL_TIMEOUT=0.5,
        DB_STATEMENT_TIMEOUT_MS=300,
    )
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["detail"] and body["request_id"] == response.headers["X-Request-ID"]
    assert response.headers["Retry-After"]


async def test_exhausted_pool_is_a_quick_503_then_recovers(tight_app: FastAPI) -> None:
    async with client_for(tight_app) as client:
        headers = await vendor(client)
        await create_product(client, headers)
        async with tight_app.state.engine.connect() as held:
            await held.execute(text("SELECT 1"))
            for path, extra in (("/api/store/ada", {}), ("/api/products", headers)):
                started = perf_counter()
                response = await asyncio.wait_for(client.get(path, headers=extra), HANG)
                assert_unavailable(response)
                assert perf_counter() - started < HANG
        assert (await client.get("/api/store/ada")).status_code == 200
        assert (await client.get("/api/products", headers=headers)).status_code == 200


async def test_runaway_statement_is_cancelled_into_a_503(
    tight_app: FastAPI, engine: AsyncEngine
) -> None:
    async with client_for(tight_app) as client:
        headers = await vendor(client)
        await create_product(client, headers)
        # A lock held elsewhere makes the storefront's query wait past the statement timeout.
        async with engine.connect() as blocker:
            await blocker.execute(text("LOCK TABLE products IN ACCESS EXCLUSIVE MODE"))
            for path, extra in (("/api/store/ada", {}), ("/api/products", headers)):
                response = await asyncio.wait_for(client.get(path, headers=extra), HANG)
                assert_unavailable(response)
            await blocker.rollback()
        # The cancelled connection went back to the pool in working order.
        assert (await client.get("/api/store/ada")).status_code == 200
        assert (await client.get("/api/products", headers=headers)).status_code == 200


async def test_requests_beyond_the_pool_queue_instead_of_failing(
    database_url: str, engine: AsyncEngine
) -> None:
    settings = make_settings(database_url, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=10)
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            headers = await vendor(client)
            await create_product(client, headers)
            responses = await asyncio.wait_for(
                asyncio.gather(*(client.get("/api/store/ada") for _ in range(64))), HANG * 2
            )
        assert [r.status_code for r in responses] == [200] * 64
    finally:
        await application.state.engine.dispose()


async def test_a_login_does_not_hold_a_connection_while_it_hashes(
    database_url: str, engine: AsyncEngine
) -> None:
    """With a single pooled connection, a shopper is served while a login is busy hashing."""
    settings = make_settings(
        database_url,
        DB_POOL_SIZE=1,
        DB_MAX_OVERFLOW=0,
        DB_POOL_TIMEOUT=0.5,
        # Slow on purpose: each hash takes far longer than the pool timeout.
        ARGON2_TIME_COST=16,
        ARGON2_MEMORY_COST=65536,
    )
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            headers = await vendor(client)
            await create_product(client, headers)
            login = asyncio.create_task(
                client.post(
                    "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
                )
            )
            await asyncio.sleep(0.3)
            store = await asyncio.wait_for(client.get("/api/store/ada"), HANG)
            assert not login.done(), "the login finished before the shopper came: no overlap"
            assert store.status_code == 200, store.text
            assert (await asyncio.wait_for(login, HANG)).status_code == 200
    finally:
        await application.state.engine.dispose()


async def server_now(engine: AsyncEngine) -> datetime:
    async with engine.connect() as conn:
        now: datetime = await conn.scalar(text("SELECT clock_timestamp()"))
    return now


async def kill_app_connections(engine: AsyncEngine, since: datetime) -> int:
    """Terminate the app's server processes in this database, as a restart or failover would.

    Only those opened since `since`: a server process an earlier test's app or worker is still
    closing has the same name and must not be counted as this app's.
    """
    async with engine.connect() as conn:
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'quickvendor-api' AND datname = current_database()"
                " AND backend_start >= :since"
            ),
            {"since": since},
        )
        await conn.commit()
    return int(killed or 0)


@pytest.mark.parametrize("path", ["/api/store/ada", "/api/products", "/api/users/me"])
async def test_a_connection_lost_under_a_read_is_a_503_then_replaced(
    database_url: str, engine: AsyncEngine, path: str
) -> None:
    # Pinging only after a long idle: the dead connection reaches the request.
    settings = make_settings(
        database_url, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_PING_AFTER_IDLE_SECONDS=3600
    )
    since = await server_now(engine)
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            headers = await vendor(client)
            await create_product(client, headers)
            assert (await client.get(path, headers=headers)).status_code == 200
            assert await kill_app_connections(engine, since) == 1
            assert_unavailable(await asyncio.wait_for(client.get(path, headers=headers), HANG))
            # The dead connection was discarded, not handed out again.
            assert (await client.get(path, headers=headers)).status_code == 200
    finally:
        await application.state.engine.dispose()


async def test_an_idle_connection_is_pinged_and_replaced_before_use(
    database_url: str, engine: AsyncEngine
) -> None:
    settings = make_settings(
        database_url, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_PING_AFTER_IDLE_SECONDS=0.2
    )
    since = await server_now(engine)
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            headers = await vendor(client)
            await create_product(client, headers)
            assert (await client.get("/api/store/ada")).status_code == 200
            assert await kill_app_connections(engine, since) == 1
            await asyncio.sleep(0.3)
            assert (await client.get("/api/store/ada")).status_code == 200
            assert (await client.get("/api/products", headers=headers)).status_code == 200
    finally:
        await application.state.engine.dispose()


async def test_readers_wait_their_turn_in_order_then_get_a_quick_503(tight_app: FastAPI) -> None:
    reader = tight_app.state.reader
    async with client_for(tight_app) as client:
        headers = await vendor(client)
        await create_product(client, headers)
        served: list[int] = []

        async def shopper(number: int) -> int:
            response = await asyncio.wait_for(client.get("/api/store/ada"), HANG)
            served.append(number)
            return response.status_code

        async with reader.connect():
            # Every turn taken: the next reader waits DB_POOL_TIMEOUT, then gets a 503.
            started = perf_counter()
            assert_unavailable(await asyncio.wait_for(client.get("/api/store/ada"), HANG))
            assert perf_counter() - started < HANG
            waiting = []
            for number in range(5):
                waiting.append(asyncio.create_task(shopper(number)))
                await asyncio.sleep(0.02)
        assert await asyncio.gather(*waiting) == [200] * 5
        assert served == [0, 1, 2, 3, 4]
