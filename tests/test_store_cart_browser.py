"""The cart in Chromium at a phone's size (360 x 740), against the server production runs: three
products added (one from its own page), one removed, quantities changed, a refusal shown readably,
the order sent with a double tap; then the one order it made, with the right lines, and WhatsApp
opened on that order's link. Without JavaScript, a product's form orders it alone. wa.me is not
reachable from the test machine: a stand-in answers for it. Screenshots are saved under the test's
temporary folder, whose path the test output shows."""

from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, Route

from tests.test_recovery_server import chromium, screenshots  # noqa: F401 - fixtures, found by pytest in this namespace
from tests.test_store_pages_browser import PHONE, Shopper, api, open_store  # noqa: F401 - api is a fixture

PRODUCTS = (
    {"name": "Ankara tote", "price": "12500"},
    {"name": "Adire dress", "price": "1999.99"},
    {"name": "Silk scarf", "price": "4000", "stock": 5},
    {"name": "Aso oke", "price": "30000", "stock": 0},
)


class Vendor:
    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], slug: str) -> None:
        self.client = client
        self.headers = headers
        self.slug = slug

    async def orders(self) -> list[dict[str, Any]]:
        response = await self.client.get("/api/orders", headers=self.headers)
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body


async def stock(client: httpx.AsyncClient) -> tuple[Vendor, list[dict[str, Any]]]:
    headers = await open_store(client, "ada.cart@example.com", "Ada")
    made = []
    for fields in PRODUCTS:
        response = await client.post("/api/products", headers=headers, json=fields)
        assert response.status_code == 201, response.text
        made.append(response.json())
    me = (await client.get("/api/users/me", headers=headers)).json()
    return Vendor(client, headers, me["store_slug"]), made


async def whatsapp_stand_in(page: Page) -> list[str]:
    opened: list[str] = []

    async def answer(route: Route) -> None:
        opened.append(route.request.url)
        await route.fulfill(status=200, content_type="text/plain", body="WhatsApp stand-in")

    await page.route("https://wa.me/**", answer)
    return opened


async def add(page: Page, product: dict[str, Any], quantity: int) -> None:
    form = page.locator(f'form.add[data-id="{product["id"]}"]')
    await form.locator('input[name="quantity"]').fill(str(quantity))
    await form.get_by_role("button", name="Add to order").click()


