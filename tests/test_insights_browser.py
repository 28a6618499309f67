"""`/account/insights` in Chromium against the real server, at a phone's and a desktop's size:
the login on the way, the figures the traffic made, the chart, the tables and the range picker.
Screenshots are saved under the test's temporary folder, whose path the test output shows."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import PASSWORD, create_product, vendor
from tests.servers import free_port, running_api, server_env
from tests.test_recovery_server import Visit, chromium, screenshots  # noqa: F401 - fixtures

PHONE = "Mozilla/5.0 (Linux; Android 12; Infinix X6816) Chrome/120.0 Mobile shopper-{n}"
WAIT = 60.0
SIZES = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 800}}


@pytest.fixture
def api(database_url: str, engine: AsyncEngine, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(
        database_url,
        PUBLIC_BASE_URL=base_url,
        ANALYTICS_FLUSH_SECONDS="0.2",
        # Each shopper its own address: one client's taps count once (the click dedupe).
        TRUSTED_PROXIES='["127.0.0.1"]',
    )
    with running_api(env, tmp_path / "server.log", port=port) as url:
        yield url


async def traffic(api: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """A store with three products, and shoppers from three sources opening and tapping them."""
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        headers = await vendor(client, "ada.insights@example.com")
        slug = (await client.get("/api/users/me", headers=headers)).json()["store_slug"]
        names = ("Ankara tote <b>bold</b>", "Aso oke wrap", "Adire scarf")
        products = [await create_product(client, headers, name=name) for name in names]
        for n in range(9):
            agent = {"User-Agent": PHONE.format(n=n), "X-Forwarded-For": f"203.0.113.{n + 1}"}
            ref = ("instagram", "whatsapp", None)[n % 3]
            params = {"ref": ref} if ref else {}
            response = await client.get(f"/api/store/{slug}", params=params, headers=agent)
            assert response.status_code == 200
            for product in products[: n % 3 + 1]:
                path = f"/api/store/{slug}/products/{product['id']}"
                assert (await client.get(path, headers=agent)).status_code == 200
            if n % 2 == 0:
                path = f"/api/products/{products[0]['id']}/track-click"
                assert (await client.post(path, headers=agent)).status_code == 200
        deadline = time.monotonic() + WAIT
        while True:
            totals = (await client.get("/api/analytics", headers=headers)).json()["totals"]
            if totals["views"] == 9 and totals["taps"] == 5:
                break
            assert time.monotonic() < deadline, totals
            await asyncio.sleep(0.2)
        no_session = await client.get("/account/insights", follow_redirects=False)
        assert no_session.status_code == 303
        assert no_session.headers["location"] == "/account/login?next=%2Faccount%2Finsights"
    return headers, products


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_insights_in_chromium(
    api: str,
    chromium: Browser,  # noqa: F811 - the fixture imported above
    screenshots: Path,  # noqa: F811
    size: str,
) -> None:
    _, products = await traffic(api)
    context = await chromium.new_context(viewport=SIZES[size])
    visit = Visit(await context.new_page(), api, screenshots)
    # A blocked style or image (the CSP) and a script error show here; failed loads are
    # checked by their responses below.
    problems: list[str] = []
    visit.page.on(
        "console",
        lambda m: problems.append(m.text) if not m.text.startswith("Failed to load") else None,
    )
    visit.page.on("pageerror", lambda error: problems.append(str(error)))
    failed: list[str] = []
    visit.page.on(
        "response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )

    assert await visit.open(f"{api}/account/insights") == 200
    assert visit.page.url.startswith(f"{api}/account/login?next=")
    await visit.page.get_by_label("Email").fill("ada.insights@example.com")
    await visit.page.get_by_label("Password").fill(PASSWORD)
    assert await visit.submit("Log in") == 200
    assert visit.page.url == f"{api}/account/insights"
    text = await visit.text()
    for figure in ("9\nstore views", "9\nvisitors", "18\nproduct views", "5\nWhatsApp taps"):
        assert figure in text, figure
    await visit.shot(f"{size}-insights")

    # The chart: one bar per day of the last 30, today's the tallest.
    assert await visit.page.locator("svg rect.bar").count() == 30
    heights = [
        float(await bar.get_attribute("height") or 0)
        for bar in await visit.page.locator("svg rect.bar").all()
    ]
    assert heights[-1] > 0 and heights[:-1] == [0.0] * 29
    products_table = visit.page.locator("table").nth(0)
    rows = await products_table.locator("tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in rows] == [
        products[0]["name"],
        products[1]["name"],
        products[2]["name"],
    ]
    assert rows[0].split("\t")[1:] == ["9", "5", "0"]
    sources = await visit.page.locator("table").nth(1).locator("tbody tr").all_inner_texts()
    assert [row.split("\t") for row in sources] == [
        ["direct", "21", "9"],
        ["instagram", "3", "3"],
        ["whatsapp", "3", "3"],
    ]
    scroll = await visit.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert scroll <= 0, f"{scroll}px of horizontal scrolling"

    # The range picker: a preset, then two days typed in.
    async with visit.page.expect_navigation():
        await visit.page.get_by_role("link", name="Last 7 days").click()
    assert await visit.page.locator("svg rect.bar").count() == 7
    await visit.shot(f"{size}-last-7-days")
    await visit.page.get_by_label("From", exact=True).fill("2026-03-01")
    await visit.page.get_by_label("To", exact=True).fill("2026-03-02")
    assert await visit.submit("Show") == 200
    assert "from=2026-03-01" in visit.page.url
    assert await visit.page.locator("svg rect.bar").count() == 2
    assert "No visits in these days yet." in await visit.text()
    assert await visit.open(f"{api}/account/insights?from=2026-03-02&to=2026-03-01") == 422
    assert "`from` is after `to`" in await visit.text()
    await visit.shot(f"{size}-bad-range")
    assert problems == []
    # Only the range refused on purpose (and the browser's guess at a favicon) failed.
    assert [line for line in failed if not line.endswith("/favicon.ico")] == [
        f"422 {api}/account/insights?from=2026-03-02&to=2026-03-01"
    ]
    await context.close()
