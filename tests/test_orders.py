"""Orders over real HTTP (ASGI) on PostgreSQL and SQLite: placing them (good, hostile, repeated
with an Idempotency-Key, concurrent), the WhatsApp message, and the vendor's side (list, one
order, status changes with stock, isolation, account deletion)."""

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.orders import CODE_PATTERN
from app.main import create_app
from app.models import Order
from app.models.base import utcnow
from app.services.maintenance import purge_stale_rows
from tests.conftest import PASSWORD, client_for, create_product, make_settings, postgres_only
from tests.order_helpers import Shop, open_shop, place

ClientFactory = Callable[[FastAPI], httpx.AsyncClient]
TOTE = {"name": "Ankara tote", "price": "12500"}
DRESS = {"name": "Adire dress", "price": "1999.99"}


async def age_order(engine: AsyncEngine, order_id: str, age: timedelta) -> None:
    """Make the order look placed `age` ago."""
    async with engine.begin() as conn:
        await conn.execute(
            update(Order).where(Order.id == order_id).values(created_at=utcnow() - age)
        )


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")))  # noqa: S608


def message_of(url: str) -> str:
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "wa.me"
    assert parts.query.startswith("text=")
    return unquote(parts.query.removeprefix("text="))


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> Shop:
    return await open_shop(client, "ada@example.com", TOTE, DRESS)


