"""HTTP caching over real requests: strong ETags and 304s on the public storefront, a new ETag
after any change a shopper could see, `private, no-store` on everything carrying a token, and HEAD
answered as GET without the body."""

import re
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import FRONTEND, create_product, login, register, vendor
from tests.servers import running_api, server_env

PUBLIC = "public, max-age=0, must-revalidate"
NO_STORE = "private, no-store"


async def _etag(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    etag = response.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong: no W/ prefix
    assert response.headers["Cache-Control"] == PUBLIC
    return etag


async def test_storefront_answers_304_to_a_matching_if_none_match(
    client: httpx.AsyncClient,
) -> None:
    headers = await vendor(client)
    await create_product(client, headers, name="Gele")
    first = await client.get("/api/store/ada")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == PUBLIC
    assert await _etag(client, "/api/store/ada") == etag  # stable while nothing changes

    for header in (etag, f"W/{etag}", '"other", ' + etag, "*", f'"x",{etag} , "y"'):
        again = await client.get("/api/store/ada", headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == PUBLIC
        assert again.headers["X-Request-ID"]

    for header in ('"stale"', 'W/"stale"', ""):
        fresh = await client.get("/api/store/ada", headers={"If-None-Match": header})
        assert fresh.status_code == 200
        assert fresh.json() == first.json()


async def test_any_visible_change_changes_the_etag_at_once(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers, name="Gele", price="2500")
    seen = [await _etag(client, "/api/store/ada")]

    async def changed() -> None:
        # The copy a shopper holds is no longer current: a full 200 with a new ETag.
        fresh = await client.get("/api/store/ada", headers={"If-None-Match": seen[-1]})
        assert fresh.status_code == 200
        etag = fresh.headers["ETag"]
        assert etag != seen[-1]
        seen.append(etag)
        current = await client.get("/api/store/ada", headers={"If-None-Match": etag})
        assert current.status_code == 304

    update = {"price": "2600"}
    assert (
        await client.put(f"/api/products/{product['id']}", json=update, headers=headers)
    ).is_success
    await changed()
    second = await create_product(client, headers, name="Aso oke")
    await changed()
    hide = {"is_available": False}
    assert (
        await client.put(f"/api/products/{second['id']}", json=hide, headers=headers)
    ).is_success
    await changed()
    rename = {"store_name": "Ada Fabrics"}
    assert (await client.put("/api/users/me/store", json=rename, headers=headers)).is_success
    await changed()
    assert (await client.delete(f"/api/products/{product['id']}", headers=headers)).is_success
    await changed()


async def test_single_product_etag_and_304(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers, name="Gele")
    path = f"/api/store/ada/products/{product['id']}"
    etag = await _etag(client, path)
    cached = await client.get(path, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    rename = {"name": "Gele, red"}
    assert (
        await client.put(f"/api/products/{product['id']}", json=rename, headers=headers)
    ).is_success
    assert (await client.get(path, headers={"If-None-Match": etag})).status_code == 200
    assert await _etag(client, path) != etag


async def test_missing_store_is_not_cached_as_a_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/store/nobody", headers={"If-None-Match": "*"})
    assert response.status_code == 404
    assert "ETag" not in response.headers


async def test_every_answer_to_a_token_is_private_no_store(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    await create_product(client, headers)
    for method, path in (
        ("GET", "/api/products"),
        ("GET", "/api/users/me"),
        ("GET", "/api/auth/check-session"),
        ("GET", "/api/products/product_missing"),
        ("GET", "/api/store/ada"),
    ):
        response = await client.request(method, path, headers=headers)
        assert response.headers["Cache-Control"] == NO_STORE, (method, path)

    forged = {"Authorization": "Bearer not-a-token"}
    denied = await client.get("/api/products", headers=forged)
    assert denied.status_code == 401
    assert denied.headers["Cache-Control"] == NO_STORE
    invalid = await client.get("/api/products?limit=0", headers=headers)
    assert invalid.status_code == 422
    assert invalid.headers["Cache-Control"] == NO_STORE


async def test_cookie_sessions_are_private_no_store_too(client: httpx.AsyncClient) -> None:
    await register(client, "bola@example.com")
    await login(client, "bola@example.com")  # keeps the HttpOnly cookie
    me = await client.get("/api/users/me", headers={"Origin": FRONTEND})
    assert me.status_code == 200
    assert me.headers["Cache-Control"] == NO_STORE
    client.cookies.clear()
    anonymous = await client.get("/api/store/bola")
    assert anonymous.headers["Cache-Control"] == PUBLIC


def get_paths(app: FastAPI, values: dict[str, str]) -> list[str]:
    """Every GET route of the app (the fast ones included), with its path values filled in."""
    paths = []
    for context in iter_route_contexts(app.router.routes):
        if "GET" in (getattr(context, "methods", None) or ()):
            path = re.sub(r"{(\w+)(:\w+)?}", lambda m: values.get(m.group(1), "1"), context.path)
            paths.append(path)
    return sorted(set(paths))


async def test_head_is_a_get_without_the_body_on_every_get_route(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    paths = get_paths(app, {"identifier": "ada", "product_id": product["id"], "slot": "1"})
    for required in ("/api/store/ada", "/api/products", "/api/health/live", "/api/users/me"):
        assert required in paths
    for path in paths:
        get = await client.get(path, headers=headers)
        head = await client.head(path, headers=headers)
        assert head.status_code == get.status_code, (path, head.status_code)
        assert head.content == b"", path
        for name in ("content-type", "content-length", "etag", "cache-control", "x-total-count"):
            assert head.headers.get(name) == get.headers.get(name), (path, name)
    # A conditional HEAD is answered like a conditional GET.
    etag = (await client.get("/api/store/ada")).headers["ETag"]
    assert (await client.head("/api/store/ada", headers={"If-None-Match": etag})).status_code == 304


async def test_head_through_a_real_server_keeps_the_connection(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    with running_api(server_env(database_url), tmp_path / "server.log") as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            get = await http.get("/api/health/live")
            head = await http.head("/api/health/live")
            again = await http.get("/api/health/live")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == get.headers["content-length"]
    assert again.json() == {"status": "ok"}
