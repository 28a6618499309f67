"""A login flood past the hashing queue's bound is refused at once (503 + Retry-After), counted and
logged; the logins admitted still succeed, and a login once the flood has passed works."""

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.conftest import PASSWORD, client_for, make_settings, register

# Each hash holds 32 MiB and takes a few milliseconds: long enough that twelve logins sent
# together are all in the queue at once.
SLOW_HASHING = {"ARGON2_MEMORY_COST": 32 * 1024, "ARGON2_TIME_COST": 2}


@pytest.fixture
async def flooded_app(database_url: str, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        database_url, PASSWORD_HASH_CONCURRENCY=1, PASSWORD_HASH_QUEUE_LIMIT=2, **SLOW_HASHING
    )
    application = create_app(settings)
    yield application
    application.state.hasher.close()
    await application.state.engine.dispose()


async def test_a_full_hashing_queue_answers_503_with_retry_after(
    flooded_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    async with client_for(flooded_app) as client:
        await register(client, "ada@example.com")
        client.cookies.clear()

        async def attempt(number: int) -> httpx.Response:
            password = PASSWORD if number % 2 else "wrong-password-1"
            body = {"email": "ada@example.com", "password": password}
            return await client.post("/api/auth/login", json=body)

        with caplog.at_level(logging.WARNING, logger="app.security.passwords"):
            answers = await asyncio.gather(*(attempt(number) for number in range(12)))
        statuses = [answer.status_code for answer in answers]
        assert set(statuses) <= {200, 401, 503}, statuses
        refused = [answer for answer in answers if answer.status_code == 503]
        assert refused, statuses
        # Those admitted were answered as usual.
        assert len(refused) < len(answers)
        for answer in refused:
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.json()["detail"].startswith("Too many sign-ins")
            assert answer.json()["request_id"] == answer.headers["X-Request-ID"]
        assert flooded_app.state.hasher.refused == len(refused)
        lines = [r for r in caplog.records if "hashing queue full" in r.getMessage()]
        assert len(lines) == len(refused)
        assert all("ada@example.com" not in r.getMessage() for r in caplog.records)

        # The flood has passed: the queue is empty again and a login goes through.
        client.cookies.clear()
        again = await client.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert again.status_code == 200


async def test_the_account_form_gets_a_page_not_json(flooded_app: FastAPI) -> None:
    async with client_for(flooded_app) as client:
        await register(client, "ada@example.com")
        client.cookies.clear()
        form = {"email": "ada@example.com", "password": PASSWORD}
        origin = {"Origin": "http://testserver"}
        answers = await asyncio.gather(
            *(client.post("/account/login", data=form, headers=origin) for _ in range(12))
        )
        refused = [answer for answer in answers if answer.status_code == 503]
        assert refused, [answer.status_code for answer in answers]
        assert refused[0].headers["content-type"].startswith("text/html")
        assert "Retry-After" in refused[0].headers
