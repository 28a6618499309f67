"""The vendor's orders page (`/account/orders`) over real HTTP (ASGI): the orders newest first
with lines, totals and customers, filtered by status, moved on by plain form buttons; escaped,
never indexed, refused from other origins, another vendor's order not found."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests import test_account_pages as account_pages
from tests.conftest import client_for
from tests.order_helpers import Shop, open_shop, place
from tests.test_account_pages import EVIL, OWN, assert_page, log_in

# The vendor area's fixtures (an app with a real SMTP server, a browser-like client).
smtp = account_pages.smtp
area = account_pages.area
browser = account_pages.browser


@pytest.fixture
async def shop(browser: httpx.AsyncClient) -> Shop:
    shop = await open_shop(
        browser,
        "ada@example.com",
        {"name": "Ankara tote", "price": "12500", "stock": 3},
        {"name": "<b>Bold</b> & co", "price": "1999.99"},
    )
    assert (await log_in(browser)).status_code == 303
    return shop


async def press(
    browser: httpx.AsyncClient, order_id: str, status: str, headers: dict[str, str] = OWN
) -> httpx.Response:
    form = {"status": status, "back": "/account/orders?status=new"}
    return await browser.post(f"/account/orders/{order_id}/status", data=form, headers=headers)


async def api_status(browser: httpx.AsyncClient, shop: Shop, order_id: str) -> str:
    response = await browser.get(f"/api/orders/{order_id}", headers=shop.headers)
    value: str = response.json()["status"]
    return value


async def test_without_a_session_the_page_sends_to_the_login_form(
    browser: httpx.AsyncClient,
) -> None:
    response = await browser.get("/account/orders?status=new")
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/account/login"
    assert parse_qs(location.query)["next"] == ["/account/orders?status=new"]


async def test_the_orders_with_lines_totals_customers_and_buttons(
    browser: httpx.AsyncClient, shop: Shop
) -> None:
    tote, bold = shop.products
    first = (await place(browser, shop.slug, [(tote["id"], 2)])).json()
    second = (
        await place(
            browser,
            shop.slug,
            [(bold["id"], 1), (tote["id"], 1)],
            customer_name="<script>alert(1)</script>",
            customer_phone="0803 555 1234",
            note="Gate & bell",
            delivery_area="Yaba",
        )
    ).json()
    page = assert_page(await browser.get("/account/orders"))
    assert 'aria-current="page">Orders' in page
    # Newest first.
    assert page.index(second["code"]) < page.index(first["code"])
    assert "₦25,000.00" in page and "₦14,499.99" in page and "₦1,999.99" in page
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert 'href="https://wa.me/2348035551234"' in page
    assert "Gate &amp; bell" in page and "Yaba" in page
    assert page.count(">Confirm</button>") == 2 and page.count(">Cancel</button>") == 2
    assert f'action="/account/orders/{first["id"]}/status"' in page


async def test_buttons_move_orders_on_and_take_stock(
    browser: httpx.AsyncClient, shop: Shop
) -> None:
    tote = shop.products[0]
    order = (await place(browser, shop.slug, [(tote["id"], 2)])).json()
    response = await press(browser, order["id"], "confirmed")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/orders?status=new"
    assert await api_status(browser, shop, order["id"]) == "confirmed"
    stock = await browser.get(f"/api/products/{tote['id']}", headers=shop.headers)
    assert stock.json()["stock"] == 1
    page = assert_page(await browser.get("/account/orders"))
    assert ">Mark paid</button>" in page and ">Confirm</button>" not in page
    for step in ("paid", "fulfilled"):
        assert (await press(browser, order["id"], step)).status_code == 303
    page = assert_page(await browser.get("/account/orders"))
    assert "<button" not in page.split("<h1>Orders</h1>", 1)[1].replace(">Log out</button>", "")
    refused = await press(browser, order["id"], "cancelled")
    assert refused.status_code == 409
    assert "can no longer change" in assert_page(refused, 409)
    assert await api_status(browser, shop, order["id"]) == "fulfilled"


async def test_the_status_filter_and_pages(browser: httpx.AsyncClient, shop: Shop) -> None:
    tote = shop.products[1]
    orders = [(await place(browser, shop.slug, [(tote["id"], 1)])).json() for _ in range(27)]
    assert (await press(browser, orders[0]["id"], "cancelled")).status_code == 303
    page = assert_page(await browser.get("/account/orders?status=cancelled"))
    assert "1 order cancelled" in page and orders[0]["code"] in page
    assert orders[1]["code"] not in page
    assert 'href="/account/orders?status=cancelled" aria-current="page"' in page
    first = assert_page(await browser.get("/account/orders"))
    assert "27 orders" in first and orders[26]["code"] in first and orders[1]["code"] not in first
    assert 'href="/account/orders?page=2"' in first
    second = assert_page(await browser.get("/account/orders?page=2"))
    assert orders[1]["code"] in second and orders[0]["code"] in second
    assert 'href="/account/orders"' in second
    empty = assert_page(await browser.get("/account/orders?status=paid"))
    assert "No paid orders." in empty
    for bad in ("status=lost", "page=0", "page=x"):
        response = await browser.get(f"/account/orders?{bad}")
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("text/html")


async def test_forms_from_elsewhere_and_other_vendors_orders_are_refused(
    browser: httpx.AsyncClient, shop: Shop, area: FastAPI
) -> None:
    order = (await place(browser, shop.slug, [(shop.products[0]["id"], 1)])).json()
    assert (await press(browser, order["id"], "confirmed", EVIL)).status_code == 403
    assert (await press(browser, order["id"], "confirmed", {})).status_code == 403
    assert (await press(browser, order["id"], "shipped")).status_code == 400
    assert await api_status(browser, shop, order["id"]) == "new"
    async with client_for(area) as other:
        await open_shop(other, "bola@example.com")
        assert (await log_in(other, "bola@example.com")).status_code == 303
        page = assert_page(await other.get("/account/orders"))
        assert order["code"] not in page and "No orders yet." in page
        response = await press(other, order["id"], "confirmed")
        assert response.status_code == 404
        assert "Order not found." in assert_page(response, 404)
    assert await api_status(browser, shop, order["id"]) == "new"
