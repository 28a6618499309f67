"""A vendor's products over the frontend's multipart form and JSON, and the click counter."""

import asyncio
import io
from decimal import Decimal

import httpx
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import create_product, vendor

FRONTEND_FORM = {
    "name": "Ankara dress",
    "description": "",
    "price": "15000",
    "is_available": "true",
}


async def test_create_with_the_frontends_multipart_form(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    photo = io.BytesIO()
    Image.new("RGB", (40, 30), "orange").save(photo, "JPEG")
    files = {"image_1": ("photo.jpg", photo.getvalue(), "image/jpeg")}
    for path in ("/api/products", "/api/products/"):
        response = await client.post(path, data=FRONTEND_FORM, files=files, headers=headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["id"].startswith("product_") and len(body["id"]) == len("product_") + 32
        assert body["name"] == "Ankara dress"
        assert body["price"] == 15000 and isinstance(body["price"], int)
        assert body["is_available"] is True
        assert body["click_count"] == 0
        assert len(body["image_urls"]) == 1
        assert body["images"] == [{"slot": 1, "url": body["image_urls"][0]}]
        assert body["description"] in (None, "")
        assert set(body) >= {"user_id", "created_at", "updated_at"}
        # Time-zone aware on SQLite too.
        assert body["created_at"].endswith(("Z", "+00:00"))


async def test_collection_paths_never_redirect(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    for path in ("/api/products", "/api/products/"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200
        assert response.json() == []


async def test_json_create_and_exact_prices(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    headers = await vendor(client)
    for sent, shown in [("1999.99", 1999.99), (0.1, 0.1), ("9999999999.99", 9999999999.99)]:
        body = await create_product(client, headers, price=sent)
        assert body["price"] == shown
    async with engine.connect() as conn:
        prices = (await conn.execute(text("SELECT price FROM products"))).scalars().all()
    if engine.dialect.name == "postgresql":
        assert sorted(prices) == [Decimal("0.10"), Decimal("1999.99"), Decimal("9999999999.99")]


@pytest.mark.parametrize(
    "price",
    ["0", "-5", "19.999", "NaN", "Infinity", "-Infinity", "1e400", "10000000000", "abc", "", None],
)
async def test_bad_prices_are_422_and_store_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, price: str | None
) -> None:
    headers = await vendor(client)
    form = {**FRONTEND_FORM, "price": price} if price is not None else {"name": "x"}
    response = await client.post("/api/products", data=form, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("price")
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM products"))).scalar_one() == 0


async def test_json_nan_and_huge_numbers_are_422(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    for raw in (b'{"name": "x", "price": NaN}', b'{"name": "x", "price": 1e999}'):
        response = await client.post(
            "/api/products",
            content=raw,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert response.status_code in (400, 422), response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("name", "   "), ("name", "x" * 201), ("description", "d" * 2001)],
)
async def test_name_and_description_limits(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    headers = await vendor(client)
    response = await client.post(
        "/api/products", json={"name": "ok", "price": "10", field: value}, headers=headers
    )
    assert response.status_code == 422


async def test_client_cannot_set_server_fields(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    body = await create_product(
        client,
        headers,
        id="product_mine",
        user_id="user_someone_else",
        click_count=999,
        created_at="2000-01-01T00:00:00Z",
    )
    assert body["id"] != "product_mine"
    assert body["user_id"] != "user_someone_else"
    assert body["click_count"] == 0
    assert not body["created_at"].startswith("2000")


async def test_is_available_false_from_the_form(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    form = {**FRONTEND_FORM, "is_available": "false"}
    response = await client.post("/api/products", data=form, headers=headers)
    assert response.json()["is_available"] is False


async def test_list_is_newest_first_and_paginated(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    other = await vendor(client, "bola@example.com")
    names = [f"p{i}" for i in range(5)]
    for name in names:
        await create_product(client, headers, name=name, is_available=name != "p2")
    await create_product(client, other, name="not mine")
    response = await client.get("/api/products", headers=headers)
    assert [p["name"] for p in response.json()] == names[::-1]
    assert response.headers["X-Total-Count"] == "5"
    page = await client.get("/api/products?limit=2&offset=1", headers=headers)
    assert [p["name"] for p in page.json()] == ["p3", "p2"]
    assert page.headers["X-Total-Count"] == "5"
    for bad in ("limit=501", "limit=0", "offset=-1", "limit=abc"):
        assert (await client.get(f"/api/products?{bad}", headers=headers)).status_code == 422


async def test_update_changes_only_what_was_sent(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers, description="Soft cotton")
    response = await client.put(
        f"/api/products/{product['id']}", data={"price": "12500.50"}, headers=headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["price"] == 12500.5
    assert body["name"] == product["name"]
    assert body["description"] == "Soft cotton"
    assert body["updated_at"] is not None
    cleared = await client.put(
        f"/api/products/{product['id']}", data={"description": ""}, headers=headers
    )
    assert cleared.json()["description"] in (None, "")
    unavailable = await client.put(
        f"/api/products/{product['id']}", json={"is_available": False}, headers=headers
    )
    assert unavailable.json()["is_available"] is False
    bad = await client.put(f"/api/products/{product['id']}", json={"price": "-1"}, headers=headers)
    assert bad.status_code == 422
    fetched = await client.get(f"/api/products/{product['id']}", headers=headers)
    assert fetched.json()["price"] == 12500.5


async def test_another_vendors_product_is_404_on_every_verb(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    owner = await vendor(client, "ada@example.com")
    intruder = await vendor(client, "bola@example.com")
    product = await create_product(client, owner)
    path = f"/api/products/{product['id']}"
    missing = "/api/products/product_" + "0" * 32
    for target in (path, missing):
        assert (await client.get(target, headers=intruder)).status_code == 404
        put = await client.put(target, json={"name": "mine now"}, headers=intruder)
        assert put.status_code == 404
        assert put.json()["detail"] == "Product not found"
        assert (await client.delete(target, headers=intruder)).status_code == 404
    unchanged = await client.get(path, headers=owner)
    assert unchanged.json()["name"] == product["name"]
    assert (await client.get("/api/products", headers=intruder)).json() == []


async def test_delete(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    response = await client.delete(f"/api/products/{product['id']}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    again = await client.delete(f"/api/products/{product['id']}", headers=headers)
    assert again.status_code == 404


async def test_products_need_auth(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/products")).status_code == 401
    response = await client.post("/api/products", json={"name": "x", "price": "1"})
    assert response.status_code == 401


async def test_track_click(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    hidden = await create_product(client, headers, is_available=False)
    shopper = {"X-Forwarded-For": "198.51.100.7"}
    response = await client.post(f"/api/products/{product['id']}/track-click", headers=shopper)
    assert response.status_code == 200
    assert response.json() == {"message": "Click tracked successfully"}
    stored = await client.get(f"/api/products/{product['id']}", headers=headers)
    assert stored.json()["click_count"] == 1
    for target in (hidden["id"], "product_" + "f" * 32):
        response = await client.post(f"/api/products/{target}/track-click")
        assert response.status_code == 404
    assert (await client.get(f"/api/products/{hidden['id']}", headers=headers)).json()[
        "click_count"
    ] == 0


async def test_concurrent_creates_all_land(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    responses = await asyncio.gather(
        *(
            client.post("/api/products", json={"name": f"p{i}", "price": "5"}, headers=headers)
            for i in range(10)
        )
    )
    assert [r.status_code for r in responses] == [201] * 10
    listing = await client.get("/api/products", headers=headers)
    assert listing.headers["X-Total-Count"] == "10"


async def test_negative_price_is_told_the_rule(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    response = await client.post(
        "/api/products", data={**FRONTEND_FORM, "price": "-5"}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "price: Input should be greater than 0"
