"""The vendor's orders page in Chromium against a real server (uvicorn), at a phone's size: log
in, see the orders, confirm one, filter, cancel another. Screenshots are saved under the test's
temporary folder, whose path the test output shows."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import test_recovery_server as journey
from tests.conftest import PASSWORD, bearer
from tests.servers import free_port, running_api, server_env
from tests.test_recovery_server import Visit, assert_nothing_personal_logged

# The recovery journey's browser fixtures, found by pytest in this namespace.
chromium = journey.chromium
screenshots = journey.screenshots
server_log = journey.server_log

CUSTOMER = {
    "customer_name": "Ngozi Browsertest",
    "customer_phone": "0803 555 4321",
    "note": "Call when at the gate",
    "delivery_area": "Surulere",
}


@pytest.fixture
def api(
    database_url: str,
    engine: AsyncEngine,
    server_log: Path,
) -> Iterator[str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(database_url, PUBLIC_BASE_URL=base_url, LOG_LEVEL="INFO")
    with running_api(env, server_log, port=port) as url:
        yield url


async def test_the_vendor_works_through_orders_in_a_browser(
    api: str,
    chromium: Browser,
    screenshots: Path,
    server_log: Path,
) -> None:
    email = "ada.orders@example.com"
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        body = {"email": email, "password": PASSWORD, "whatsapp_number": "08012345678"}
        assert (await client.post("/api/users/register", json=body)).status_code == 201
        login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        headers = bearer(login.json()["access_token"])
        client.cookies.clear()
        slug = (await client.get("/api/users/me", headers=headers)).json()["store_slug"]
        products = []
        for fields in (
            {"name": "Ankara tote bag with a long name", "price": "12500", "stock": 4},
            {"name": "Adire dress", "price": "1999.99"},
        ):
            made = await client.post("/api/products", json=fields, headers=headers)
            products.append(made.json()["id"])
        placed = []
        for items, extra in (
            ([(products[0], 2), (products[1], 1)], CUSTOMER),
            ([(products[1], 3)], {}),
        ):
            order = {"items": [{"product_id": p, "quantity": q} for p, q in items], **extra}
            response = await client.post(f"/api/store/{slug}/orders", json=order)
            assert response.status_code == 201, response.text
            placed.append(response.json())
    first, second = placed

    context = await chromium.new_context(viewport={"width": 360, "height": 740})
    visit = Visit(await context.new_page(), api, screenshots)
    assert await visit.open(f"{api}/account/orders") == 200
    assert "/account/login?next=%2Faccount%2Forders" in visit.page.url
    await visit.page.get_by_label("Email").fill(email)
    await visit.page.get_by_label("Password").fill(PASSWORD)
    assert await visit.submit("Log in") == 200
    assert visit.page.url == f"{api}/account/orders"
    text = await visit.text()
    assert text.index(second["code"]) < text.index(first["code"])
    assert "₦26,999.99" in text and "Ngozi Browsertest" in text and "Surulere" in text
    await visit.shot("orders")
    # Neither the page nor an order's table scrolls sideways at a phone's width.
    no_scroll = (
        "document.documentElement.scrollWidth <= window.innerWidth && "
        "[...document.querySelectorAll('.scroll')].every(e => e.scrollWidth <= e.clientWidth)"
    )
    assert await visit.page.evaluate(no_scroll)

    async with visit.page.expect_navigation():
        await visit.page.locator(f"#{first['id']}").get_by_role("button", name="Confirm").click()
    assert visit.page.url == f"{api}/account/orders"
    section = await visit.page.locator(f"#{first['id']}").inner_text()
    assert "confirmed" in section and "Mark paid" in section
    await visit.shot("confirmed")

    async with visit.page.expect_navigation():
        await visit.page.get_by_role("link", name="Confirmed").click()
    text = await visit.text()
    assert first["code"] in text and second["code"] not in text
    await visit.shot("filtered-confirmed")

    assert await visit.open(f"{api}/account/orders?status=new") == 200
    async with visit.page.expect_navigation():
        await visit.page.locator(f"#{second['id']}").get_by_role("button", name="Cancel").click()
    assert visit.page.url == f"{api}/account/orders?status=new"
    assert "No new orders." in await visit.text()
    await visit.shot("cancelled")
    assert await visit.page.evaluate(no_scroll)

    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        stock = await client.get(f"/api/products/{products[0]}", headers=headers)
        assert stock.json()["stock"] == 2
        statuses = {
            o["id"]: o["status"] for o in (await client.get("/api/orders", headers=headers)).json()
        }
        assert statuses == {first["id"]: "confirmed", second["id"]: "cancelled"}
    assert all(request.url.startswith(api) for request in visit.requests)
    await context.close()
    assert_nothing_personal_logged(server_log, email, *CUSTOMER.values(), "2348035554321")
