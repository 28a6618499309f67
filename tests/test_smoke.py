"""The root and health routes answer; every response carries the request id and timing."""

import asyncio

import httpx

from app.main import create_app
from tests.conftest import client_for, make_settings


async def test_root(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "QuickVendor API is running"}
    assert response.headers["X-Request-ID"]
    assert float(response.headers["X-Process-Time"]) >= 0


async def test_health_reports_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["environment"] == "development"
    assert (await client.get("/api/health/live")).json() == {"status": "ok"}


async def test_unreachable_database_gives_503_not_a_hang() -> None:
    # Port 9 (discard) is closed on loopback: connections are refused at once.
    dead = make_settings("postgresql+asyncpg://postgres@127.0.0.1:9/none")
    app = create_app(dead)
    async with client_for(app) as http:
        health = await asyncio.wait_for(http.get("/api/health"), timeout=30)
        live = await http.get("/api/health/live")
        store = await asyncio.wait_for(http.get("/api/store/ada"), timeout=30)
    await app.state.engine.dispose()
    assert health.status_code == 503
    assert health.json()["database"] == "unavailable"
    assert live.status_code == 200
    assert store.status_code == 503
    assert store.json()["detail"].startswith("Service temporarily unavailable")
    assert store.json()["request_id"] == store.headers["X-Request-ID"]
