"""A shopper's visit in Chromium at a phone's size (360 x 740) on a slow network, against the server
production runs: the store page, its next page, a product's page and its order link. Photos load
(from their stored widths), nothing scrolls sideways, nothing is fetched from another origin, the
console stays clean, and the order link opens WhatsApp with the vendor's number and the message.
Screenshots are saved under the test's temporary folder, whose path the test output shows."""

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, ConsoleMessage, Page, Route
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import PASSWORD
from tests.servers import free_port, running_api, server_env
from tests.test_recovery_server import Visit, chromium, screenshots  # noqa: F401 - fixtures, found by pytest in this namespace

PHONE = {"width": 360, "height": 740}
# Chrome DevTools' "Slow 3G": 400 ms round trips, 400 kbit/s each way.
SLOW_3G = {
    "offline": False,
    "latency": 400,
    "downloadThroughput": 400 * 1024 // 8,
    "uploadThroughput": 400 * 1024 // 8,
}
HOSTILE = '<b>Bold</b> & "quoted" <script>alert(1)</script>'


@pytest.fixture
def api(database_url: str, engine: AsyncEngine, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(database_url, PUBLIC_BASE_URL=base_url, MEDIA_ROOT=str(tmp_path / "media"))
    with running_api(env, tmp_path / "server.log", port=port) as url:
        yield url


def photo(color: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (900, 900), color)
    for x in range(0, 900, 5):
        image.putpixel((x, (x * 7) % 900), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def open_store(client: httpx.AsyncClient, email: str, store_name: str) -> dict[str, str]:
    """A vendor whose WhatsApp number is 0803 555 0101, with a store name; their Bearer headers."""
    body = {"email": email, "password": PASSWORD, "whatsapp_number": "0803 555 0101"}
    assert (await client.post("/api/users/register", json=body)).status_code == 201
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    client.cookies.clear()
    renamed = await client.put("/api/users/me/store", headers=auth, json={"store_name": store_name})
    assert renamed.status_code == 200, renamed.text
    return auth


async def stock_the_store(api: str) -> list[dict[str, Any]]:
    """A vendor with 26 products (two pages), oldest first, each with a photo."""
    photos = [photo(c) for c in ((200, 40, 40), (40, 140, 60), (30, 60, 180))]
    async with httpx.AsyncClient(base_url=api, timeout=60) as client:
        auth = await open_store(client, "ada.wax@example.com", "Ada's Wax Prints")
        products = []
        for n in range(26):
            name = HOSTILE if n == 25 else f"Wax print no. {n}"
            response = await client.post(
                "/api/products",
                headers=auth,
                data={"name": name, "price": str(12500 + n), "description": "Six yards, cotton."},
                files={"image_1": ("p.jpg", photos[n % 3], "image/jpeg")},
            )
            assert response.status_code == 201, response.text
            products.append(response.json())
    return products


class Shopper(Visit):
    """A tab that also collects console errors and checks the layout fits the phone."""

    def __init__(self, page: Page, base_url: str, folder: Path) -> None:
        super().__init__(page, base_url, folder)
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    async def photos_loaded(self) -> list[str]:
        """Scroll through the page (lazy photos load as they come near), then every photo's
        chosen source, once each has loaded."""
        height = await self.page.evaluate("document.body.scrollHeight")
        for y in range(0, height + PHONE["height"], PHONE["height"] // 2):
            await self.page.evaluate(f"window.scrollTo(0, {y})")
        await self.page.wait_for_load_state("networkidle")
        await self.page.wait_for_function(
            "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
            timeout=60_000,
        )
        await self.page.evaluate("window.scrollTo(0, 0)")
        sources: list[str] = await self.page.evaluate(
            "Array.from(document.images).map(i => i.currentSrc)"
        )
        return sources

    async def fits_the_phone(self) -> None:
        widths = await self.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1] == PHONE["width"], f"scrolls sideways: {widths}"


async def test_a_shopper_on_a_phone(
    api: str,
    engine: AsyncEngine,
    chromium: Browser,  # noqa: F811 - the fixture imported above
    screenshots: Path,  # noqa: F811
) -> None:
    products = await stock_the_store(api)
    context = await chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    page.set_default_timeout(60_000)
    opened: list[str] = []

    async def whatsapp(route: Route) -> None:
        # wa.me is not reachable from the test machine: a stand-in answers for it.
        opened.append(route.request.url)
        await route.fulfill(status=200, content_type="text/plain", body="WhatsApp stand-in")

    await page.route("https://wa.me/**", whatsapp)
    shopper = Shopper(page, api, screenshots)

    assert await shopper.open(f"{api}/s/Ada.Wax") == 200
    assert await page.title() == "Ada's Wax Prints"
    await shopper.shot("store-page-1-top")
    first_page = await shopper.photos_loaded()
    assert len(first_page) == 24
    # Each photo came from its stored widths (two columns on a 360 px screen: the 320 px WebP),
    # not the 900 px original.
    assert all("-320w-" in source for source in first_page), first_page
    main = await shopper.text()
    assert HOSTILE in main  # shown as text, not markup
    assert "₦12,525.00" in main and "Sold out" not in main
    await shopper.fits_the_phone()
    await shopper.shot("store-page-1")

    async with page.expect_navigation():
        await page.get_by_role("link", name="Next page →").click()
    assert page.url == f"{api}/s/ada-wax?page=2"
    assert len(await shopper.photos_loaded()) == 2
    assert "Wax print no. 0" in await shopper.text()
    await shopper.fits_the_phone()
    await shopper.shot("store-page-2")

    target = products[1]
    async with page.expect_navigation():
        await page.get_by_role("link", name="Wax print no. 1", exact=True).click()
    assert page.url == f"{api}/s/ada-wax/p/{target['id']}"
    assert len(await shopper.photos_loaded()) == 1
    item = await shopper.text()
    assert "₦12,501.00" in item and "Six yards, cotton." in item
    await shopper.fits_the_phone()
    await shopper.shot("product-page")

    await page.get_by_role("link", name="Order on WhatsApp").click()
    await page.wait_for_url("https://wa.me/**")
    link = urlsplit(opened[-1])
    assert (link.netloc, link.path) == ("wa.me", "/2348035550101")
    message = parse_qs(link.query)["text"][0]
    assert "Wax print no. 1" in message and "₦12,501.00" in message
    assert message.endswith(f"{api}/s/ada-wax/p/{target['id']}")
    await shopper.shot("whatsapp-opened")

    assert shopper.problems == []
    assert all(request.url.startswith((api, "https://wa.me/")) for request in shopper.requests), [
        request.url for request in shopper.requests
    ]
    await context.close()
    async with engine.connect() as conn:
        clicks = await conn.scalar(
            text("SELECT click_count FROM products WHERE id = :id"), {"id": target["id"]}
        )
    assert clicks == 1
