"""The root and health routes answer; every response carries the request id and timing."""

import httpx


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
