"""Faults: a private PostgreSQL cluster is really stopped and started under a running server,
and the DSN really points at a dead address. Database routes answer 503 in the usual error shape
within a bounded time, liveness stays 200, the service recovers by itself, and a request that
fails half way leaves nothing behind. Time bounds are generous: they catch hangs, not slowness.
"""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.main import create_app
from app.models.base import utcnow
from app.security.tokens import create_access_token
from tests.conftest import (
    PASSWORD,
    alembic_config,
    bearer,
    client_for,
    make_settings,
    postgres_only,
)
from tests.pg_cluster import PrivateCluster
from tests.servers import free_port, running_api, server_env

pytestmark = postgres_only

HANG_BOUND = 20.0
NEW_VENDOR = {"email": "new@example.com", "password": PASSWORD, "whatsapp_number": "08011111111"}
SERVER_SETTINGS = {
    "RATE_LIMIT_ENABLED": "true",  # counters in the database: they must fail open too
    "LOGIN_IP_LIMIT": "1000",
    "REGISTER_IP_LIMIT": "1000",
    "DB_POOL_TIMEOUT": "2",
    "DB_STATEMENT_TIMEOUT_MS": "1500",
    "HEALTH_DB_TIMEOUT": "2",
}


async def _execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    pg = PrivateCluster(free_port())
    try:
        pg.init()
        pg.start()
        asyncio.run(_execute(pg.url(), "CREATE DATABASE qv"))
        command.upgrade(alembic_config(pg.url("qv")), "head")
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="module")
def api_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults") / "server.log"


@pytest.fixture(scope="module")
def api(cluster: PrivateCluster, api_log: Path) -> Iterator[str]:
    env = server_env(cluster.url("qv"), **SERVER_SETTINGS)
    with running_api(env, api_log, workers=2) as base_url:
        yield base_url


def login(base_url: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/auth/login",
        json={"email": "ada@example.com", "password": password},
        timeout=HANG_BOUND,
    )


@pytest.fixture(scope="module")
def seeded(api: str) -> dict[str, Any]:
    registered = httpx.post(
        f"{api}/api/users/register",
        json={"email": "ada@example.com", "password": PASSWORD, "whatsapp_number": "0801234567"},
    )
    assert registered.status_code == 201, registered.text
    headers = {"Authorization": f"Bearer {login(api).json()['access_token']}"}
    product = httpx.post(
        f"{api}/api/products", json={"name": "Dress", "price": "1500"}, headers=headers
    )
    assert product.status_code == 201, product.text
    return {"headers": headers, "product_id": product.json()["id"], "slug": "ada"}


