"""Every authenticated route, found by walking the app's routes, refuses a missing, revoked,
expired or forged token with 401, and a cookie sent cross-site on a change with 403."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.api.authentication import INVALID_TOKEN, UNAUTHENTICATED, get_authenticated
from app.fastpath.shortcuts import FastRoute
from app.main import create_app
from app.settings import Settings
from tests.conftest import FRONTEND, bearer, create_product, login, make_settings, register

SAFE = {"GET", "HEAD", "OPTIONS"}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def needs_login(route: APIRoute) -> bool:
    """ORM routes depend on get_authenticated; fast routes take the Bearer token themselves."""
    if isinstance(route, FastRoute):
        return route.dependant.dependencies != []
    return get_authenticated in set(_calls(route.dependant))


def authenticated_routes() -> list[tuple[str, str]]:
    app = create_app(make_settings("sqlite+aiosqlite:///unused.db"))
    found = []
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and needs_login(route):
            found += [(method, route.path) for method in sorted(route.methods)]
    return found


ROUTES = authenticated_routes()


def test_the_walk_finds_the_routes_we_know() -> None:
    assert ("GET", "/api/products") in ROUTES
    assert ("GET", "/api/users/me") in ROUTES
    assert ("DELETE", "/api/users/me") in ROUTES
    assert ("POST", "/api/auth/refresh") in ROUTES
    assert ("GET", "/api/store/{identifier}") not in ROUTES
    assert len(ROUTES) >= 14


def _forged(settings: Settings, claims: dict[str, Any], **changes: Any) -> str:
    return jwt.encode({**claims, **changes}, settings.SECRET_KEY, algorithm="HS256")


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_every_authenticated_route_refuses_bad_credentials(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, method: str, path: str
) -> None:
    await register(client, "ada@example.com")
    revoked = await login(client, "ada@example.com")
    assert (await client.post("/api/auth/logout", headers=bearer(revoked))).status_code == 200
    live = await login(client, "ada@example.com")
    cookie = client.cookies.get(settings.COOKIE_NAME)
    client.cookies.clear()
    product = await create_product(client, bearer(live))
    url = path.replace("{product_id}", product["id"]).replace("{slot}", "1")

    claims = jwt.decode(live, options={"verify_signature": False})
    past = datetime.now(UTC) - timedelta(hours=1)
    expired = _forged(settings, claims, iat=past - timedelta(hours=1), exp=past)
    forged = jwt.encode(claims, "another-secret-key-that-is-long-enough!!", algorithm="HS256")

    async def call(
        headers: dict[str, str], cookies: dict[str, str] | None = None
    ) -> httpx.Response:
        body = None if method in SAFE else {}
        client.cookies.clear()
        for name, value in (cookies or {}).items():
            client.cookies.set(name, value)
        return await client.request(method, url, headers=headers, json=body)

    missing = await call({})
    assert missing.status_code == 401 and missing.json()["detail"] == UNAUTHENTICATED
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    for token in (revoked, expired, forged):
        refused = await call(bearer(token))
        assert refused.status_code == 401, (token, refused.text)
        assert refused.json()["detail"] == INVALID_TOKEN
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        by_cookie = await call({"Origin": FRONTEND}, {settings.COOKIE_NAME: token})
        assert by_cookie.status_code == 401, by_cookie.text

    assert cookie is not None
    cross_site = await call({"Origin": "https://evil.example"}, {settings.COOKIE_NAME: cookie})
    if method in SAFE:
        assert cross_site.status_code not in (401, 403), cross_site.text
    else:
        assert cross_site.status_code == 403, cross_site.text
    # None of it changed the account: the live token still works.
    client.cookies.clear()
    assert (await client.get("/api/users/me", headers=bearer(live))).status_code == 200
