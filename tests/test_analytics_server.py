"""Analytics on the server production runs (`python -m app.serve`, two worker processes): each
worker's counts reach the database at a graceful shutdown, and workers flushing at the same time
add up instead of overwriting each other."""

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import create_product, vendor
from tests.servers import ApiServer, server_env

PHONE = "Mozilla/5.0 (Linux; Android 12; Infinix X6816) Chrome/120.0 Mobile shopper-{n}"
# Generous: a bound that catches a hang, not a timing.
WAIT = 60.0


async def views(base_url: str, slug: str, product_id: str, shoppers: range) -> None:
    """Each shopper opens the store twice (the JSON storefront, then the store page) and one
    product once (every other shopper on its page), each on a new connection, so the server's
    workers share them."""

    async def one(n: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            agent = {"User-Agent": PHONE.format(n=n)}
            product = (
                f"/s/{slug}/p/{product_id}" if n % 2 else f"/api/store/{slug}/products/{product_id}"
            )
            for path in (f"/api/store/{slug}?ref=ig", f"/s/{slug}", product):
                assert (await client.get(path, headers=agent)).status_code == 200

    for start in range(shoppers.start, shoppers.stop, 8):
        await asyncio.gather(*(one(n) for n in range(start, min(start + 8, shoppers.stop))))


async def totals(base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.get("/api/analytics", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()["totals"]
        return body


async def test_two_workers_flush_on_shutdown_and_add_up(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    # An hour between flushes: whatever is written before the restart was written at shutdown.
    server = ApiServer(server_env(database_url, ANALYTICS_FLUSH_SECONDS="3600"), log, workers=2)
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            headers = await vendor(client)
            slug = (await client.get("/api/users/me", headers=headers)).json()["store_slug"]
            product = await create_product(client, headers)
        await views(server.base_url, slug, product["id"], range(0, 24))
        assert (await totals(server.base_url, headers))["views"] == 0
        await asyncio.to_thread(server.stop)

        # Both workers flush every 0.2 s now, upserting the same rows at the same moments.
        server.env["ANALYTICS_FLUSH_SECONDS"] = "0.2"
        await asyncio.to_thread(server.start)
        after_restart = await totals(server.base_url, headers)
        assert (after_restart["views"], after_restart["visitors"]) == (48, 24)
        assert after_restart["product_views"] == 24
        await views(server.base_url, slug, product["id"], range(16, 40))
        # Shoppers 16-23 came back the same day: 40 visitors in all, not 48.
        expected = {"views": 96, "visitors": 40, "product_views": 48}
        deadline = time.monotonic() + WAIT
        # Each worker flushes on its own: the last figure in may come a flush after the others.
        while True:
            now = await totals(server.base_url, headers)
            if all(now[name] >= count for name, count in expected.items()):
                break
            assert time.monotonic() < deadline, now
            await asyncio.sleep(0.2)
        assert {name: now[name] for name in expected} == expected
    finally:
        await asyncio.to_thread(server.stop)
    output = log.read_text()
    assert "shopper-" not in output
    assert "analytics: counts not written" not in output
