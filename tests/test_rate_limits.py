"""Rate limits hold across workers (state in Redis or in the database), answer 429 with
Retry-After in the usual error shape, key on the client address behind trusted proxies only,
and fail open when Redis is away. Both stores run every test.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.models import RateLimitCounter, User, UserSession
from app.models.base import utcnow
from app.services.maintenance import maintenance_loop, purge_stale_rows
from tests.conftest import PASSWORD, client_for, create_product, make_settings, register, vendor

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
# Nothing listens here (issue 6's port range): a Redis that is away.
DEAD_REDIS_URL = "redis://127.0.0.1:18699/0"

AppFactory = Callable[..., FastAPI]


@pytest.fixture(params=["database", "redis"])
async def limited_app(
    request: pytest.FixtureRequest, database_url: str, engine: AsyncEngine
) -> AsyncIterator[AppFactory]:
    """Builds apps with limits on; each test gets its own secret, so Redis keys never collide."""
    secret = secrets.token_urlsafe(32)
    built: list[FastAPI] = []

    def build(**overrides: Any) -> FastAPI:
        values: dict[str, Any] = {
            "RATE_LIMIT_ENABLED": True,
            "SECRET_KEY": secret,
            "REDIS_URL": REDIS_TEST_URL if request.param == "redis" else None,
            **overrides,
        }
        application = create_app(make_settings(database_url, **values))
        built.append(application)
        return application

    yield build
    for application in built:
        await application.state.rate_limiter.close()
        await application.state.engine.dispose()


@pytest.fixture
async def db_limited_app(database_url: str, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """An app with limits on and their counters in the database."""
    application = create_app(make_settings(database_url, RATE_LIMIT_ENABLED=True))
    yield application
    await application.state.engine.dispose()


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def try_login(
    client: httpx.AsyncClient, email: str, password: str, ip: str | None = None
) -> httpx.Response:
    return await client.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        headers=from_ip(ip) if ip else None,
    )


def assert_429(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["detail"] == "Too many login attempts, please retry later"
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert 1 <= int(response.headers["Retry-After"]) <= 900


async def test_login_per_ip_limit_spans_workers(limited_app: AppFactory) -> None:
    # Two app instances stand for two workers: they share one budget through the store.
    settings = {"LOGIN_IP_LIMIT": 4, "LOGIN_ACCOUNT_LIMIT": 100}
    worker_a, worker_b = limited_app(**settings), limited_app(**settings)
    async with client_for(worker_a) as a, client_for(worker_b) as b:
        await register(a, "ada@example.com")
        for index, client in enumerate([a, b, a, b]):
            response = await try_login(client, f"guess{index}@example.com", "wrong-password")
            assert response.status_code == 401
        assert_429(await try_login(a, "ada@example.com", PASSWORD))
        assert_429(await try_login(b, "other@example.com", "x"))


async def test_account_lockout_is_per_address_and_hides_existence(
    limited_app: AppFactory,
) -> None:
    app = limited_app(LOGIN_IP_LIMIT=100, LOGIN_ACCOUNT_LIMIT=3, TRUSTED_PROXIES=["127.0.0.1"])
    async with client_for(app) as client:
        await register(client, "ada@example.com")
        for email in ("ada@example.com", "nobody@example.com"):
            for _ in range(3):
                response = await try_login(client, email, "wrong-password", ip="203.0.113.7")
                assert response.status_code == 401
        # Normalised: case and spaces do not buy more tries; a known and an unknown email are
        # refused alike, even with the right password.
        assert_429(await try_login(client, " ADA@Example.com ", PASSWORD, ip="203.0.113.7"))
        assert_429(await try_login(client, "nobody@example.com", PASSWORD, ip="203.0.113.7"))
        # The attacker's failures do not lock the vendor out from their own network.
        response = await try_login(client, "ada@example.com", PASSWORD, ip="198.51.100.20")
        assert response.status_code == 200, response.text


async def test_counter_keys_hold_no_email_or_address(
    db_limited_app: FastAPI, engine: AsyncEngine
) -> None:
    async with client_for(db_limited_app) as client:
        await try_login(client, "Ada.Secret@example.com", "wrong")
    async with engine.connect() as conn:
        keys = list((await conn.execute(text("SELECT key FROM rate_limit_counters"))).scalars())
    assert {key.split(":")[0] for key in keys} == {"login-ip", "login-account"}
    assert not any("ada" in key.lower() or "127.0.0.1" in key for key in keys)


async def test_success_clears_failed_attempts(limited_app: AppFactory) -> None:
    app = limited_app(LOGIN_IP_LIMIT=100, LOGIN_ACCOUNT_LIMIT=3)
    async with client_for(app) as client:
        await register(client, "ada@example.com")
        for _ in range(3):
            for password in ("wrong-password", "wrong-password", PASSWORD):
                response = await try_login(client, "ada@example.com", password)
                assert response.status_code == (200 if password == PASSWORD else 401)


async def test_forwarded_for_is_ignored_from_untrusted_peers(limited_app: AppFactory) -> None:
    app = limited_app(LOGIN_IP_LIMIT=3)
    async with client_for(app) as client:
        for index in range(3):
            response = await try_login(client, "x@example.com", "bad", ip=f"192.0.2.{index}")
            assert response.status_code == 401
        # A fresh spoofed address per request changes nothing: the peer is what counts.
        assert_429(await try_login(client, "y@example.com", "bad", ip="192.0.2.99"))


async def test_client_behind_a_proxy_chain(limited_app: AppFactory) -> None:
    """Render-like chain: the trusted peer relays `<client's own header>, <client>, <edge>`."""
    app = limited_app(LOGIN_IP_LIMIT=2, TRUSTED_PROXIES=["127.0.0.1"], TRUSTED_PROXY_EXTRA_HOPS=1)
    async with client_for(app) as client:
        for index in range(2):
            chain = f"10.9.9.{index}, 203.0.113.50, 104.16.0.{index}"
            response = await try_login(client, "x@example.com", "bad", ip=chain)
            assert response.status_code == 401
        # Whatever the client prepends and whichever edge relays it, the client is the same.
        assert_429(
            await try_login(client, "x@example.com", "bad", ip="1.2.3.4, 203.0.113.50, 104.16.0.9")
        )
        other = await try_login(client, "x@example.com", "bad", ip="203.0.113.51, 104.16.0.1")
        assert other.status_code == 401


async def test_registration_is_limited_per_address(limited_app: AppFactory) -> None:
    app = limited_app(REGISTER_IP_LIMIT=2, TRUSTED_PROXIES=["127.0.0.1"])
    async with client_for(app) as client:
        await register(client, "one@example.com")
        invalid = await client.post("/api/users/register", json={"email": "bad"})
        assert invalid.status_code == 422  # attempts count, valid or not
        refused = await client.post(
            "/api/users/register",
            json={"email": "two@example.com", "password": PASSWORD, "whatsapp_number": "0801"},
        )
        assert refused.status_code == 429
        assert refused.json()["detail"].startswith("Too many sign-ups")
        assert int(refused.headers["Retry-After"]) >= 1
        elsewhere = await client.post(
            "/api/users/register",
            json={
                "email": "two@example.com",
                "password": PASSWORD,
                "whatsapp_number": "08012345678",
            },
            headers=from_ip("198.51.100.4"),
        )
        assert elsewhere.status_code == 201, elsewhere.text


async def test_click_counts_once_per_client_and_window(
    limited_app: AppFactory, engine: AsyncEngine
) -> None:
    app = limited_app(TRUSTED_PROXIES=["127.0.0.1"])
    async with client_for(app) as client:
        headers = await vendor(client)
        product = await create_product(client, headers)
        hidden = await create_product(client, headers, is_available="false")
        path = f"/api/products/{product['id']}/track-click"
        for _ in range(5):
            response = await client.post(path, headers=from_ip("203.0.113.1"))
            assert response.status_code == 200
            assert response.json() == {"message": "Click tracked successfully"}
        assert (await client.post(path, headers=from_ip("203.0.113.2"))).status_code == 200
        for _ in range(2):
            missing = await client.post(
                "/api/products/product_missing/track-click", headers=from_ip("203.0.113.1")
            )
            assert missing.status_code == 404
            unavailable = await client.post(
                f"/api/products/{hidden['id']}/track-click", headers=from_ip("203.0.113.1")
            )
            assert unavailable.status_code == 404
    async with engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT click_count FROM products WHERE id = :id"), {"id": product["id"]}
        )
        counters = await conn.scalar(
            text("SELECT count(*) FROM rate_limit_counters WHERE key LIKE 'click:%'")
        )
    assert count == 2
    if not app.state.settings.REDIS_URL:
        assert counters == 2  # made-up and hidden products left no counter behind


async def test_limits_fail_open_when_redis_is_away(
    database_url: str, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(
        make_settings(
            database_url, RATE_LIMIT_ENABLED=True, REDIS_URL=DEAD_REDIS_URL, LOGIN_IP_LIMIT=1
        )
    )
    # create_app() installs the app's own root handler; listen on the limiter's logger directly.
    limiter_logger = logging.getLogger("app.rate_limit")
    limiter_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="app.rate_limit"):
            async with client_for(app) as client:
                started = time.perf_counter()
                await register(client, "ada@example.com")
                for _ in range(5):
                    response = await try_login(client, "ada@example.com", PASSWORD)
                    assert response.status_code == 200, response.text
                # Generous hang bound: one refused connection, then the store is left alone.
                assert time.perf_counter() - started < 10
        warnings = [r for r in caplog.records if r.name == "app.rate_limit"]
        assert len(warnings) == 1
        assert "unreachable" in warnings[0].getMessage()
    finally:
        limiter_logger.removeHandler(caplog.handler)
        await app.state.rate_limiter.close()
        await app.state.engine.dispose()


async def test_purge_removes_dead_sessions_and_closed_windows(
    db_limited_app: FastAPI, engine: AsyncEngine
) -> None:
    app = db_limited_app
    async with client_for(app) as client:
        await vendor(client)
        await client.post("/api/auth/login", json={"email": "x@example.com", "password": "b"})
    long_ago = utcnow() - timedelta(days=30)
    async with app.state.session_factory() as session:
        user_id = await session.scalar(select(User.id))
        session.add_all(
            [
                UserSession(
                    id="session_expired", user_id=user_id, created_at=long_ago, expires_at=long_ago
                ),
                UserSession(
                    id="session_revoked",
                    user_id=user_id,
                    created_at=long_ago,
                    expires_at=utcnow() + timedelta(days=1),
                    revoked_at=long_ago,
                ),
                RateLimitCounter(key="old", hits=1, expires_at=0),
            ]
        )
        await session.commit()
    purged = await purge_stale_rows(
        app.state.session_factory, app.state.rate_limiter, retention=timedelta(days=7)
    )
    assert (purged.sessions, purged.counters) == (2, 1)
    async with engine.connect() as conn:
        left = (await conn.execute(text("SELECT id FROM sessions"))).scalars().all()
        keys = (await conn.execute(text("SELECT key FROM rate_limit_counters"))).scalars()
        # The live login stays; both dead ones are gone (matched exactly: live ids are random hex).
        assert len(left) == 1 and left[0] not in {"session_expired", "session_revoked"}
        assert all(key != "old" for key in keys)


async def test_maintenance_loop_keeps_purging(db_limited_app: FastAPI, engine: AsyncEngine) -> None:
    app = db_limited_app
    loop = asyncio.create_task(
        maintenance_loop(
            app.state.session_factory,
            app.state.rate_limiter,
            retention=timedelta(days=7),
            interval=0.05,
        )
    )
    try:
        for round_number in range(2):  # a second round proves the loop goes on
            async with app.state.session_factory() as session:
                session.add(RateLimitCounter(key=f"stale-{round_number}", hits=1, expires_at=0))
                await session.commit()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                async with engine.connect() as conn:
                    left = await conn.scalar(text("SELECT count(*) FROM rate_limit_counters"))
                if left == 0:
                    break
                await asyncio.sleep(0.05)
            assert left == 0
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
