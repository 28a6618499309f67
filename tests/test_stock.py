"""Products' optional stock: set by JSON and by the frontend's form, shown to the owner, and
only "sold out" (never the count) on the storefront."""

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import create_product, vendor


async def stock_in_db(engine: AsyncEngine, product_id: str) -> int | None:
    async with engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT stock FROM products WHERE id = :id"), {"id": product_id}
        )
    return None if value is None else int(value)


async def test_json_sets_changes_and_stops_tracking(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = await vendor(client)
    untracked = await create_product(client, headers)
    assert untracked["stock"] is None
    product = await create_product(client, headers, stock=3)
    assert product["stock"] == 3
    path = f"/api/products/{product['id']}"
    response = await client.put(path, json={"name": "Renamed"}, headers=headers)
    assert response.json()["stock"] == 3  # absent: unchanged
    response = await client.put(path, json={"stock": 0}, headers=headers)
    assert response.json()["stock"] == 0
    assert await stock_in_db(engine, product["id"]) == 0
    response = await client.put(path, json={"stock": None}, headers=headers)
    assert response.json()["stock"] is None
    listed = (await client.get("/api/products", headers=headers)).json()
    assert {p["id"]: p["stock"] for p in listed} == {untracked["id"]: None, product["id"]: None}


async def test_the_form_leaves_stock_alone_unless_sent(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = await vendor(client)
    form = {"name": "Tote", "price": "2500", "is_available": "true", "stock": "7"}
    created = await client.post("/api/products", data=form, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["stock"] == 7
    path = f"/api/products/{created.json()['id']}"
    # The old frontend's form, which knows nothing of stock.
    old = {"name": "Tote", "price": "2600", "is_available": "true", "description": ""}
    response = await client.put(path, data=old, headers=headers)
    assert response.status_code == 200 and response.json()["stock"] == 7
    response = await client.put(path, data={**old, "stock": "2"}, headers=headers)
    assert response.json()["stock"] == 2
    response = await client.put(path, data={**old, "stock": ""}, headers=headers)
    assert response.json()["stock"] is None
    assert await stock_in_db(engine, created.json()["id"]) is None


@pytest.mark.parametrize("stock", [-1, 100_001, "many", 1.5, "1e3", True])
async def test_bad_stock_is_422_and_changes_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, stock: object
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers, stock=5)
    response = await client.put(
        f"/api/products/{product['id']}", json={"stock": stock}, headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("stock")
    assert await stock_in_db(engine, product["id"]) == 5
    response = await client.post(
        "/api/products", json={"name": "x", "price": "1", "stock": stock}, headers=headers
    )
    assert response.status_code == 422


async def test_storefront_says_sold_out_never_the_count(client: httpx.AsyncClient) -> None:
    headers = await vendor(client)
    me = (await client.get("/api/users/me", headers=headers)).json()
    gone = await create_product(client, headers, name="Gone", stock=0)
    few = await create_product(client, headers, name="Few", stock=2)
    free = await create_product(client, headers, name="Free")
    store = await client.get(f"/api/store/{me['store_slug']}")
    products = {p["id"]: p for p in store.json()["products"]}
    assert products[gone["id"]]["sold_out"] is True
    assert products[few["id"]]["sold_out"] is False
    assert products[free["id"]]["sold_out"] is False
    assert all("stock" not in p for p in products.values())
    one = await client.get(f"/api/store/{me['store_slug']}/products/{gone['id']}")
    assert one.json()["sold_out"] is True and "stock" not in one.json()
