"""Recent store reads (app/fastpath/recent.py): a shopper's view reuses what was read moments
ago; a vendor's change shows on the next view, in this process and in every other; a change
made behind the app's back within STORE_CACHE_SECONDS; nothing signed-in is ever reused.

Time bounds here are what the setting promises (a change within the window), plus slack for a
loaded machine; they are not speed measurements.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import LISTENER_NAME
from tests.conftest import PASSWORD, create_product, make_settings, postgres_only, vendor
from tests.servers import running_api, server_env
from tests.test_hot_path_queries import recorded_statements

WINDOW = 0.5  # STORE_CACHE_SECONDS's default
SLACK = 0.5


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[None]:
    """The app as a server runs it (its lifespan: on PostgreSQL the change listener), once its
    recent reads are trusted."""
    async with app.router.lifespan_context(app):
        await until(lambda: app.state.store_reads.storefront.trusted)
        yield


async def until(condition: Callable[[], bool]) -> None:
    """Polls `condition()` until it holds; fails after 10 seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < 10, "condition never held"
        await asyncio.sleep(0.01)


async def rename_by_hand(engine: AsyncEngine) -> None:
    """Every product renamed by SQL, behind the app's back (no session of its own sees it)."""
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE products SET name = 'Changed by hand'"))


def names(storefront: httpx.Response) -> list[str]:
    return [product["name"] for product in storefront.json()["products"]]


async def test_views_within_the_window_read_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serving(app):
        headers = await vendor(client)
        await create_product(client, headers, name="Ankara dress")
        store, page = await client.get("/api/store/ada"), await client.get("/s/ada")
        assert store.status_code == page.status_code == 200
        async with recorded_statements(app) as statements:
            again = await client.get("/api/store/ada")
            page_again = await client.get("/s/ada")
            revalidated = await client.get(
                "/api/store/ada", headers={"If-None-Match": store.headers["ETag"]}
            )
        assert statements == []
        assert (again.content, again.headers["ETag"]) == (store.content, store.headers["ETag"])
        assert again.headers["X-Total-Count"] == "1"
        assert page_again.content == page.content
        assert revalidated.status_code == 304
        # Another page, another limit: reads of their own.
        async with recorded_statements(app) as statements:
            assert (await client.get("/api/store/ada?limit=1")).status_code == 200
        assert len(statements) == 1


