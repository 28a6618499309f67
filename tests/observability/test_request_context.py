"""The request id and timing headers, on every response, a 500 included."""

import re

import httpx
import pytest

from tests.conftest import FRONTEND


async def test_a_safe_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"X-Request-ID": "Ticket_42.retry-1"})
    assert response.headers["X-Request-ID"] == "Ticket_42.retry-1"


@pytest.mark.parametrize("unsafe", ["", "x" * 65, "has space", "semi;colon", "<script>"])
async def test_an_unsafe_request_id_is_replaced(client: httpx.AsyncClient, unsafe: str) -> None:
    response = await client.get("/", headers={"X-Request-ID": unsafe})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


async def test_a_500_carries_request_id_timing_and_cors(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/sentry/test-error", headers={"Origin": FRONTEND})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == response.json()["request_id"]
    assert float(response.headers["X-Process-Time"]) >= 0
    assert re.fullmatch(r"app;dur=[0-9.]+", response.headers["Server-Timing"])
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]


async def test_without_a_dsn_sentry_helpers_do_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/sentry/test-message")
    assert response.status_code == 200
    assert response.json() == {"message": "Test message sent to Sentry", "event_id": None}
