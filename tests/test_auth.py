"""Login, logout, refresh and session checks, with the token checked against the sessions table."""

import asyncio
import os
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.security.passwords import HASHING_NICE
from app.security.tokens import InvalidTokenError, create_access_token, decode_access_token
from app.settings import Settings
from tests.conftest import (
    FRONTEND,
    PASSWORD,
    bearer,
    client_for,
    login,
    make_settings,
    register,
)


async def test_login_returns_token_and_httponly_cookie(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    response = await client.post(
        "/api/auth/login", json={"email": "ADA@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"access_token={body['access_token']}")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    me = await client.get("/api/users/me", headers=bearer(body["access_token"]))
    assert me.json()["email"] == "ada@example.com"


async def test_login_accepts_the_oauth2_form(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    response = await client.post(
        "/api/auth/login", data={"username": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["access_token"]


async def test_unknown_email_and_wrong_password_look_the_same(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    wrong = await client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "not-the-password"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["detail"] == "Incorrect email or password"
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "set-cookie" not in response.headers


async def test_cookie_authenticates_reads(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    await login(client, "ada@example.com")  # the client keeps the cookie
    response = await client.get("/api/users/me")
    assert response.status_code == 200


async def test_logout_revokes_the_token_everywhere(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    token = await login(client, "ada@example.com")
    client.cookies.clear()
    other_token = await login(client, "ada@example.com")
    client.cookies.clear()
    response = await client.post("/api/auth/logout", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"message": "Successfully logged out"}
    assert 'access_token=""' in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    again = await client.get("/api/users/me", headers=bearer(token))
    assert again.status_code == 401
    assert again.headers["WWW-Authenticate"] == "Bearer"
    check = await client.get("/api/auth/check-session", headers=bearer(token))
    assert check.json() == {"authenticated": False}
    # Another login of the same vendor is a separate session and stays valid.
    assert (await client.get("/api/users/me", headers=bearer(other_token))).status_code == 200


async def test_logout_without_token_is_fine(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/logout")
    assert response.status_code == 200
    assert response.json() == {"message": "Successfully logged out"}


async def test_refresh_rotates_the_token(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    old = await login(client, "ada@example.com")
    client.cookies.clear()
    response = await client.post("/api/auth/refresh", headers=bearer(old))
    assert response.status_code == 200
    new = response.json()["access_token"]
    assert new != old
    assert "access_token=" in response.headers["set-cookie"]
    assert (await client.get("/api/users/me", headers=bearer(new))).status_code == 200
    assert (await client.get("/api/users/me", headers=bearer(old))).status_code == 401
    # A revoked token cannot be refreshed again.
    assert (await client.post("/api/auth/refresh", headers=bearer(old))).status_code == 401


async def test_refresh_by_cookie_from_the_frontend(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    await login(client, "ada@example.com")
    response = await client.post("/api/auth/refresh", headers={"Origin": FRONTEND})
    assert response.status_code == 200
    assert (await client.get("/api/auth/check-session")).json() == {"authenticated": True}


def _forge(settings: Settings, **claims: object) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": "user_x",
        "sid": "session_x",
        "iat": now,
        "exp": now + timedelta(hours=1),
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        **claims,
    }
    return jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256")


async def test_expired_tampered_and_unsigned_tokens_are_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await register(client, "ada@example.com")
    token = await login(client, "ada@example.com")
    client.cookies.clear()
    claims = jwt.decode(token, options={"verify_signature": False})
    past = datetime.now(UTC) - timedelta(days=1)
    expired = _forge(settings, sub=claims["sub"], sid=claims["sid"], iat=past, exp=past)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    unsigned = jwt.encode({**claims, "exp": claims["exp"]}, key=None, algorithm="none")  # alg: none
    other_key = jwt.encode(claims, "another-secret-key-that-is-long-enough!!", algorithm="HS256")
    wrong_audience = _forge(settings, sub=claims["sub"], sid=claims["sid"], aud="elsewhere")
    for bad in (expired, tampered, unsigned, other_key, wrong_audience, "garbage"):
        response = await client.get("/api/users/me", headers=bearer(bad))
        assert response.status_code == 401, bad
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert (await client.post("/api/auth/refresh", headers=bearer(bad))).status_code == 401


async def test_expired_session_row_is_refused(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await register(client, "ada@example.com")
    token = await login(client, "ada@example.com")
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE sessions SET expires_at = :past"),
            {"past": datetime.now(UTC) - timedelta(seconds=1)},
        )
    assert (await client.get("/api/users/me", headers=bearer(token))).status_code == 401


async def test_check_session(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/auth/check-session")).json() == {"authenticated": False}
    await register(client, "ada@example.com")
    token = await login(client, "ada@example.com")
    assert (await client.get("/api/auth/check-session")).json() == {"authenticated": True}
    client.cookies.clear()
    response = await client.get("/api/auth/check-session", headers=bearer(token))
    assert response.json() == {"authenticated": True}


async def test_check_session_is_false_once_the_user_is_gone(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await register(client, "ada@example.com")
    token = await login(client, "ada@example.com")
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM users"))
    response = await client.get("/api/auth/check-session", headers=bearer(token))
    assert response.json() == {"authenticated": False}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Referer": "https://evil.example/page"}, 403),
        ({"Origin": FRONTEND}, 201),
        ({"Referer": f"{FRONTEND}/dashboard/products"}, 201),
    ],
)
async def test_cookie_changes_need_an_allowed_origin(
    client: httpx.AsyncClient, headers: dict[str, str], expected: int
) -> None:
    await register(client, "ada@example.com")
    await login(client, "ada@example.com")
    response = await client.post(
        "/api/products", json={"name": "Bag", "price": "10"}, headers=headers
    )
    assert response.status_code == expected, response.text
    if expected == 403:
        assert "Origin" in response.json()["detail"]


async def test_bearer_requests_are_exempt_from_the_origin_check(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    token = await login(client, "ada@example.com")
    response = await client.post(
        "/api/products",
        json={"name": "Bag", "price": "10"},
        headers={**bearer(token), "Origin": "https://evil.example"},
    )
    assert response.status_code == 201


async def test_legacy_bcrypt_hash_logs_in_and_is_upgraded(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await register(client, "old@example.com")
    legacy = bcrypt.hashpw(b"old-password-1", bcrypt.gensalt(rounds=4)).decode()
    assert legacy.startswith("$2b$")
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE users SET hashed_password = :h"), {"h": legacy})
    token = await login(client, "old@example.com", "old-password-1")
    assert token
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT hashed_password FROM users"))).scalar_one()
    assert stored.startswith("$argon2id$")
    # The upgraded hash still accepts the same password, and a wrong one is still refused.
    client.cookies.clear()
    assert await login(client, "old@example.com", "old-password-1")
    wrong = await client.post(
        "/api/auth/login", json={"email": "old@example.com", "password": "old-password-2"}
    )
    assert wrong.status_code == 401


async def test_a_failed_login_takes_as_long_whatever_failed(
    database_url: str, engine: AsyncEngine
) -> None:
    """No timing difference between an unknown email, a wrong password on an Argon2 account and
    one on an account still on bcrypt (here at the earlier backend's 12 rounds: many times the
    cost of the tests' Argon2), so failed logins do not tell which accounts exist or are old."""
    app = create_app(make_settings(database_url, PASSWORD_LEGACY_BCRYPT_ROUNDS=12))
    try:
        async with client_for(app) as client:
            await register(client, "new@example.com")
            await register(client, "old@example.com")
            legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=12)).decode()
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE users SET hashed_password = :h WHERE email = :e"),
                    {"h": legacy, "e": "old@example.com"},
                )
            taken: dict[str, list[float]] = {}
            for _ in range(4):
                for email in ("nobody@example.com", "new@example.com", "old@example.com"):
                    started = time.perf_counter()
                    response = await client.post(
                        "/api/auth/login", json={"email": email, "password": "wrong-password"}
                    )
                    taken.setdefault(email, []).append(time.perf_counter() - started)
                    assert response.status_code == 401
    finally:
        await app.state.engine.dispose()
    # Medians, which a loaded machine moves together: within a factor of two of each other
    # (unpadded, the unknown email and the Argon2 account took a few per cent of bcrypt's time).
    medians = {email: statistics.median(times) for email, times in taken.items()}
    slowest, fastest = max(medians.values()), min(medians.values())
    assert fastest >= slowest / 2, medians


async def test_bcrypt_long_password_uses_first_72_bytes(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await register(client, "old@example.com")
    long_password = "p" * 100
    legacy = bcrypt.hashpw(long_password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE users SET hashed_password = :h"), {"h": legacy})
    response = await client.post(
        "/api/auth/login", json={"email": "old@example.com", "password": long_password}
    )
    assert response.status_code == 200


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="per-thread nice is POSIX-only")
async def test_hashing_runs_on_low_priority_threads(
    client: httpx.AsyncClient, app: FastAPI, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if own >= HASHING_NICE:
        pytest.skip("the tests already run at the lowest priority")
    hasher = app.state.hasher
    seen: list[tuple[str, str, int]] = []

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            thread = threading.current_thread().name
            seen.append((name, thread, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
            return real(*args)

        return run

    for name in ("hash_sync", "verify_and_update_sync", "dummy_verify_sync"):
        monkeypatch.setattr(hasher, name, spy(name, getattr(hasher, name)))
    await register(client, "ada@example.com")
    await login(client, "ada@example.com")
    unknown = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert unknown.status_code == 401
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE users SET hashed_password = :h"), {"h": legacy})
    await login(client, "ada@example.com")  # verifies the bcrypt hash, then re-hashes it

    assert {name for name, _, _ in seen} == {
        "hash_sync",
        "verify_and_update_sync",
        "dummy_verify_sync",
    }
    for name, thread, nice in seen:
        assert thread.startswith("password-hash"), (name, thread)
        assert nice == HASHING_NICE, (name, thread, nice)
    # Only the pool's threads were lowered: the event loop's thread keeps its priority.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own


async def test_malformed_login_bodies_are_4xx(client: httpx.AsyncClient) -> None:
    cases = [
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        {"content": b"[1, 2]", "headers": {"Content-Type": "application/json"}},
        {"content": b"email=x", "headers": {"Content-Type": "text/plain"}},
        {"json": {"email": "ada@example.com"}},
    ]
    for case in cases:
        response = await client.post("/api/auth/login", **case)  # type: ignore[arg-type]
        assert 400 <= response.status_code < 500, response.text
        assert isinstance(response.json()["detail"], str)


async def test_tokens_carry_the_documented_claims(
    client: httpx.AsyncClient, settings: Settings, app: FastAPI
) -> None:
    user = await register(client, "ada@example.com")
    token = await login(client, "ada@example.com")
    claims = jwt.decode(
        token,
        settings.SECRET_KEY,
        algorithms=["HS256"],
        audience=settings.JWT_AUDIENCE,
        issuer=settings.JWT_ISSUER,
    )
    assert claims["sub"] == user["id"]
    assert claims["sid"].startswith("session_")
    assert claims["exp"] - claims["iat"] == settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60


async def test_a_token_verified_once_still_expires_on_time(settings: Settings) -> None:
    """Verified tokens are remembered; their expiry is not."""
    lifetime = timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    issued_at = datetime.now(UTC) - lifetime + timedelta(seconds=1.5)
    token, expires_at = create_access_token(
        settings, user_id="user_1", session_id="session_1", issued_at=issued_at
    )
    for _ in range(2):
        assert decode_access_token(settings, token).session_id == "session_1"
    await asyncio.sleep(max((expires_at - datetime.now(UTC)).total_seconds(), 0) + 0.1)
    with pytest.raises(InvalidTokenError):
        decode_access_token(settings, token)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InvalidTokenError):
        decode_access_token(settings, forged)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Referer": "https://evil.example/login"}, 403),
        ({"Origin": "null"}, 403),
        ({}, 200),
        ({"Origin": FRONTEND}, 200),
        ({"Origin": "http://testserver"}, 200),
    ],
)
async def test_a_cross_site_login_form_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str], expected: int
) -> None:
    """Login CSRF: a foreign page must not log the victim's browser into its own account. API
    clients send no Origin; the API's own origin (here the development host) may post."""
    await register(client, "ada@example.com")
    client.cookies.clear()
    response = await client.post(
        "/api/auth/login",
        data={"username": "ada@example.com", "password": PASSWORD},
        headers=headers,
    )
    assert response.status_code == expected, response.text
    assert ("set-cookie" in response.headers) is (expected == 200)


API_ORIGIN = "https://api.quickvendor.example"
SHOP = "https://shop.quickvendor.example"


@pytest.mark.parametrize("public_base_url", [API_ORIGIN, f"{API_ORIGIN}/v1/"])
async def test_production_login_and_forms_allow_the_apis_own_origin_only(
    database_url: str, engine: AsyncEngine, public_base_url: str
) -> None:
    """Production-like: the API's own origin is PUBLIC_BASE_URL's (a path after it or not), not
    whatever host a request names; the frontend's origins pass, anything else is refused."""
    settings = make_settings(
        database_url,
        ENVIRONMENT="production",
        ALLOW_SQLITE_IN_PRODUCTION=True,
        PUBLIC_BASE_URL=public_base_url,
        CORS_ORIGINS=[SHOP],
    )
    app = create_app(settings)
    try:
        async with client_for(app) as client:
            await register(client, "ada@example.com")
            form = {"username": "ada@example.com", "password": PASSWORD}
            cookie = ""
            for origin, expected in (
                (API_ORIGIN, 200),
                (API_ORIGIN.upper(), 200),
                (SHOP, 200),
                (None, 200),
                ("https://evil.example", 403),
                ("http://testserver", 403),  # the request's own host counts in development only
                ("null", 403),
            ):
                client.cookies.clear()
                headers = {"Origin": origin} if origin else {}
                response = await client.post("/api/auth/login", data=form, headers=headers)
                assert response.status_code == expected, (origin, response.text)
                set_cookie = response.headers.get("set-cookie", "")
                assert bool(set_cookie) is (expected == 200), origin
                if expected == 200:
                    assert "Secure" in set_cookie and "samesite=none" in set_cookie.lower()
                    cookie = set_cookie.split(";", 1)[0]
            client.cookies.clear()
            product = {"name": "Gele", "price": "10"}
            for origin, expected in ((API_ORIGIN, 201), (SHOP, 201), ("https://evil.example", 403)):
                response = await client.post(
                    "/api/products", json=product, headers={"Origin": origin, "Cookie": cookie}
                )
                assert response.status_code == expected, (origin, response.text)
    finally:
        await app.state.engine.dispose()
