"""The hot GET routes' shortcut serves the plain case; everything else gets FastAPI's answer."""

import httpx
import pytest

from app.api.shortcuts import plain_page
from tests.conftest import create_product, vendor


@pytest.mark.parametrize(
    ("query", "page"),
    [
        (b"", {"limit": 200, "offset": 0}),
        (b"limit=5&offset=10", {"limit": 5, "offset": 10}),
        (b"utm_source=whatsapp&limit=3", {"limit": 3, "offset": 0}),
        (b"%6Cimit=4", {"limit": 4, "offset": 0}),
        (b"limit=500&offset=10000000", {"limit": 500, "offset": 10_000_000}),
        (b"limit=0", None),
        (b"limit=501", None),
        (b"offset=10000001", None),
        (b"limit=-1", None),
        (b"limit=+5", None),
        (b"limit=5&limit=6", None),
        (b"limit=", None),
        (b"limit=%D9%A1", None),  # an Arabic-Indic digit: FastAPI decides
        (b"offset=99999999999999999999", None),
    ],
)
def test_plain_page(query: bytes, page: dict[str, int] | None) -> None:
    assert plain_page(query) == page


async def test_what_the_shortcut_declines_gets_fastapis_answer(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    await create_product(client, headers)
    for path in ("/api/store/ada", "/api/products"):
        for query in ("limit=0", "limit=abc", "offset=-1", "limit=501"):
            response = await client.get(f"{path}?{query}", headers=headers)
            assert response.status_code == 422, (path, query, response.text)
            body = response.json()
            assert body["detail"].startswith(query.split("=")[0]) and body["errors"]
        assert (await client.get(f"{path}?limit=007", headers=headers)).status_code == 200
        assert (await client.get(f"{path}?limit=1&limit=2", headers=headers)).status_code == 200
        assert (await client.post(path, headers=headers, json={})).status_code != 200
        assert (await client.head(path, headers=headers)).status_code == 405
    long_name = "a" * 201
    too_long = await client.get(f"/api/store/{long_name}")
    assert too_long.status_code == 422 and "identifier" in too_long.json()["detail"]
    assert (await client.get(f"/api/store/{'a' * 200}")).status_code == 404
    product = (await client.get("/api/products", headers=headers)).json()[0]["id"]
    too_long_id = await client.get(f"/api/store/ada/products/{product}{'x' * 100}")
    assert too_long_id.status_code == 422 and "product_id" in too_long_id.json()["detail"]


async def test_the_plain_case_is_served_with_the_usual_headers(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    await create_product(client, headers)
    store = await client.get("/api/store/ada?utm_source=whatsapp", headers={"Origin": "x"})
    assert store.status_code == 200 and len(store.json()["products"]) == 1
    for name in ("ETag", "X-Request-ID", "X-Content-Type-Options", "X-Total-Count"):
        assert store.headers[name], name
    assert store.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    again = await client.get("/api/store/ada", headers={"If-None-Match": store.headers["ETag"]})
    assert again.status_code == 304
    own = await client.get("/api/products", headers=headers)
    assert own.headers["Cache-Control"] == "private, no-store"
    assert (await client.get("/api/products")).status_code == 401
