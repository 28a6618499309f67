"""bench/baseline/ answers byte for byte what QuickVendor answers, so its figures are a fair limit.

Both apps read the same PostgreSQL database; the storefront's body and the vendor's product list
must be the same bytes, and the baseline must refuse what the app refuses.
"""

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.baseline.app import app as baseline_app
from tests.conftest import postgres_only, vendor
from tests.test_hot_path_queries import add_products

pytestmark = postgres_only


@pytest.fixture
async def baseline(
    database_url: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    # The share link's base, which bench/speed.py gives both servers alike.
    monkeypatch.setattr("bench.baseline.app.SHARE_BASE_URL", settings.share_base_url)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    baseline_app.state.pool = pool
    baseline_app.state.secret = settings.SECRET_KEY
    transport = httpx.ASGITransport(app=baseline_app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://baseline") as client:
            yield client
    finally:
        await pool.close()


@pytest.mark.parametrize("size", [0, 1, 37])
async def test_the_baseline_serves_the_same_bytes(
    client: httpx.AsyncClient, baseline: httpx.AsyncClient, engine: AsyncEngine, size: int
) -> None:
    headers = await vendor(client, "ada.fabrics@example.com")
    me = (await client.get("/api/users/me", headers=headers)).json()
    if size:
        ids = await add_products(engine, me["id"], size)
        # Tracked stock: one sold out (shown as such), one with units left.
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE products SET stock = 0 WHERE id = :id"), {"id": ids[-1]}
            )
            await conn.execute(text("UPDATE products SET stock = 5 WHERE id = :id"), {"id": ids[0]})
    # One product through the API too: prices, descriptions and photo slots as the app stores them.
    if size:
        created = await client.post(
            "/api/products",
            json={"name": "Adire ✓ wrap", "price": "1999.99", "description": "indigo"},
            headers=headers,
        )
        assert created.status_code == 201, created.text

    for path in (f"/api/store/{me['store_slug']}", "/api/store/Ada.Fabrics"):
        ours, theirs = await client.get(path), await baseline.get(path)
        assert ours.status_code == theirs.status_code == 200
        assert ours.content == theirs.content
    assert len((await baseline.get(f"/api/store/{me['store_slug']}")).json()["products"]) == (
        size - size // 5 + (1 if size else 0)
    )

    ours, theirs = (
        await client.get("/api/products", headers=headers),
        await baseline.get("/api/products", headers=headers),
    )
    assert ours.status_code == theirs.status_code == 200
    assert ours.content == theirs.content
    assert ours.headers["X-Total-Count"] == theirs.headers["X-Total-Count"]


async def test_the_baseline_refuses_what_the_app_refuses(
    client: httpx.AsyncClient, baseline: httpx.AsyncClient
) -> None:
    headers = await vendor(client)
    assert (await baseline.get("/api/store/nobody-here")).status_code == 404
    assert (await baseline.get("/api/products")).status_code == 401
    forged = {"Authorization": headers["Authorization"][:-2] + "xx"}
    assert (await baseline.get("/api/products", headers=forged)).status_code == 401
    assert (await baseline.get("/api/products", headers=headers)).status_code == 200
    assert (await client.post("/api/auth/logout", headers=headers)).status_code in (200, 204)
    # The session is checked in the same statement: a logged-out token lists nothing.
    assert (await baseline.get("/api/products", headers=headers)).status_code == 401
