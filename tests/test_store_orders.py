"""Ordering from the store pages over real HTTP (ASGI) on the test database: the one-product form
that needs no JavaScript (its order, its answers to bad input as HTML pages, its limits and its
count in analytics), "Sold out" on the pages, and the cart script the pages load."""

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.conftest import client_for, create_product, make_settings
from tests.order_helpers import Shop, open_shop, place
from tests.test_store_pages import Page, error_page, store_page

TOTE = {"name": "Ankara tote", "price": "12500"}
DRESS = {"name": "Adire dress", "price": "1999.99"}


async def count_orders(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM orders")))


def order_path(shop: Shop, product: dict[str, Any]) -> str:
    return f"/s/{shop.slug}/p/{product['id']}/order"


async def orders_of(client: httpx.AsyncClient, shop: Shop) -> list[dict[str, Any]]:
    response = await client.get("/api/orders", headers=shop.headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> Shop:
    return await open_shop(client, "ada@example.com", TOTE, DRESS)


async def test_the_form_places_the_order_and_goes_on_to_whatsapp(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    tote, dress = shop.products
    fields = {
        "quantity": "2",
        "customer_name": "Chioma",
        "customer_phone": "0803 555 1234",
        "delivery_area": "Lekki Phase 1",
        "note": "Ring at the gate",
    }
    response = await client.post(order_path(shop, tote), data=fields)
    assert response.status_code == 303, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    (order,) = await orders_of(client, shop)
    assert response.headers["location"] == order["whatsapp_url"]
    assert order["whatsapp_url"].startswith("https://wa.me/2348012345678?text=")
    assert [(line["product_id"], line["quantity"]) for line in order["items"]] == [(tote["id"], 2)]
    assert order["total"] == 25000
    assert order["customer_name"] == "Chioma" and order["customer_phone"] == "2348035551234"
    assert order["delivery_area"] == "Lekki Phase 1" and order["note"] == "Ring at the gate"

    # No quantity sent is one; blank customer fields are none; any spelling of the store works.
    response = await client.post(
        f"/s/{shop.slug.upper()}/p/{dress['id']}/order", data={"customer_name": " "}
    )
    assert response.status_code == 303, response.text
    newest = (await orders_of(client, shop))[0]
    assert [(line["product_id"], line["quantity"]) for line in newest["items"]] == [
        (dress["id"], 1)
    ]
    assert newest["customer_name"] is None

    # Both orders are counted in the vendor's analytics, as the JSON route's are.
    assert await app.state.analytics.flush()
    report = (await client.get("/api/analytics", headers=shop.headers)).json()
    assert report["totals"]["orders"] == 2
    assert report["totals"]["order_total"] == 26999.99


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "100"}, "quantity"),
        ({"quantity": "two"}, "quantity"),
        ({"quantity": "1.5"}, "quantity"),
        ({"quantity": ""}, "quantity"),
        ({"quantity": "1", "customer_phone": "12"}, "customer_phone"),
        ({"quantity": "1", "customer_name": "x" * 101}, "customer_name"),
        ({"quantity": "1", "note": "x" * 1001}, "note"),
    ],
)
async def test_bad_input_is_an_html_page_and_orders_nothing(
    client: httpx.AsyncClient,
    shop: Shop,
    engine: AsyncEngine,
    fields: dict[str, str],
    named: str,
) -> None:
    response = await client.post(order_path(shop, shop.products[0]), data=fields)
    page = error_page(response, 422)
    assert f"{named}: " in page
    assert await count_orders(engine) == 0


