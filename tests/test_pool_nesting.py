"""No request holds one pooled connection while it waits for another: more concurrent requests
than the pool, each on a path that keeps its session's connection while it counts in the
database's rate-limit counters (REDIS_URL unset), are all served, none after a pool timeout,
and every count is made (none skipped by the limiter failing open).

Before the counters had their own connections, the pool's holders all waited for a second
connection until DB_POOL_TIMEOUT: 503s, and counts skipped with "rate limit store unreachable".
On PostgreSQL the pool here is 2; the SQLite engine keeps its own pool (5 + 10 overflow, 30 s),
which the same number of requests exceeds. Time bounds are hang detectors, below SQLite's wait.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.conftest import PASSWORD, client_for, dispose_app, make_settings, postgres_only, vendor
from tests.order_helpers import open_shop, place

# More than either pool: 2 on PostgreSQL here, 5 + 10 overflow on SQLite.
CONCURRENT = 24
HANG = 20.0

AppFactory = Callable[..., FastAPI]


@pytest.fixture
async def small_pool_app(database_url: str, engine: AsyncEngine) -> AsyncIterator[AppFactory]:
    built: list[FastAPI] = []

    def build(**overrides: Any) -> FastAPI:
        settings = make_settings(
            database_url,
            DB_POOL_SIZE=2,
            DB_MAX_OVERFLOW=0,
            DB_POOL_TIMEOUT=3,
            REDIS_URL=None,
            **overrides,
        )
        application = create_app(settings)
        built.append(application)
        return application

    yield build
    for application in built:
        await dispose_app(application)


@contextmanager
def limiter_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """The limiter's warnings while the block runs (create_app() installs its own root handler,
    so the test listens on the limiter's logger directly)."""
    limiter_logger = logging.getLogger("app.rate_limit")
    limiter_logger.addHandler(caplog.handler)
    records: list[logging.LogRecord] = []
    try:
        with caplog.at_level(logging.WARNING, logger="app.rate_limit"):
            yield records
            records.extend(r for r in caplog.records if r.name == "app.rate_limit")
    finally:
        limiter_logger.removeHandler(caplog.handler)


async def all_at_once(make: Callable[[], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    return await asyncio.wait_for(asyncio.gather(*(make() for _ in range(CONCURRENT))), HANG)


async def counter_hits(engine: AsyncEngine, name: str) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT hits FROM rate_limit_counters WHERE key LIKE :name ORDER BY hits"),
            {"name": f"{name}:%"},
        )
        return [int(row.hits) for row in rows]


async def test_concurrent_clicks_beyond_the_pool_are_counted_once(
    small_pool_app: AppFactory, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A tap keeps the session that found the product while the click dedupe counts it (with
    limits off too): one client's taps all answered, and counted once."""
    app = small_pool_app()
    async with client_for(app) as client:
        shop = await open_shop(client, "ada@example.com", {"stock": 100})
        product_id = shop.products[0]["id"]
        with limiter_warnings(caplog) as warnings:
            responses = await all_at_once(
                lambda: client.post(f"/api/products/{product_id}/track-click")
            )
    assert [r.status_code for r in responses] == [200] * CONCURRENT, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    assert warnings == []
    async with engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT click_count FROM products WHERE id = :id"), {"id": product_id}
        )
    assert count == 1
    assert await counter_hits(engine, "click") == [CONCURRENT]


async def test_concurrent_orders_beyond_the_pool_are_all_limited(
    small_pool_app: AppFactory, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """An order keeps the session that found the store while its limits count it."""
    app = small_pool_app(
        RATE_LIMIT_ENABLED=True,
        ORDER_RATE_LIMIT_PER_CLIENT=1000,
        ORDER_RATE_LIMIT_PER_STORE_CLIENT=1000,
    )
    async with client_for(app) as client:
        shop = await open_shop(client, "ada@example.com", {"stock": 1000})
        product_id = shop.products[0]["id"]
        with limiter_warnings(caplog) as warnings:
            responses = await all_at_once(lambda: place(client, shop.slug, [(product_id, 1)]))
    assert [r.status_code for r in responses] == [201] * CONCURRENT, [
        r.text for r in responses if r.status_code != 201
    ][:3]
    assert warnings == []
    assert await counter_hits(engine, "order-client") == [CONCURRENT]
    assert await counter_hits(engine, "order-store-client") == [CONCURRENT]


async def test_concurrent_logins_beyond_the_pool_are_all_counted(
    small_pool_app: AppFactory, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A login counts before its session reads, and clears its failed attempts after the
    session ended its read (no connection held while hashing): it does not nest, and must not
    start to."""
    app = small_pool_app(RATE_LIMIT_ENABLED=True, LOGIN_IP_LIMIT=1000, LOGIN_ACCOUNT_LIMIT=1000)
    async with client_for(app) as client:
        await open_shop(client, "ada@example.com")
        with limiter_warnings(caplog) as warnings:
            responses = await all_at_once(
                lambda: client.post(
                    "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
                )
            )
    assert [r.status_code for r in responses] == [200] * CONCURRENT, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    assert warnings == []
    # The shop's own login, then these.
    assert await counter_hits(engine, "login-ip") == [CONCURRENT + 1]


async def test_concurrent_password_checks_beyond_the_pool_are_all_counted(
    small_pool_app: AppFactory, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A password check counts while the session that resolved the token holds its connection
    (wrong passwords here: a 400 each, nothing changed)."""
    app = small_pool_app(
        RATE_LIMIT_ENABLED=True,
        REGISTER_IP_LIMIT=1000,
        LOGIN_IP_LIMIT=1000,
        PASSWORD_CHECK_RATE_LIMIT_CLIENT=1000,
    )
    async with client_for(app) as client:
        tokens = [await vendor(client, f"vendor{n}@example.com") for n in range(CONCURRENT)]
        change = {"current_password": "not-the-password", "new_password": "another-horse-43"}
        with limiter_warnings(caplog) as warnings:
            responses = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        client.post("/api/users/me/password", json=change, headers=headers)
                        for headers in tokens
                    )
                ),
                HANG,
            )
    assert [r.status_code for r in responses] == [400] * CONCURRENT, [
        r.text for r in responses if r.status_code != 400
    ][:3]
    assert warnings == []
    assert await counter_hits(engine, "password-check-client") == [CONCURRENT]
    assert await counter_hits(engine, "password-check-account") == [1] * CONCURRENT


@postgres_only
async def test_the_counters_connections_close_with_the_apps_engine(
    database_url: str, engine: AsyncEngine
) -> None:
    """The counters' engine goes with the app's (the teardown the lifespan and the tests do)."""

    async def open_counter_connections() -> int:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = 'quickvendor-counters'"
                )
            )
        return int(found or 0)

    app = create_app(make_settings(database_url, REDIS_URL=None))
    async with client_for(app) as client:
        shop = await open_shop(client, "ada@example.com", {})
        product_id = shop.products[0]["id"]
        assert (await client.post(f"/api/products/{product_id}/track-click")).status_code == 200
    assert await open_counter_connections() == 1
    await app.state.engine.dispose()
    for _ in range(50):  # the server notices a closed connection a moment later
        if await open_counter_connections() == 0:
            break
        await asyncio.sleep(0.05)
    assert await open_counter_connections() == 0