async def test_an_order_of_two_products(
    client: httpx.AsyncClient, shop: Shop, engine: AsyncEngine
) -> None:
    tote, dress = shop.products
    response = await place(
        client,
        shop.slug,
        [(tote["id"], 2), (dress["id"], 1)],
        customer_name="Chioma",
        customer_phone="0803 555 1234",
        note="Ring at the gate",
        delivery_area="Lekki Phase 1",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert list(body) == [
        "id", "code", "status", "items", "total", "currency", "whatsapp_url", "created_at"
    ]  # fmt: skip
    assert re.fullmatch(r"order_[0-9a-f]{32}", body["id"])
    assert re.fullmatch(CODE_PATTERN, body["code"])
    assert body["status"] == "new" and body["currency"] == "NGN"
    assert body["items"] == [
        {
            "product_id": tote["id"],
            "name": "Ankara tote",
            "unit_price": 12500,
            "quantity": 2,
            "line_total": 25000,
        },
        {
            "product_id": dress["id"],
            "name": "Adire dress",
            "unit_price": 1999.99,
            "quantity": 1,
            "line_total": 1999.99,
        },
    ]
    assert body["total"] == 26999.99
    assert body["whatsapp_url"].startswith("https://wa.me/2348012345678?text=")
    assert message_of(body["whatsapp_url"]) == (
        f"Hello! I would like to order ({body['code']}):\n"
        "2 x Ankara tote - ₦25,000.00\n"
        "1 x Adire dress - ₦1,999.99\n"
        "Total: ₦26,999.99\n"
        "Name: Chioma\n"
        "Delivery area: Lekki Phase 1"
    )
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT total, customer_phone FROM orders"))).one()
    assert row.customer_phone == "2348035551234"
    if engine.dialect.name == "postgresql":
        assert row.total == Decimal("26999.99")
    # The vendor sees it with the customer's details.
    listed = await client.get("/api/orders", headers=shop.headers)
    assert listed.headers["X-Total-Count"] == "1"
    (order,) = listed.json()
    assert order["id"] == body["id"] and order["items"] == body["items"]
    assert order["customer_name"] == "Chioma" and order["customer_phone"] == "2348035551234"
    assert order["note"] == "Ring at the gate" and order["delivery_area"] == "Lekki Phase 1"


async def test_prices_and_names_come_from_the_database_and_stay(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    tote = shop.products[0]
    body = {
        "items": [{"product_id": tote["id"], "quantity": 1, "unit_price": 1, "name": "Free"}],
        "total": 1,
        "status": "paid",
        "code": "QV-AAAAA",
    }
    response = await client.post(f"/api/store/{shop.slug}/orders", json=body)
    assert response.status_code == 201, response.text
    placed = response.json()
    assert placed["items"][0]["unit_price"] == 12500 and placed["total"] == 12500
    assert placed["status"] == "new" and placed["code"] != "QV-AAAAA"
    # Editing and then deleting the product changes no order.
    path = f"/api/products/{tote['id']}"
    await client.put(path, json={"name": "Renamed", "price": "99"}, headers=shop.headers)
    assert (await client.delete(path, headers=shop.headers)).status_code == 204
    order = (await client.get(f"/api/orders/{placed['id']}", headers=shop.headers)).json()
    assert order["items"] == placed["items"] and order["total"] == 12500


async def test_repeated_products_are_merged(client: httpx.AsyncClient, shop: Shop) -> None:
    tote, dress = shop.products
    response = await place(client, shop.slug, [(tote["id"], 2), (dress["id"], 1), (tote["id"], 3)])
    assert response.status_code == 201, response.text
    assert [(i["product_id"], i["quantity"]) for i in response.json()["items"]] == [
        (tote["id"], 5),
        (dress["id"], 1),
    ]
    too_many = await place(client, shop.slug, [(tote["id"], 50), (tote["id"], 50)])
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["loc"] == ["body", "items", 0, "quantity"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"items": []}, ["body", "items"]),
        ({"items": None}, ["body", "items"]),
        ({"items": [{"product_id": "p", "quantity": 0}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"product_id": "p", "quantity": 100}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"product_id": "p", "quantity": True}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"product_id": "p", "quantity": 1.5}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"product_id": "", "quantity": 1}]}, ["body", "items", 0, "product_id"]),
        ({"items": [{"quantity": 1}]}, ["body", "items", 0, "product_id"]),
        ({"items": "all of them"}, ["body", "items"]),
        ({"customer_name": "x" * 101}, ["body", "customer_name"]),
        ({"customer_phone": "12345"}, ["body", "customer_phone"]),
        ({"customer_phone": "call me"}, ["body", "customer_phone"]),
        ({"customer_phone": "+1234567890123456"}, ["body", "customer_phone"]),
        ({"note": "n" * 1001}, ["body", "note"]),
        ({"delivery_area": "a" * 101}, ["body", "delivery_area"]),
        ({"customer_name": "nul\x00"}, ["body"]),
    ],
)
async def test_bad_requests_are_422_and_create_nothing(
    client: httpx.AsyncClient,
    shop: Shop,
    engine: AsyncEngine,
    body: dict[str, object],
    loc: list[object],
) -> None:
    tote = shop.products[0]
    payload = {"items": [{"product_id": tote["id"], "quantity": 1}], **body}
    response = await client.post(f"/api/store/{shop.slug}/orders", json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc
    assert response.json()["detail"]
    assert await count(engine, "orders") == 0


async def test_unorderable_items_are_named_and_nothing_is_created(
    client: httpx.AsyncClient,
    shop: Shop,
    engine: AsyncEngine,
    app: FastAPI,
    make_client: ClientFactory,
) -> None:
    tote, dress = shop.products
    hidden = await create_product(client, shop.headers, name="Hidden", is_available=False)
    gone = await create_product(client, shop.headers, name="Gone", stock=0)
    few = await create_product(client, shop.headers, name="Few", stock=2)
    other = await open_shop(make_client(app), "bola@example.com", TOTE)
    items = [
        (tote["id"], 1),
        (hidden["id"], 1),
        (gone["id"], 1),
        (few["id"], 3),
        ("product_missing", 1),
        (other.products[0]["id"], 1),
        (dress["id"], 1),
    ]
    response = await place(client, shop.slug, items)
    assert response.status_code == 422, response.text
    issues = response.json()["errors"]
    assert [issue["loc"] for issue in issues] == [
        ["body", "items", index, "product_id"] for index in (1, 2, 3, 4, 5)
    ]
    detail = response.json()["detail"]
    assert f"items.1.product_id: {hidden['id']} (Hidden): not available" in detail
    assert f"{gone['id']} (Gone): sold out" in detail
    assert f"{few['id']} (Few): not enough in stock for 3" in detail
    assert "2" not in issues[2]["msg"].replace(few["id"], "")  # the count is never told
    assert "product_missing: no such product in this store" in detail
    assert f"{other.products[0]['id']}: no such product in this store" in detail
    assert await count(engine, "orders") == 0 and await count(engine, "order_lines") == 0
    # Within the stock it is fine.
    assert (await place(client, shop.slug, [(few["id"], 2)])).status_code == 201


async def test_missing_store_and_bodies_that_are_not_json(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    tote = shop.products[0]
    assert (await place(client, "no-such-store", [(tote["id"], 1)])).status_code == 404
    path = f"/api/store/{shop.slug}/orders"
    broken = await client.post(path, content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 422
    listed = await client.post(path, json=[{"product_id": tote["id"], "quantity": 1}])
    assert listed.status_code == 422
    # Any spelling of the store's link works, as for the storefront.
    assert (await place(client, shop.slug.upper(), [(tote["id"], 1)])).status_code == 201


async def test_fifty_lines_at_most(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    products = [{"name": f"Item {n}", "price": "100"} for n in range(51)]
    shop = await open_shop(client, "ada@example.com", *products)
    ids = [p["id"] for p in shop.products]
    response = await place(client, shop.slug, [(pid, 1) for pid in ids])
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "items"]
    assert (await place(client, shop.slug, [(pid, 1) for pid in ids[:50]])).status_code == 201


async def test_a_long_order_fits_the_message_limit(client: httpx.AsyncClient) -> None:
    products = [{"name": f"{n:02d} " + "Long name " * 19, "price": "1234.5"} for n in range(50)]
    shop = await open_shop(client, "ada@example.com", *products)
    items = [(p["id"], 99) for p in shop.products]
    response = await place(
        client, shop.slug, items, customer_name="N" * 100, delivery_area="A" * 100
    )
    assert response.status_code == 201, response.text
    body = response.json()
    message = message_of(body["whatsapp_url"])
    assert len(message) <= 1500
    lines = message.split("\n")
    shown = [line for line in lines if line.startswith("99 x ")]
    assert 1 <= len(shown) < 50
    assert f"and {50 - len(shown)} more items" in lines
    assert lines[-3] == "Total: ₦6,110,775.00" and lines[-2] == "Name: " + "N" * 100
    assert len(body["items"]) == 50  # the order keeps every line


async def test_idempotency_key_answers_the_first_order(
    client: httpx.AsyncClient, shop: Shop, engine: AsyncEngine
) -> None:
    tote, dress = shop.products
    first = await place(client, shop.slug, [(tote["id"], 1)], key="cart-1")
    again = await place(client, shop.slug, [(tote["id"], 1)], key="cart-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    other_body = await place(client, shop.slug, [(dress["id"], 1)], key="cart-1")
    assert other_body.status_code == 409
    assert "Idempotency-Key" in other_body.json()["detail"]
    assert await count(engine, "orders") == 1
    # Another key is another order; the same key in another store is that store's own.
    assert (await place(client, shop.slug, [(tote["id"], 1)], key="cart-2")).status_code == 201
    assert await count(engine, "orders") == 2
    for bad in ("", "k" * 256):
        response = await place(client, shop.slug, [(tote["id"], 1)], key=bad)
        assert response.status_code == 422, bad
    assert await count(engine, "orders") == 2


async def test_the_key_is_per_store_and_expires_after_a_day(
    client: httpx.AsyncClient,
    shop: Shop,
    engine: AsyncEngine,
    app: FastAPI,
    make_client: ClientFactory,
) -> None:
    other = await open_shop(make_client(app), "bola@example.com", TOTE)
    mine = await place(client, shop.slug, [(shop.products[0]["id"], 1)], key="k")
    theirs = await place(client, other.slug, [(other.products[0]["id"], 1)], key="k")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    await age_order(engine, mine.json()["id"], timedelta(hours=24, seconds=1))
    later = await place(client, shop.slug, [(shop.products[1]["id"], 1)], key="k")
    assert later.status_code == 201, later.text
    assert later.json()["id"] != mine.json()["id"]
    assert await count(engine, "orders") == 3


@pytest.mark.parametrize(("key", "orders"), [("same", 1), (None, 12)])
async def test_concurrent_orders(
    client: httpx.AsyncClient, shop: Shop, engine: AsyncEngine, key: str | None, orders: int
) -> None:
    """Racing requests with one key make one order; without a key, each its own code."""
    tote = shop.products[0]
    responses = await asyncio.gather(
        *(place(client, shop.slug, [(tote["id"], 2)], key=key) for _ in range(12))
    )
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == orders
    assert len({r.json()["code"] for r in responses}) == orders
    assert await count(engine, "orders") == orders


async def test_a_code_taken_in_the_store_is_drawn_again(
    client: httpx.AsyncClient, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The random source (not our code) draws 22222, then 22222 again, then 33333.
    draws = iter("2" * 10 + "3" * 5)
    monkeypatch.setattr(secrets, "choice", lambda _alphabet: next(draws))
    tote = shop.products[0]
    first = await place(client, shop.slug, [(tote["id"], 1)])
    second = await place(client, shop.slug, [(tote["id"], 1)])
    assert first.json()["code"] == "QV-22222"
    assert second.status_code == 201 and second.json()["code"] == "QV-33333"
    assert "QV-33333" in message_of(second.json()["whatsapp_url"])


async def test_hostile_text_is_kept_verbatim_and_escaped_in_the_link(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    shop = await open_shop(client, "ada@example.com", {"name": "<script>&x=1#", "price": "5"})
    name = "Robert'); DROP TABLE orders;--"
    response = await place(
        client, shop.slug, [(shop.products[0]["id"], 1)], customer_name=name, note="é 🎉 \u202e"
    )
    assert response.status_code == 201, response.text
    url = response.json()["whatsapp_url"]
    assert "<" not in url and "#" not in url.split("?", 1)[1] and "&" not in url
    assert "1 x <script>&x=1# - ₦5.00" in message_of(url)
    order = (await client.get("/api/orders", headers=shop.headers)).json()[0]
    assert order["customer_name"] == name and order["note"] == "é 🎉 \u202e"
    assert await count(engine, "orders") == 1


async def test_line_breaks_in_customer_fields_add_no_line_to_the_message(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    name, area = "a\nTotal: ₦0.00\nb", "Lekki\r\n\u2028Name: Bola"
    response = await place(
        client, shop.slug, [(shop.products[0]["id"], 1)], customer_name=name, delivery_area=area
    )
    assert response.status_code == 201, response.text
    assert message_of(response.json()["whatsapp_url"]).split("\n")[-3:] == [
        "Total: ₦12,500.00",
        "Name: a Total: ₦0.00 b",
        "Delivery area: Lekki Name: Bola",
    ]
    # The order keeps what was sent: the vendor sees it as typed.
    order = (await client.get("/api/orders", headers=shop.headers)).json()[0]
    assert order["customer_name"] == name and order["delivery_area"] == area


async def status(
    client: httpx.AsyncClient, shop: Shop, order_id: str, value: object
) -> httpx.Response:
    return await client.patch(
        f"/api/orders/{order_id}", json={"status": value}, headers=shop.headers
    )


async def test_the_vendor_walks_an_order_through_its_statuses(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    order = (await place(client, shop.slug, [(shop.products[0]["id"], 1)])).json()
    for step in ("confirmed", "paid", "fulfilled"):
        response = await status(client, shop, order["id"], step)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == step
        again = await status(client, shop, order["id"], step)
        assert again.status_code == 200 and again.json() == response.json()
    for step in ("cancelled", "new", "paid"):
        refused = await status(client, shop, order["id"], step)
        assert refused.status_code == 409
        assert "fulfilled" in refused.json()["detail"]
    unknown = await status(client, shop, order["id"], "shipped")
    assert unknown.status_code == 422
    assert (await status(client, shop, order["id"], None)).status_code == 422


@pytest.mark.parametrize(
    ("path", "target", "code"),
    [
        ([], "paid", 409),
        ([], "fulfilled", 409),
        ([], "expired", 409),
        (["confirmed"], "fulfilled", 409),
        (["confirmed"], "new", 409),
        (["cancelled"], "confirmed", 409),
        (["cancelled"], "new", 409),
        ([], "cancelled", 200),
        (["confirmed"], "cancelled", 200),
        (["confirmed", "paid"], "cancelled", 200),
    ],
)
async def test_transitions(
    client: httpx.AsyncClient, shop: Shop, path: list[str], target: str, code: int
) -> None:
    order = (await place(client, shop.slug, [(shop.products[0]["id"], 1)])).json()
    for step in path:
        assert (await status(client, shop, order["id"], step)).status_code == 200
    response = await status(client, shop, order["id"], target)
    assert response.status_code == code, response.text
    shown = (await client.get(f"/api/orders/{order['id']}", headers=shop.headers)).json()
    assert shown["status"] == (target if code == 200 else (path or ["new"])[-1])


async def test_confirming_takes_stock_and_cancelling_gives_it_back(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    tracked = await create_product(client, shop.headers, name="Tracked", stock=5)
    untracked = shop.products[0]
    order = (await place(client, shop.slug, [(tracked["id"], 3), (untracked["id"], 4)])).json()
    second = (await place(client, shop.slug, [(tracked["id"], 3)])).json()

    async def stock() -> int | None:
        path = f"/api/products/{tracked['id']}"
        value: int | None = (await client.get(path, headers=shop.headers)).json()["stock"]
        return value

    assert (await status(client, shop, order["id"], "confirmed")).status_code == 200
    assert await stock() == 2
    assert (await status(client, shop, order["id"], "confirmed")).status_code == 200
    assert await stock() == 2  # the same status again takes nothing
    refused = await status(client, shop, second["id"], "confirmed")
    assert refused.status_code == 409 and "Not enough Tracked" in refused.json()["detail"]
    assert (await client.get(f"/api/orders/{second['id']}", headers=shop.headers)).json()[
        "status"
    ] == "new"
    assert await stock() == 2
    assert (await status(client, shop, order["id"], "paid")).status_code == 200
    assert (await status(client, shop, order["id"], "cancelled")).status_code == 200
    assert await stock() == 5
    assert (await status(client, shop, second["id"], "confirmed")).status_code == 200
    assert await stock() == 2
    # A new order cancelled gives nothing back: it took nothing.
    third = (await place(client, shop.slug, [(tracked["id"], 1)])).json()
    assert (await status(client, shop, third["id"], "cancelled")).status_code == 200
    assert await stock() == 2


async def test_stock_tracked_after_confirming_is_not_given_back(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    tote = shop.products[0]
    order = (await place(client, shop.slug, [(tote["id"], 2)])).json()
    assert (await status(client, shop, order["id"], "confirmed")).status_code == 200
    path = f"/api/products/{tote['id']}"
    await client.put(path, json={"stock": 10}, headers=shop.headers)
    assert (await status(client, shop, order["id"], "cancelled")).status_code == 200
    assert (await client.get(path, headers=shop.headers)).json()["stock"] == 10


@postgres_only
async def test_racing_confirmations_for_the_last_item(
    client: httpx.AsyncClient, shop: Shop, engine: AsyncEngine
) -> None:
    for _ in range(5):  # several rounds: each race has one winner
        last = await create_product(client, shop.headers, name="Last one", stock=1)
        orders = [
            (await place(client, shop.slug, [(last["id"], 1)])).json()["id"] for _ in range(4)
        ]
        responses = await asyncio.gather(
            *(status(client, shop, order_id, "confirmed") for order_id in orders)
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409, 409, 409], [r.text for r in responses]
        async with engine.connect() as conn:
            left = await conn.scalar(
                text("SELECT stock FROM products WHERE id = :id"), {"id": last["id"]}
            )
            confirmed = await conn.scalar(
                text("SELECT count(*) FROM orders WHERE status = 'confirmed' AND id = ANY(:ids)"),
                {"ids": orders},
            )
        assert left == 0 and confirmed == 1


async def test_racing_changes_of_one_order_move_stock_once(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    """The same order confirmed, then cancelled, by many requests at once: each move happens
    once (SQLite ignores FOR UPDATE, so the status change itself must be conditional)."""
    tracked = await create_product(client, shop.headers, name="Tracked", stock=10)
    order = (await place(client, shop.slug, [(tracked["id"], 3)])).json()
    path = f"/api/products/{tracked['id']}"
    for target, left in (("confirmed", 7), ("cancelled", 10)):
        responses = await asyncio.gather(
            *(status(client, shop, order["id"], target) for _ in range(10))
        )
        codes = {r.status_code for r in responses}
        assert codes <= {200, 409} and 200 in codes, [r.text for r in responses]
        assert (await client.get(path, headers=shop.headers)).json()["stock"] == left
        shown = (await client.get(f"/api/orders/{order['id']}", headers=shop.headers)).json()
        assert shown["status"] == target


async def test_another_vendors_order_is_404_on_every_verb(
    client: httpx.AsyncClient, shop: Shop, app: FastAPI, make_client: ClientFactory
) -> None:
    order = (await place(client, shop.slug, [(shop.products[0]["id"], 1)])).json()
    other = await open_shop(make_client(app), "bola@example.com")
    path = f"/api/orders/{order['id']}"
    assert (await client.get(path, headers=other.headers)).status_code == 404
    assert (await status(client, other, order["id"], "confirmed")).status_code == 404
    assert (await status(client, other, order["id"], "bogus")).status_code == 422
    assert (await client.get("/api/orders", headers=other.headers)).json() == []
    assert (await client.get("/api/orders/order_missing", headers=shop.headers)).status_code == 404
    # Nothing changed for the owner.
    assert (await client.get(path, headers=shop.headers)).json()["status"] == "new"
    for method in ("GET", "PATCH"):
        response = await client.request(method, path, json={"status": "paid"})
        assert response.status_code == 401


async def test_list_pages_and_filters(client: httpx.AsyncClient, shop: Shop) -> None:
    tote = shop.products[0]
    placed = [(await place(client, shop.slug, [(tote["id"], n)])).json() for n in (1, 2, 3, 4)]
    await status(client, shop, placed[1]["id"], "confirmed")
    await status(client, shop, placed[2]["id"], "cancelled")
    listed = await client.get("/api/orders", headers=shop.headers)
    assert [o["id"] for o in listed.json()] == [o["id"] for o in reversed(placed)]
    page = await client.get("/api/orders?limit=2&offset=1", headers=shop.headers)
    assert page.headers["X-Total-Count"] == "4"
    assert [o["id"] for o in page.json()] == [placed[2]["id"], placed[1]["id"]]
    new = await client.get("/api/orders?status=new", headers=shop.headers)
    assert new.headers["X-Total-Count"] == "2"
    assert {o["id"] for o in new.json()} == {placed[0]["id"], placed[3]["id"]}
    code = placed[1]["code"]
    by_code = await client.get(f"/api/orders?code={code.lower()}", headers=shop.headers)
    assert [o["id"] for o in by_code.json()] == [placed[1]["id"]]
    assert (await client.get("/api/orders?status=lost", headers=shop.headers)).status_code == 422
    assert (await client.get("/api/orders?limit=0", headers=shop.headers)).status_code == 422
    assert (await client.get("/api/orders/", headers=shop.headers)).status_code == 200


async def test_deleting_the_account_deletes_its_orders(
    client: httpx.AsyncClient, shop: Shop, engine: AsyncEngine
) -> None:
    order = (await place(client, shop.slug, [(shop.products[0]["id"], 2)])).json()
    await status(client, shop, order["id"], "confirmed")
    response = await client.request(
        "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=shop.headers
    )
    assert response.status_code in (200, 204), response.text
    assert await count(engine, "orders") == 0 and await count(engine, "order_lines") == 0


async def test_rate_limits_per_client_and_per_store_and_client(
    database_url: str, engine: AsyncEngine
) -> None:
    settings = make_settings(
        database_url,
        RATE_LIMIT_ENABLED=True,
        TRUSTED_PROXIES=["127.0.0.1"],
        ORDER_RATE_LIMIT_PER_STORE_CLIENT=2,
        ORDER_RATE_LIMIT_PER_CLIENT=4,
    )
    app = create_app(settings)
    try:
        async with client_for(app) as ada_client, client_for(app) as bola_client:
            ada = await open_shop(ada_client, "ada@example.com", TOTE)
            bola = await open_shop(bola_client, "bola@example.com", TOTE)

            async def order(shop: Shop, ip: str) -> httpx.Response:
                body = {"items": [{"product_id": shop.products[0]["id"], "quantity": 1}]}
                headers = {"X-Forwarded-For": ip}
                return await ada_client.post(
                    f"/api/store/{shop.slug}/orders", json=body, headers=headers
                )

            assert (await order(ada, "198.51.100.7")).status_code == 201
            assert (await order(ada, "198.51.100.7")).status_code == 201
            refused = await order(ada, "198.51.100.7")
            assert refused.status_code == 429
            assert (
                refused.json()["detail"] == "Too many orders from this network, please retry later"
            )
            assert 1 <= int(refused.headers["Retry-After"]) <= 600
            # Another store still takes this client's order, up to the per-client limit.
            assert (await order(bola, "198.51.100.7")).status_code == 201
            assert (await order(bola, "198.51.100.7")).status_code == 429
            # Other shoppers are never blocked by this one.
            assert (await order(ada, "203.0.113.9")).status_code == 201
            assert (await order(bola, "203.0.113.9")).status_code == 201
        assert await count(engine, "orders") == 5
    finally:
        await app.state.engine.dispose()


async def test_a_replayed_key_spends_no_order_limit(database_url: str, engine: AsyncEngine) -> None:
    settings = make_settings(
        database_url,
        RATE_LIMIT_ENABLED=True,
        ORDER_RATE_LIMIT_PER_STORE_CLIENT=2,
        ORDER_RATE_LIMIT_PER_CLIENT=4,
    )
    app = create_app(settings)
    try:
        async with client_for(app) as client:
            shop = await open_shop(client, "ada@example.com", TOTE, DRESS)
            tote, dress = shop.products
            first = await place(client, shop.slug, [(tote["id"], 1)], key="cart-1")
            assert first.status_code == 201, first.text
            for _ in range(12):
                again = await place(client, shop.slug, [(tote["id"], 1)], key="cart-1")
                assert again.status_code == 201 and again.json() == first.json()
            # New orders still count: the first spent one of the two, a key or not.
            assert (await place(client, shop.slug, [(dress["id"], 1)], key="c2")).status_code == 201
            refused = await place(client, shop.slug, [(dress["id"], 2)], key="cart-3")
            assert refused.status_code == 429
            assert (await place(client, shop.slug, [(dress["id"], 3)])).status_code == 429
            # The replay still answers once the limit is reached; another body is still 409.
            late = await place(client, shop.slug, [(tote["id"], 1)], key="cart-1")
            assert late.status_code == 201 and late.json() == first.json()
            other = await place(client, shop.slug, [(dress["id"], 1)], key="cart-1")
            assert other.status_code == 409
        assert await count(engine, "orders") == 2
    finally:
        await app.state.engine.dispose()


async def test_new_orders_expire_in_the_maintenance_task(
    database_url: str, engine: AsyncEngine
) -> None:
    """Watched happen: ORDER_EXPIRY_DAYS=0 and a one-second maintenance interval."""
    settings = make_settings(database_url, ORDER_EXPIRY_DAYS=0, MAINTENANCE_INTERVAL_SECONDS=1)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app), client_for(app) as client:
            shop = await open_shop(client, "ada@example.com", TOTE)
            tote = shop.products[0]
            waiting = (await place(client, shop.slug, [(tote["id"], 1)])).json()
            taken = (await place(client, shop.slug, [(tote["id"], 1)])).json()
            assert (await status(client, shop, taken["id"], "confirmed")).status_code == 200
            path = f"/api/orders/{waiting['id']}"
            deadline = time.monotonic() + 30  # catches a hang; a round comes every 0.5-1 s
            while (await client.get(path, headers=shop.headers)).json()["status"] == "new":
                assert time.monotonic() < deadline, "the order never expired"
                await asyncio.sleep(0.1)
            assert (await client.get(path, headers=shop.headers)).json()["status"] == "expired"
            refused = await status(client, shop, waiting["id"], "confirmed")
            assert refused.status_code == 409 and "expired" in refused.json()["detail"]
            confirmed = await client.get(f"/api/orders/{taken['id']}", headers=shop.headers)
            assert confirmed.json()["status"] == "confirmed"
    finally:
        await app.state.engine.dispose()


async def test_expiry_waits_for_its_days(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop, engine: AsyncEngine
) -> None:
    tote = shop.products[0]
    old = (await place(client, shop.slug, [(tote["id"], 1)])).json()
    recent = (await place(client, shop.slug, [(tote["id"], 1)])).json()
    await age_order(engine, old["id"], timedelta(days=14, minutes=1))
    await age_order(engine, recent["id"], timedelta(days=13, hours=23))
    purged = await purge_stale_rows(
        app.state.session_factory,
        app.state.rate_limiter,
        retention=timedelta(days=7),
        order_expiry=timedelta(days=14),
    )
    assert purged.expired_orders == 1
    listed = (await client.get("/api/orders", headers=shop.headers)).json()
    assert {o["id"]: o["status"] for o in listed} == {old["id"]: "expired", recent["id"]: "new"}


async def test_customer_details_are_never_logged(
    client: httpx.AsyncClient, shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the level every environment logs at
    customer = {
        "customer_name": "Adaeze Lognever",
        "customer_phone": "0803 555 9911",
        "note": "Knock twice please",
        "delivery_area": "Gwarinpa Estate",
    }
    placed = await place(client, shop.slug, [(shop.products[0]["id"], 1)], **customer)
    assert placed.status_code == 201
    order_id = placed.json()["id"]
    await client.get("/api/orders", headers=shop.headers)
    await status(client, shop, order_id, "confirmed")
    refused = await place(client, shop.slug, [("product_missing", 1)], **customer)
    assert refused.status_code == 422
    # Every record with its fields (what the JSON log lines carry).
    logged = "\n".join(str(vars(record)) for record in caplog.records)
    assert "order placed" in logged and order_id in logged
    for value in (*customer.values(), "2348035559911"):
        assert value not in logged


async def test_a_total_past_what_an_amount_can_hold_is_422(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    shop = await open_shop(client, "ada@example.com", {"name": "Jet", "price": "9999999999.99"})
    jet = shop.products[0]["id"]
    response = await place(client, shop.slug, [(jet, 2)])
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "items"]
    assert await count(engine, "orders") == 0
    one = await place(client, shop.slug, [(jet, 1)])
    assert one.status_code == 201 and one.json()["total"] == 9999999999.99