async def test_a_body_of_another_type_is_refused_as_a_page(
    client: httpx.AsyncClient, shop: Shop, engine: AsyncEngine
) -> None:
    path = order_path(shop, shop.products[0])
    response = await client.post(path, content=b"quantity=1", headers={"Content-Type": "text/x"})
    error_page(response, 415)
    # Too large, refused before a byte is read (declared) or as it streams (chunked).
    big = b"quantity=1&note=" + b"x" * 2_000_000
    response = await client.post(
        path, content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert "Request body too large" in error_page(response, 413)

    async def chunks() -> AsyncIterator[bytes]:
        yield big

    response = await client.post(
        path, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert "Request body too large" in error_page(response, 413)
    assert await count_orders(engine) == 0


async def test_sold_out_shows_on_the_pages_and_cannot_be_ordered(
    client: httpx.AsyncClient, shop: Shop, engine: AsyncEngine
) -> None:
    tote, dress = shop.products
    gone = await create_product(client, shop.headers, name="Aso oke", price="30000", stock=0)
    hidden = await create_product(client, shop.headers, name="Old cap", is_available=False)
    scarce = await create_product(client, shop.headers, name="Silk scarf", stock=2)

    response = await client.get(f"/s/{shop.slug}")
    page = store_page(response)
    html = response.text
    assert html.count("Sold out") == 1
    card = re.search(
        r'<li class="card product" id="product-' + gone["id"] + r'">.*?</li>', html, re.S
    )
    assert card and "Sold out" in card.group(0)
    assert "<form" not in card.group(0) and "/whatsapp" not in card.group(0)
    orderable = [form["data-id"] for form in page.forms]
    assert orderable == [scarce["id"], dress["id"], tote["id"]]
    assert [form["action"] for form in page.forms] == [
        f"/s/{shop.slug}/p/{product['id']}/order" for product in (scarce, dress, tote)
    ]
    assert {form["data-price"] for form in page.forms} == {"15000.00", "1999.99", "12500.00"}
    assert f"/s/{shop.slug}/p/{gone['id']}/whatsapp" not in page.hrefs()
    # The JSON storefront says the same, without the count.
    listed = (await client.get(f"/api/store/{shop.slug}")).json()["products"]
    assert {item["id"]: item["sold_out"] for item in listed} == {
        gone["id"]: True,
        scarce["id"]: False,
        dress["id"]: False,
        tote["id"]: False,
    }
    assert all("stock" not in item for item in listed)

    for product in (gone, hidden):
        response = await client.get(f"/s/{shop.slug}/p/{product['id']}")
        item = store_page(response)
        assert "Sold out" in response.text and not item.forms
        assert not [href for href in item.hrefs() if href.endswith("/whatsapp")]
        assert "Sold out" in item.meta["og:description"]
        # The order link of a page loaded before: back to the page, which says so.
        link = await client.get(f"/s/{shop.slug}/p/{product['id']}/whatsapp")
        assert link.status_code == 303
        assert link.headers["location"] == f"/s/{shop.slug}/p/{product['id']}"

    response = await client.post(order_path(shop, gone), data={"quantity": "1"})
    assert "Aso oke): sold out" in error_page(response, 422)
    response = await client.post(order_path(shop, hidden), data={"quantity": "1"})
    assert "Old cap): not available" in error_page(response, 422)
    response = await client.post(order_path(shop, scarce), data={"quantity": "3"})
    assert "not enough in stock for 3" in error_page(response, 422)
    assert await count_orders(engine) == 0
    item = Page((await client.get(f"/s/{shop.slug}/p/{scarce['id']}")).text)
    assert [form["action"] for form in item.forms] == [order_path(shop, scarce)]


async def test_another_stores_product_and_missing_ones_are_404_pages(
    client: httpx.AsyncClient, shop: Shop, engine: AsyncEngine
) -> None:
    bola = await open_shop(client, "bola@example.com", TOTE)
    tote = shop.products[0]
    for path in (
        f"/s/{shop.slug}/p/{bola.products[0]['id']}/order",
        f"/s/{shop.slug}/p/product_missing/order",
        f"/s/no-such-store/p/{tote['id']}/order",
        f"/s/{shop.slug}/p/{'x' * 101}/order",
    ):
        page = error_page(await client.post(path, data={"quantity": "1"}))
        assert "Product not found" in page
    assert await count_orders(engine) == 0


async def test_the_form_and_the_cart_share_the_order_limits(
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
        async with client_for(app) as client:
            shop = await open_shop(client, "ada@example.com", TOTE)
            tote = shop.products[0]
            shopper = {"X-Forwarded-For": "198.51.100.7"}
            form = await client.post(
                order_path(shop, tote), data={"quantity": "1"}, headers=shopper
            )
            assert form.status_code == 303
            body = {"items": [{"product_id": tote["id"], "quantity": 1}]}
            cart = await client.post(f"/api/store/{shop.slug}/orders", json=body, headers=shopper)
            assert cart.status_code == 201
            refused = await client.post(
                order_path(shop, tote), data={"quantity": "1"}, headers=shopper
            )
            page = error_page(refused, 429)
            assert "Too many orders from this network" in page
            assert 1 <= int(refused.headers["Retry-After"]) <= 600
            other = {"X-Forwarded-For": "203.0.113.9"}
            response = await client.post(
                order_path(shop, tote), data={"quantity": "1"}, headers=other
            )
            assert response.status_code == 303
        assert await count_orders(engine) == 3
    finally:
        await app.state.engine.dispose()


async def test_the_cart_script_is_served_for_a_year_under_its_hash(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    page = store_page(await client.get(f"/s/{shop.slug}"))
    (script,) = page.scripts
    assert script["data-store"] == shop.slug and "defer" in script
    response = await client.get(script["src"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    digest = hashlib.sha256(response.content).hexdigest()
    assert script["src"] == f"/s-assets/cart.js?v={digest[:16]}"
    assert response.headers["ETag"] == f'"{digest}"'
    again = await client.get(script["src"], headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    head = await client.head(script["src"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == response.headers["ETag"]
    # It posts to the order route and opens what it answers; nothing it builds is markup.
    source = response.text
    assert "/orders" in source and "Idempotency-Key" in source and "whatsapp_url" in source
    assert "innerHTML" not in source and "eval(" not in source
    # The product page loads it too.
    item = store_page(await client.get(f"/s/{shop.slug}/p/{shop.products[0]['id']}"))
    assert [s["src"] for s in item.scripts] == [script["src"]]


async def test_a_json_order_of_the_form_s_product_is_the_same_order(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    """The cart's route answers what the form's redirect leads to: one WhatsApp message."""
    tote = shop.products[0]
    response = await place(client, shop.slug, [(tote["id"], 2)])
    assert response.status_code == 201
    form = await client.post(order_path(shop, tote), data={"quantity": "2"})
    placed = response.json()["whatsapp_url"]
    code = re.compile(r"QV-[2-9A-HJ-NP-Z]{5}")
    assert code.sub("", placed) == code.sub("", form.headers["location"])


async def test_the_last_one_sold_shows_sold_out_at_once(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    """Pages are kept by the rows they were rendered from: the stock is one of them."""
    last = await create_product(client, shop.headers, name="Last scarf", stock=1)
    before = await client.get(f"/s/{shop.slug}")
    assert "Sold out" not in before.text
    assert order_path(shop, last) in [form["action"] for form in store_page(before).forms]
    form = await client.post(order_path(shop, last), data={"quantity": "1"})
    assert form.status_code == 303
    (order,) = await orders_of(client, shop)
    confirmed = await client.patch(
        f"/api/orders/{order['id']}", json={"status": "confirmed"}, headers=shop.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    after = await client.get(f"/s/{shop.slug}", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert after.text.count("Sold out") == 1
    assert order_path(shop, last) not in [form["action"] for form in store_page(after).forms]


async def test_the_cart_s_product_data_is_escaped_and_exact(
    client: httpx.AsyncClient, shop: Shop
) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)> & co'
    made = await create_product(client, shop.headers, name=hostile, price="1.5")
    for path in (f"/s/{shop.slug}", f"/s/{shop.slug}/p/{made['id']}"):
        response = await client.get(path)
        page = store_page(response)  # one script, this service's, nothing inline
        (form,) = [form for form in page.forms if form["data-id"] == made["id"]]
        assert form["data-name"] == hostile and form["data-price"] == "1.50"
        assert "<img src=x" not in response.text
