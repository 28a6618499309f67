"""Rate limits hold across workers (state in Redis or in the database), answer 429 with
Retry-After in the usual error shape, key on the client address behind trusted proxies only,
and fail open when Redis is away. Both stores run every test.
"""

import asyncio
import contextlib
import json
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
from starlette.types import Message

from app.main import create_app
from app.models import RateLimitCounter, User, UserSession
from app.models.base import utcnow
from app.services.maintenance import maintenance_loop, purge_stale_rows
from tests.asgi import answer, http_scope
from tests.conftest import (
    PASSWORD,
    client_for,
    create_product,
    dispose_app,
    make_settings,
    register,
    vendor,
)

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
        await dispose_app(application)


@pytest.fixture
async def db_limited_app(database_url: str, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    """An app with limits on and their counters in the database."""
    application = create_app(make_settings(database_url, RATE_LIMIT_ENABLED=True))
    yield application
    await dispose_app(application)


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


async def test_one_client_in_any_notation_is_one_client(limited_app: AppFactory) -> None:
    app = limited_app(LOGIN_IP_LIMIT=100, LOGIN_ACCOUNT_LIMIT=3, TRUSTED_PROXIES=["127.0.0.1"])
    async with client_for(app) as client:
        await register(client, "ada@example.com")
        for _ in range(3):
            wrong = await try_login(client, "ada@example.com", "wrong", ip="198.51.100.7")
            assert wrong.status_code == 401
        # The same IPv4 client, written as IPv6 or with a port: no fresh budget.
        for same in (
            "::ffff:198.51.100.7",
            "::ffff:c633:6407",
            "0:0:0:0:0:ffff:c633:6407",
            "[::ffff:198.51.100.7]:443",
            "198.51.100.7:5555",
        ):
            assert_429(await try_login(client, "ada@example.com", PASSWORD, ip=same))
        # An IPv6 client is its /64: any address in it is the same client.
        for host in range(1, 4):
            wrong = await try_login(client, "ada@example.com", "wrong", ip=f"2001:db8:5:6::{host}")
            assert wrong.status_code == 401
        for rotated in ("2001:db8:5:6:ffff:ffff:ffff:ffff", "2001:DB8:5:6:0:0:0:abcd"):
            assert_429(await try_login(client, "ada@example.com", PASSWORD, ip=rotated))
        neighbour = await try_login(client, "ada@example.com", PASSWORD, ip="2001:db8:5:7::1")
        assert neighbour.status_code == 200, neighbour.text


async def login_from_peer(app: FastAPI, peer: str) -> int:
    """A login straight through ASGI from `peer`, as uvicorn reports it on a dual-stack socket."""
    body = json.dumps({"email": "nobody@example.com", "password": "wrong"}).encode()
    headers = [(b"content-type", b"application/json")]
    scope = http_scope("POST", "/api/auth/login", headers, (peer, 50000))

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    sent = await answer(app, scope, receive)
    status: int = sent[0]["status"]
    return status


async def test_a_dual_stack_peer_is_its_ipv4_address(limited_app: AppFactory) -> None:
    app = limited_app(LOGIN_IP_LIMIT=2)
    async with app.router.lifespan_context(app):
        assert await login_from_peer(app, "198.51.100.9") == 401
        assert await login_from_peer(app, "::ffff:198.51.100.9") == 401
        assert await login_from_peer(app, "::ffff:c633:6409") == 429


async def test_rotating_inside_a_64_grows_no_counter(limited_app: AppFactory) -> None:
    app = limited_app(LOGIN_IP_LIMIT=1000, LOGIN_ACCOUNT_LIMIT=1000, TRUSTED_PROXIES=["127.0.0.1"])
    rotations = 40
    async with client_for(app) as client:
        for _ in range(rotations):
            host = ":".join(f"{secrets.randbelow(0x10000):x}" for _ in range(4))
            response = await try_login(client, "x@example.com", "bad", ip=f"2001:db8:9:9:{host}")
            assert response.status_code == 401
    # Every attempt landed on the one counter of that /64, so the store holds one per limit.
    limiter = app.state.rate_limiter
    key = limiter.key("login-ip", "2001:db8:9:9::/64")
    hit = await limiter.store.hit(key, 60)
    assert hit.count == rotations + 1
    if not app.state.settings.REDIS_URL:
        async with app.state.engine.connect() as conn:
            keys = (await conn.execute(text("SELECT key FROM rate_limit_counters"))).scalars()
            kinds = sorted(key.split(":")[0] for key in keys)
        assert kinds == ["login-account", "login-ip"]


def _guess(path: str, password: str) -> dict[str, Any]:
    if path.endswith("/password"):
        return {"current_password": password, "new_password": "brand-new-horse-99"}
    return {"password": password}


async def check_password(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, password: str, ip: str
) -> httpx.Response:
    method = "POST" if path.endswith("/password") else "DELETE"
    return await client.request(
        method, path, json=_guess(path, password), headers={**headers, **from_ip(ip)}
    )


CHANGE, DELETE = "/api/users/me/password", "/api/users/me"


def assert_too_many_guesses(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["detail"] == "Too many password attempts, please retry later"
    assert 1 <= int(response.headers["Retry-After"]) <= 900


async def test_password_confirmed_routes_are_limited_per_account(limited_app: AppFactory) -> None:
    app = limited_app(
        PASSWORD_CHECK_RATE_LIMIT_ACCOUNT=3,
        PASSWORD_CHECK_RATE_LIMIT_CLIENT=100,
        TRUSTED_PROXIES=["127.0.0.1"],
    )
    async with client_for(app) as client:
        ada = await vendor(client, "ada@example.com")
        # A stolen token guessing from a new address each time, on either route: one budget.
        for index, path in enumerate((CHANGE, DELETE, CHANGE)):
            wrong = await check_password(client, ada, path, "guess", f"203.0.113.{index}")
            assert wrong.status_code == 400, wrong.text
        for path in (CHANGE, DELETE):
            assert_too_many_guesses(await check_password(client, ada, path, PASSWORD, "192.0.2.1"))
        # Another account is not affected, and the right password clears its own count.
        bob = await vendor(client, "bob@example.com")
        for password in ("guess", "guess", PASSWORD):
            response = await check_password(client, bob, CHANGE, password, "203.0.113.1")
            assert response.status_code == (204 if password == PASSWORD else 400), response.text
        for _ in range(2):
            wrong = await check_password(client, bob, CHANGE, "guess", "203.0.113.1")
            assert wrong.status_code == 400


async def test_password_confirmed_routes_are_limited_per_client(limited_app: AppFactory) -> None:
    app = limited_app(
        PASSWORD_CHECK_RATE_LIMIT_ACCOUNT=100,
        PASSWORD_CHECK_RATE_LIMIT_CLIENT=4,
        TRUSTED_PROXIES=["127.0.0.1"],
    )
    async with client_for(app) as client:
        tokens = [await vendor(client, f"v{index}@example.com") for index in range(2)]
        for headers in tokens * 2:
            wrong = await check_password(client, headers, DELETE, "guess", "2001:db8:1:1::5")
            assert wrong.status_code == 400
        # The same client (its /64) with any account is refused; the account elsewhere is not.
        assert_too_many_guesses(
            await check_password(client, tokens[0], CHANGE, PASSWORD, "2001:db8:1:1::77")
        )
        done = await check_password(client, tokens[0], CHANGE, PASSWORD, "198.51.100.1")
        assert done.status_code == 204, done.text


async def test_one_password_check_per_account_at_a_time(
    database_url: str, engine: AsyncEngine
) -> None:
    # Limits off, real Argon2 cost: concurrent guesses for one account queue no more than one
    # hash; the rest are refused at once instead of piling onto the hashing threads.
    settings = make_settings(database_url, ARGON2_TIME_COST=4, ARGON2_MEMORY_COST=19_456)
    app = create_app(settings)
    try:
        async with client_for(app) as client:
            ada = await vendor(client, "ada@example.com")
            guesses = [
                client.post(CHANGE, json=_guess(CHANGE, f"guess-{index}"), headers=ada)
                for index in range(20)
            ]
            responses = await asyncio.gather(*guesses)
    finally:
        await app.state.engine.dispose()
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {400, 429}, statuses
    assert statuses.count(429) >= 10, statuses
    for refused in (response for response in responses if response.status_code == 429):
        assert refused.headers["Retry-After"] == "1"
