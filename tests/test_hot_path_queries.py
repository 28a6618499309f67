"""The hot paths' SQL: a fixed number of statements whatever the store's size, using indexes.

Statements are counted over real HTTP requests on the app's own pool: those SQLAlchemy runs
(its `before_cursor_execute` event) and those the hot paths send straight to asyncpg (the
driver's query logger), transaction control included; no timing anywhere.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import Product
from app.schemas.product import ProductOut, Storefront, StoreProduct
from tests.conftest import postgres_only, register, vendor


@asynccontextmanager
async def recorded_statements(app: FastAPI) -> AsyncIterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []
    watched: list[asyncpg.Connection] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    def record_native(query: asyncpg.connection.LoggedQuery) -> None:
        statements.append((query.query, query.args))

    def watch(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if isinstance(driver, asyncpg.Connection):
            # Kept until the end: asyncpg calls its loggers soon after a query, by when the
            # connection may be back in the pool.
            driver.add_query_logger(record_native)
            watched.append(driver)

    sync_engine = app.state.engine.sync_engine
    listeners = [
        (sync_engine, "before_cursor_execute", record),
        (sync_engine.pool, "checkout", watch),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield statements
        # asyncpg calls its loggers on the loop's next turns after a query.
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
        for driver in watched:
            driver.remove_query_logger(record_native)


async def add_products(engine: AsyncEngine, user_id: str, count: int) -> list[str]:
    """`count` products straight into the table (newest last), half with two photos."""
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"product_{uuid.uuid4().hex}",
            "name": f"Item {index}",
            "description": "cotton" if index % 2 else None,
            "price": Decimal("1500.50") + index,
            "image_url_1": f"https://cdn.example.com/{index}/1.jpg" if index % 2 else None,
            "image_url_3": f"https://cdn.example.com/{index}/3.jpg" if index % 2 else None,
            "is_available": index % 5 != 4,
            "click_count": index,
            "user_id": user_id,
            "created_at": now - timedelta(seconds=count - index),
        }
        for index in range(count)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(Product), rows)
    return [row["id"] for row in rows]


@pytest.mark.parametrize("size", [1, 10, 500])
async def test_statement_counts_do_not_grow_with_the_store(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine, size: int
) -> None:
    headers = await vendor(client, "ada@example.com")
    me = (await client.get("/api/users/me", headers=headers)).json()
    ids = await add_products(engine, me["id"], size)
    available = sum(1 for index in range(size) if index % 5 != 4)
    shown = min(available, 200)

    async with recorded_statements(app) as statements:
        response = await client.get(f"/api/store/{me['store_slug']}")
    assert response.status_code == 200
    assert len(response.json()["products"]) == shown
    assert response.headers["X-Total-Count"] == str(available)
    # The vendor joined to the page of products: one statement.
    assert len(statements) == 1, statements

    async with recorded_statements(app) as statements:
        response = await client.get(f"/api/store/{me['store_slug']}?offset=100000")
    assert response.status_code == 200
    assert response.json()["products"] == []
    assert response.headers["X-Total-Count"] == str(available)
    assert 1 <= len(statements) <= 2, statements

    async with recorded_statements(app) as statements:
        response = await client.get(f"/api/store/{me['store_slug']}/products/{ids[0]}")
    assert response.status_code == 200
    assert 1 <= len(statements) <= 2, statements

    async with recorded_statements(app) as statements:
        response = await client.get("/api/products", headers=headers)
    assert response.status_code == 200
    assert len(response.json()) == min(size, 200)
    assert response.headers["X-Total-Count"] == str(size)
    # The session check joined to the page: one statement.
    assert len(statements) == 1, statements

    async with recorded_statements(app) as statements:
        response = await client.get("/api/products?offset=100000", headers=headers)
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == str(size)
    assert len(statements) <= 3, statements


async def test_missing_store_costs_one_statement(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with recorded_statements(app) as statements:
        response = await client.get("/api/store/nobody-here")
    assert response.status_code == 404
    assert response.json()["detail"] == "Store not found"
    assert len(statements) == 1
    async with recorded_statements(app) as statements:
        response = await client.get("/api/store/nobody-here?offset=50")
    assert response.status_code == 404
    assert len(statements) <= 2


async def test_storefront_and_list_bodies_keep_the_contract(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = await vendor(client, "Ada.Fabrics_NG@example.com")
    me = (await client.get("/api/users/me", headers=headers)).json()
    ids = await add_products(engine, me["id"], 6)

    store = await client.get("/api/store/Ada.Fabrics_NG")
    assert store.status_code == 200
    body = store.json()
    assert list(body) == [
        "vendor_name",
        "store_name",
        "whatsapp_number",
        "banner_url",
        "store_slug",
        "share_url",
        "products",
    ]
    assert body["vendor_name"] == "Ada Fabrics Ng"
    assert body["store_slug"] == me["store_slug"]
    # Available only (index 4 is not), newest first; money is a JSON number.
    assert [p["id"] for p in body["products"]] == [ids[5], ids[3], ids[2], ids[1], ids[0]]
    first = body["products"][0]
    assert first == {
        "id": ids[5],
        "name": "Item 5",
        "price": 1505.5,
        "image_urls": ["https://cdn.example.com/5/1.jpg", "https://cdn.example.com/5/3.jpg"],
        "images": [
            {"slot": 1, "url": "https://cdn.example.com/5/1.jpg"},
            {"slot": 3, "url": "https://cdn.example.com/5/3.jpg"},
        ],
        "description": "cotton",
        "is_available": True,
        "sold_out": False,
    }
    assert body["products"][-1]["price"] == 1500.5
    assert body["products"][-1]["image_urls"] == []

    single = await client.get(f"/api/store/ada-fabrics-ng/products/{ids[5]}")
    assert single.json() == first
    hidden = await client.get(f"/api/store/ada-fabrics-ng/products/{ids[4]}")
    assert hidden.status_code == 404

    listed = (await client.get("/api/products", headers=headers)).json()
    assert [p["id"] for p in listed] == list(reversed(ids))
    unavailable = listed[1]
    assert unavailable["is_available"] is False
    assert set(unavailable) == {
        "id",
        "name",
        "description",
        "price",
        "image_urls",
        "images",
        "is_available",
        "stock",
        "click_count",
        "user_id",
        "created_at",
        "updated_at",
    }
    assert listed[0]["images"] == [
        {"slot": 1, "url": "https://cdn.example.com/5/1.jpg"},
        {"slot": 3, "url": "https://cdn.example.com/5/3.jpg"},
    ]
    assert listed[0]["price"] == 1505.5 and listed[0]["click_count"] == 5
    assert listed[0]["user_id"] == me["id"] and listed[0]["updated_at"] is None
    assert datetime.fromisoformat(listed[0]["created_at"]).tzinfo is not None


async def test_hand_built_bodies_follow_the_schemas(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """The hot paths build their JSON without the response models; the models stay the contract:
    the same fields in the same order, and every body validates against its model."""
    headers = await vendor(client)
    me = (await client.get("/api/users/me", headers=headers)).json()
    ids = await add_products(engine, me["id"], 2)
    store = (await client.get("/api/store/ada")).json()
    assert list(store) == list(Storefront.model_fields)
    assert list(store["products"][0]) == list(StoreProduct.model_fields)
    Storefront.model_validate(store)
    single = (await client.get(f"/api/store/ada/products/{ids[1]}")).json()
    assert list(single) == list(StoreProduct.model_fields)
    listed = (await client.get("/api/products", headers=headers)).json()
    assert [list(item) for item in listed] == [list(ProductOut.model_fields)] * 2
    for item in listed:
        ProductOut.model_validate(item)


async def test_pages_through_the_storefront(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    headers = await vendor(client)
    me = (await client.get("/api/users/me", headers=headers)).json()
    await add_products(engine, me["id"], 10)
    seen = []
    for offset in (0, 3, 6):
        page = await client.get(f"/api/store/ada?limit=3&offset={offset}")
        assert page.headers["X-Total-Count"] == "8"
        seen += [p["id"] for p in page.json()["products"]]
    everything = [p["id"] for p in (await client.get("/api/store/ada")).json()["products"]]
    assert seen == everything and len(everything) == 8


async def add_bulk_stores(engine: AsyncEngine) -> str:
    """300 vendors (`bulk-1`..) sharing 30,000 products, analysed; returns one of `bulk-7`'s
    available products."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO users (id, email, hashed_password, whatsapp_number, store_slug)"
                " SELECT 'user_' || md5(g::text), 'bulk' || g || '@example.com', 'x',"
                " '+2348000000000', 'bulk-' || g FROM generate_series(1, 300) g"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO products (id, name, price, is_available, click_count, user_id,"
                " created_at) SELECT 'product_' || md5(g::text), 'Item ' || g, 100, g % 7 <> 0,"
                " 0, 'user_' || md5((g % 300 + 1)::text), now() - g * interval '1 second'"
                " FROM generate_series(1, 30000) g"
            )
        )
        await conn.execute(text("ANALYZE users"))
        await conn.execute(text("ANALYZE products"))
        product_id: str = (
            await conn.execute(
                text("SELECT id FROM products WHERE user_id = 'user_' || md5('7') AND is_available")
            )
        ).scalar()
    return product_id