def database_routes(seeded: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    auth = {"headers": seeded["headers"]}
    product = seeded["product_id"]
    return [
        ("POST", "/api/auth/login", {"json": {"email": "ada@example.com", "password": PASSWORD}}),
        ("POST", "/api/users/register", {"json": NEW_VENDOR}),
        ("GET", "/api/users/me", auth),
        ("GET", "/api/products", auth),
        ("POST", "/api/products", {"json": {"name": "Hat", "price": "10"}, **auth}),
        ("PUT", f"/api/products/{product}", {"json": {"price": "20"}, **auth}),
        ("POST", f"/api/products/{product}/track-click", {}),
        ("GET", f"/api/store/{seeded['slug']}", {}),
        ("GET", "/api/auth/check-session", auth),
    ]  # fmt: skip


def call(base_url: str, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
    started = time.perf_counter()
    response = httpx.request(method, f"{base_url}{path}", timeout=HANG_BOUND + 10, **kwargs)
    assert time.perf_counter() - started < HANG_BOUND, f"{method} {path} hung"
    return response


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["detail"] and body["request_id"] == response.headers["X-Request-ID"]
    assert int(response.headers["Retry-After"]) > 0


def wait_for_health(base_url: str, status: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if httpx.get(f"{base_url}/api/health", timeout=HANG_BOUND).status_code == status:
            return
        time.sleep(0.5)
    raise AssertionError(f"health never answered {status}")


def test_outage_answers_503_then_recovers_without_restart(
    cluster: PrivateCluster, api: str, seeded: dict[str, Any], api_log: Path
) -> None:
    routes = database_routes(seeded)
    assert call(api, "GET", "/api/health", {}).status_code == 200
    cluster.stop("immediate")
    try:
        for _ in range(2):  # two workers, each with its own (now dead) pool
            for method, path, kwargs in routes:
                assert_unavailable(call(api, method, path, kwargs))
            health = call(api, "GET", "/api/health", {})
            assert health.status_code == 503
            assert health.json()["database"] == "unavailable"
            assert call(api, "GET", "/api/health/live", {}).json() == {"status": "ok"}
    finally:
        cluster.start()
    wait_for_health(api, 200)
    for _ in range(2):
        for method, path, kwargs in routes:
            response = call(api, method, path, kwargs)
            assert response.status_code < 500, (path, response.text)
    # The outage was logged, without the emails, passwords or tokens of the failed requests.
    log = api_log.read_text(errors="replace")
    assert "database unavailable" in log
    secrets = ("ada@example.com", "new@example.com", PASSWORD, seeded["headers"]["Authorization"])
    assert not [secret for secret in secrets if secret in log]


def test_password_change_failing_half_way_leaves_nothing(
    cluster: PrivateCluster, api: str, seeded: dict[str, Any]
) -> None:
    # Two live sessions. The change revokes the other one, then writes the new hash; the write
    # of the hash is made to outlive the statement timeout, so the request fails after the
    # revocation already ran inside its transaction.
    first = {"Authorization": f"Bearer {login(api).json()['access_token']}"}
    second = {"Authorization": f"Bearer {login(api).json()['access_token']}"}
    new_password = "another-horse-77"
    change = {"current_password": PASSWORD, "new_password": new_password}
    asyncio.run(
        _execute(
            cluster.url("qv"),
            "CREATE FUNCTION qv_stall() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$",
            "CREATE TRIGGER qv_stall BEFORE UPDATE OF hashed_password ON users "
            "FOR EACH ROW EXECUTE FUNCTION qv_stall()",
        )
    )
    try:
        failed = call(api, "POST", "/api/users/me/password", {"json": change, "headers": first})
        assert_unavailable(failed)
    finally:
        asyncio.run(
            _execute(cluster.url("qv"), "DROP TRIGGER qv_stall ON users", "DROP FUNCTION qv_stall")
        )
    assert call(api, "GET", "/api/users/me", {"headers": second}).status_code == 200
    assert login(api).status_code == 200
    assert login(api, new_password).status_code == 401
    done = call(api, "POST", "/api/users/me/password", {"json": change, "headers": first})
    assert done.status_code == 204, done.text
    assert call(api, "GET", "/api/users/me", {"headers": second}).status_code == 401
    assert login(api, new_password).status_code == 200


async def test_dead_database_address(database_url: str) -> None:
    """The DSN names a port nobody listens on; a validly signed token still needs the database."""
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/qv"
    settings = make_settings(dead, RATE_LIMIT_ENABLED=True, DB_POOL_TIMEOUT=2)
    token, _ = create_access_token(
        settings, user_id="user_x", session_id="session_x", issued_at=utcnow()
    )
    seeded = {"headers": bearer(token), "product_id": "product_x", "slug": "ada"}
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            for method, path, kwargs in database_routes(seeded):
                started = time.perf_counter()
                assert_unavailable(await client.request(method, path, **kwargs))
                assert time.perf_counter() - started < HANG_BOUND, f"{method} {path} hung"
            assert (await client.get("/api/health")).status_code == 503
            assert (await client.get("/api/health/live")).status_code == 200
    finally:
        await application.state.engine.dispose()
