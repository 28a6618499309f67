"""HTTP caching over real requests: strong ETags and 304s on the public storefront, a new ETag
after any change a shopper could see, and `private, no-store` on everything carrying a token."""

import httpx

from tests.conftest import FRONTEND, create_product, login, register, vendor

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