@postgres_only
async def test_store_lookups_use_indexes_on_a_large_table(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await register(client, "ada@example.com")
    product_id = await add_bulk_stores(engine)
    headers = await vendor(client, "bola@example.com")

    async with recorded_statements(app) as statements:
        assert (await client.get("/api/store/bulk-7")).status_code == 200
        assert (await client.get("/api/store/bulk-7?offset=9999")).status_code == 200
        assert (await client.get(f"/api/store/bulk-7/products/{product_id}")).status_code == 200
        assert (await client.get("/api/products", headers=headers)).status_code == 200
    product_reads = [(sql, params) for sql, params in statements if "products" in sql]
    assert len(product_reads) >= 4
    async with engine.connect() as conn:
        for sql, params in product_reads:
            plan = "\n".join(row[0] for row in await conn.exec_driver_sql(f"EXPLAIN {sql}", params))
            assert "Seq Scan on products" not in plan, plan
            assert "Index" in plan, plan


async def test_a_store_with_nothing_on_show_is_an_empty_page(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = await vendor(client)
    me = (await client.get("/api/users/me", headers=headers)).json()
    for offset in (0, 5):
        empty = await client.get(f"/api/store/ada?offset={offset}")
        assert empty.status_code == 200
        assert empty.json()["products"] == [] and empty.headers["X-Total-Count"] == "0"
        assert empty.json()["store_slug"] == me["store_slug"]
    # Only unavailable products (every fifth is): still an empty shop window.
    hidden = await add_products(engine, me["id"], 5)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE products SET is_available = false WHERE user_id = :u"), {"u": me["id"]}
        )
    shown = await client.get("/api/store/ada")
    assert shown.json()["products"] == [] and shown.headers["X-Total-Count"] == "0"
    assert (await client.get(f"/api/store/ada/products/{hidden[0]}")).status_code == 404


async def test_the_list_checks_the_session_in_its_one_statement(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = await vendor(client)
    me = (await client.get("/api/users/me", headers=headers)).json()
    empty = await client.get("/api/products?offset=5", headers=headers)
    assert empty.status_code == 200 and empty.json() == []
    assert empty.headers["X-Total-Count"] == "0"
    await add_products(engine, me["id"], 3)
    assert len((await client.get("/api/products", headers=headers)).json()) == 3
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 200
    for path in ("/api/products", "/api/products?offset=5"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["detail"] == "Could not validate credentials"