async def test_a_missing_store_is_never_kept(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with serving(app):
        assert (await client.get("/api/store/ada")).status_code == 404
        assert (await client.get("/s/ada")).status_code == 404
        await vendor(client)
        assert (await client.get("/api/store/ada")).status_code == 200
        assert (await client.get("/s/ada")).status_code == 200


async def test_concurrent_views_of_a_cold_store_share_one_read(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serving(app):
        headers = await vendor(client)
        await create_product(client, headers)
        async with recorded_statements(app) as statements:
            answers = await asyncio.gather(*(client.get("/api/store/ada") for _ in range(20)))
        assert [a.status_code for a in answers] == [200] * 20
        assert len({a.content for a in answers}) == 1
        assert len(statements) == 1


async def test_a_vendor_change_shows_on_the_next_view(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serving(app):
        headers = await vendor(client)
        product = await create_product(client, headers, name="Ankara dress", stock=1)
        assert names(await client.get("/api/store/ada")) == ["Ankara dress"]
        assert "Ankara dress" in (await client.get("/s/ada")).text

        update = {"name": "Aso oke wrap", "price": "15000"}
        changed = await client.put(f"/api/products/{product['id']}", json=update, headers=headers)
        assert changed.status_code == 200, changed.text
        assert names(await client.get("/api/store/ada")) == ["Aso oke wrap"]
        assert "Aso oke wrap" in (await client.get("/s/ada")).text

        renamed = await client.put(
            "/api/users/me/store", json={"store_name": "Ada's"}, headers=headers
        )
        assert renamed.status_code == 200, renamed.text
        assert (await client.get("/api/store/ada")).json()["store_name"] == "Ada's"
        number = {"whatsapp_number": "+234 802 000 0000"}
        assert (
            await client.patch("/api/users/me", json=number, headers=headers)
        ).status_code == 200
        assert (await client.get("/api/store/ada")).json()["whatsapp_number"] == "2348020000000"

        # A shopper orders the last one; the vendor's confirmation takes it: sold out next view.
        order = {"items": [{"product_id": product["id"], "quantity": 1}]}
        placed = await client.post("/api/store/ada/orders", json=order)
        assert placed.status_code == 201, placed.text
        assert (await client.get("/api/store/ada")).json()["products"][0]["sold_out"] is False
        confirmed = await client.patch(
            f"/api/orders/{placed.json()['id']}", json={"status": "confirmed"}, headers=headers
        )
        assert confirmed.status_code == 200, confirmed.text
        assert (await client.get("/api/store/ada")).json()["products"][0]["sold_out"] is True
        cancelled = await client.patch(
            f"/api/orders/{placed.json()['id']}", json={"status": "cancelled"}, headers=headers
        )
        assert cancelled.status_code == 200, cancelled.text
        assert (await client.get("/api/store/ada")).json()["products"][0]["sold_out"] is False

        gone = await client.delete(f"/api/products/{product['id']}", headers=headers)
        assert gone.status_code == 204
        assert names(await client.get("/api/store/ada")) == []
        assert "Aso oke wrap" not in (await client.get("/s/ada")).text


async def test_a_tap_keeps_the_recent_reads(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with serving(app):
        headers = await vendor(client)
        product = await create_product(client, headers)
        await client.get("/api/store/ada")
        tapped = await client.post(f"/api/products/{product['id']}/track-click")
        assert tapped.status_code == 200
        async with recorded_statements(app) as statements:
            assert (await client.get("/api/store/ada")).status_code == 200
        assert statements == []


async def test_a_change_behind_the_apps_back_shows_within_the_window(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async with serving(app):
        headers = await vendor(client)
        await create_product(client, headers, name="Ankara dress")
        assert names(await client.get("/api/store/ada")) == ["Ankara dress"]
        await rename_by_hand(engine)
        changed_at = time.monotonic()
        while names(await client.get("/api/store/ada")) != ["Changed by hand"]:
            assert time.monotonic() - changed_at < WINDOW + SLACK
            await asyncio.sleep(0.02)


async def test_a_signed_in_list_is_never_reused(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async with serving(app):
        headers = await vendor(client)
        await create_product(client, headers, name="Ankara dress")
        first = await client.get("/api/products", headers=headers)
        assert [p["name"] for p in first.json()] == ["Ankara dress"]
        await rename_by_hand(engine)
        again = await client.get("/api/products", headers=headers)
        assert [p["name"] for p in again.json()] == ["Changed by hand"]
        assert again.headers["Cache-Control"] == "private, no-store"


@postgres_only
async def test_without_its_listener_a_worker_reads_every_time(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async with serving(app):
        headers = await vendor(client)
        await create_product(client, headers)
        await client.get("/api/store/ada")
        async with engine.begin() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": LISTENER_NAME},
            )
        assert killed == 1
        reads = app.state.store_reads.storefront
        await until(lambda: not reads.trusted)
        for _ in range(2):
            async with recorded_statements(app) as statements:
                assert (await client.get("/api/store/ada")).status_code == 200
            assert len(statements) == 1
        # It connects again, and reuse resumes.
        await until(lambda: reads.trusted)
        await client.get("/api/store/ada")
        async with recorded_statements(app) as statements:
            assert (await client.get("/api/store/ada")).status_code == 200
        assert statements == []


@postgres_only
def test_a_change_on_one_server_shows_on_the_other_at_once(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    # A whole second of reuse allowed: a change seen well within it was announced, not expired.
    env = server_env(database_url, STORE_CACHE_SECONDS="1")
    with (
        running_api(env, tmp_path / "a.log") as a,
        running_api(env, tmp_path / "b.log") as b,
        httpx.Client() as http,
    ):
        account = {"email": "ada@example.com", "password": PASSWORD}
        registered = http.post(
            f"{a}/api/users/register", json={**account, "whatsapp_number": "+234 801 234 5678"}
        )
        assert registered.status_code == 201, registered.text
        token = http.post(f"{a}/api/auth/login", json=account).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        product = http.post(
            f"{a}/api/products", json={"name": "Ankara dress", "price": "15000"}, headers=headers
        ).json()
        for _ in range(3):  # kept by both servers
            assert names(http.get(f"{b}/api/store/ada")) == ["Ankara dress"]
            assert names(http.get(f"{a}/api/store/ada")) == ["Ankara dress"]
        changed = http.put(
            f"{a}/api/products/{product['id']}",
            json={"name": "Aso oke wrap", "price": "15000"},
            headers=headers,
        )
        assert changed.status_code == 200, changed.text
        answered = time.monotonic()
        assert names(http.get(f"{a}/api/store/ada")) == ["Aso oke wrap"]
        while names(http.get(f"{b}/api/store/ada")) != ["Aso oke wrap"]:
            assert time.monotonic() - answered < 0.3, "the other server kept the old store"
            time.sleep(0.01)
        assert "Aso oke wrap" in http.get(f"{b}/s/ada").text


@pytest.mark.parametrize("seconds", ["0", "0.25", "1"])
def test_store_cache_seconds_is_read_and_bounded(database_url: str, seconds: str) -> None:
    assert (
        float(seconds)
        == make_settings(database_url, STORE_CACHE_SECONDS=seconds).STORE_CACHE_SECONDS
    )
    for refused in ("1.5", "-1"):
        with pytest.raises(ValueError, match="STORE_CACHE_SECONDS"):
            make_settings(database_url, STORE_CACHE_SECONDS=refused)