async def test_a_cart_of_three_products_becomes_one_order(
    api: str,  # noqa: F811 - the fixture imported above
    chromium: Browser,  # noqa: F811
    screenshots: Path,  # noqa: F811
) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=60) as client:
        vendor, (tote, dress, scarf, aso_oke) = await stock(client)
        context = await chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = await context.new_page()
        page.set_default_timeout(30_000)
        opened = await whatsapp_stand_in(page)
        shopper = Shopper(page, api, screenshots)

        assert await shopper.open(f"{api}/s/{vendor.slug}") == 200
        sold_out = page.locator(f"#product-{aso_oke['id']}")
        assert "Sold out" in await sold_out.inner_text()
        assert await sold_out.locator("form").count() == 0
        cart = page.get_by_role("complementary", name="Your order")
        assert not await cart.is_visible()  # nothing in it yet
        await add(page, tote, 2)
        await add(page, dress, 1)
        bar = cart.locator(".cart-bar")
        assert await bar.inner_text() == "Your order: 3 items · ₦26,999.99"
        await shopper.fits_the_phone()
        await shopper.shot("store-two-added")

        # The third from its own page: the cart is the store's, not the page's.
        async with page.expect_navigation():
            await page.get_by_role("link", name="Silk scarf", exact=True).click()
        assert await bar.inner_text() == "Your order: 3 items · ₦26,999.99"
        await add(page, scarf, 2)
        assert await bar.inner_text() == "Your order: 5 items · ₦34,999.99"
        await shopper.shot("product-page-third-added")

        await bar.click()
        lines = cart.locator(".cart-lines li")
        assert await lines.count() == 3
        await cart.get_by_role("button", name="Remove Adire dress").click()
        assert await lines.count() == 2
        await cart.get_by_label("Quantity of Ankara tote").fill("3")
        await cart.get_by_label("Quantity of Ankara tote").press("Tab")
        assert await cart.locator(".cart-total").inner_text() == "Total ₦45,500.00"
        await cart.get_by_label("Your name (optional)").fill("Chioma")
        await cart.get_by_label("Delivery area (optional)").fill("Lekki Phase 1")
        await shopper.fits_the_phone()
        await shopper.shot("cart-open")

        # The vendor sells three scarves meanwhile: the order is refused, and says why.
        changed = await client.put(
            f"/api/products/{scarf['id']}", headers=vendor.headers, json={"stock": 1}
        )
        assert changed.status_code == 200, changed.text
        await cart.get_by_role("button", name="Send order on WhatsApp").click()
        alert = cart.get_by_role("alert")
        await alert.wait_for()
        assert await alert.inner_text() == "Silk scarf: not enough in stock for 2"
        assert await vendor.orders() == []
        await shopper.shot("cart-refused")

        await cart.get_by_label("Quantity of Silk scarf").fill("1")
        await cart.get_by_label("Quantity of Silk scarf").press("Tab")
        assert await bar.inner_text() == "Your order: 4 items · ₦41,500.00"
        # A double tap is one order.
        await cart.get_by_role("button", name="Send order on WhatsApp").dblclick()
        await page.wait_for_url("https://wa.me/**")
        await shopper.shot("whatsapp-opened")

        (order,) = await vendor.orders()
        assert [(line["product_id"], line["quantity"]) for line in order["items"]] == [
            (tote["id"], 3),
            (scarf["id"], 1),
        ]
        assert order["total"] == 41500
        assert order["customer_name"] == "Chioma" and order["delivery_area"] == "Lekki Phase 1"
        assert opened == [order["whatsapp_url"]]
        assert order["whatsapp_url"].startswith("https://wa.me/2348035550101?text=")

        # The cart was emptied with the order sent.
        assert await shopper.open(f"{api}/s/{vendor.slug}") == 200
        await page.locator("form.add button").first.wait_for()
        assert await page.locator("form.add button").first.inner_text() == "Add to order"
        assert not await cart.is_visible()
        # Chromium logs every refused request; the refusal above is the one there was.
        assert shopper.problems == [
            "console error: Failed to load resource: the server responded with a status of 422 "
            "(Unprocessable Entity)"
        ]
        assert all(r.url.startswith((api, "https://wa.me/")) for r in shopper.requests)
        await context.close()


async def test_without_javascript_a_product_s_form_orders_it(
    api: str,  # noqa: F811
    chromium: Browser,  # noqa: F811
    screenshots: Path,  # noqa: F811
) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=60) as client:
        vendor, (tote, *_) = await stock(client)
        context = await chromium.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, java_script_enabled=False
        )
        page = await context.new_page()
        page.set_default_timeout(30_000)
        opened = await whatsapp_stand_in(page)
        shopper = Shopper(page, api, screenshots)

        assert await shopper.open(f"{api}/s/{vendor.slug}/p/{tote['id']}") == 200
        await page.get_by_label("Quantity").fill("2")
        await page.get_by_text("Your details (optional)").click()
        await page.get_by_label("Your name").fill("Bola")
        await shopper.fits_the_phone()
        await shopper.shot("no-script-product-form")
        # The form's answer leads on to WhatsApp, which the page's form-action allows.
        await page.get_by_role("button", name="Order now").click()
        await page.wait_for_url("https://wa.me/**")

        (order,) = await vendor.orders()
        assert [(line["product_id"], line["quantity"]) for line in order["items"]] == [
            (tote["id"], 2)
        ]
        assert order["customer_name"] == "Bola"
        assert opened == [order["whatsapp_url"]]
        assert shopper.problems == []
        await context.close()
