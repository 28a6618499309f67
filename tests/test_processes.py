"""The processes the image starts: pre-start (wait, migrate under a lock) and the server, with
several workers and instances, a graceful SIGTERM and a one-line refusal of unsafe settings."""

import asyncio
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio.to_thread
import bcrypt
import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import alembic_config, postgres_only
from tests.deploy_files import final_stage
from tests.legacy_schema import SHAPE_1
from tests.migration_helpers import fetch, run_sql
from tests.processes import (
    FakeSentry,
    Processes,
    container_environment,
    free_port,
    managed,
    wait_until_live,
    worker_count,
)

NewDatabase = Callable[[], Awaitable[str]]
PRESTART = [sys.executable, "-m", "app.prestart"]
SERVE = [sys.executable, "-m", "app.serve"]
HEAD = ScriptDirectory.from_config(alembic_config("unused")).get_current_head()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    yield from managed(tmp_path)


def bcrypt_taking_a_second(password: bytes) -> str:
    """A bcrypt hash whose check takes a second or more here (checking costs what making did)."""
    rounds = 12
    while True:
        started = time.perf_counter()
        hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds)).decode()
        if time.perf_counter() - started >= 1.0 or rounds >= 16:
            return hashed
        rounds += 1


def image_command(keyword: str) -> list[str]:
    [step] = [step for step in final_stage() if step.keyword == keyword]
    return step.exec_form()


async def schema_revision(url: str) -> list[str]:
    return [row[0] for row in await fetch(url, "SELECT version_num FROM alembic_version")]


@postgres_only
async def test_image_start_up_serves_with_workers_and_finishes_requests_on_sigterm(
    scratch_databases: NewDatabase, processes: Processes
) -> None:
    url = await scratch_databases()
    port = free_port()
    env = container_environment(url, PORT=str(port), WEB_CONCURRENCY="2")
    server = processes.start(image_command("CMD"), env)
    await wait_until_live(processes, server, port)

    assert await schema_revision(url) == [HEAD]
    assert worker_count(server.pid) == 2
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        health = await http.get("/api/health")
        assert health.status_code == 200
        assert health.json()["database"] == "ok"
        assert health.json()["environment"] == "production"
        healthcheck = processes.start(image_command("HEALTHCHECK"), env)
        assert await processes.wait(healthcheck) == 0

        # A login checking an old, costly bcrypt hash is in flight when SIGTERM arrives.
        slow_hash = await anyio.to_thread.run_sync(bcrypt_taking_a_second, b"slow-password-1")
        await run_sql(
            url,
            "INSERT INTO users (id, email, hashed_password, whatsapp_number, store_slug) "
            f"VALUES ('user_{uuid.uuid4().hex}', 'slow@example.com', '{slow_hash}', "
            "'+2348010000000', 'slow-shop')",
        )
        login = asyncio.create_task(
            http.post(
                "/api/auth/login",
                json={"email": "slow@example.com", "password": "slow-password-1"},
            )
        )
        await asyncio.sleep(0.4)
        assert not login.done(), "the login must still be running when SIGTERM arrives"
        server.send_signal(signal.SIGTERM)
        response = await login
        assert response.status_code == 200, response.text
    assert await processes.wait(server, limit=40) == 0
    output = processes.output(server)
    assert "database schema is at the latest revision" in output
    healthcheck = processes.start(image_command("HEALTHCHECK"), env)
    assert await processes.wait(healthcheck) == 1


@postgres_only
async def test_logout_on_one_server_revokes_the_token_on_another(
    database_url: str, engine: AsyncEngine, processes: Processes
) -> None:
    # The session's migrated database; the `engine` fixture empties it afterwards.
    ports = free_port(), free_port()
    env = container_environment(database_url, WEB_CONCURRENCY="1")
    servers = [processes.start(SERVE, {**env, "PORT": str(port)}) for port in ports]
    for server, port in zip(servers, ports, strict=True):
        await wait_until_live(processes, server, port)

    one, two = (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) for port in ports
    )
    async with one, two:
        credentials = {"email": "twin@example.com", "password": "two-servers-pass"}
        registered = await one.post(
            "/api/users/register", json={**credentials, "whatsapp_number": "+2348012345678"}
        )
        assert registered.status_code == 201, registered.text
        login = await one.post("/api/auth/login", json=credentials)
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        one.cookies.clear()
        assert (await one.get("/api/users/me", headers=headers)).status_code == 200
        assert (await two.get("/api/users/me", headers=headers)).status_code == 200

        assert (await two.post("/api/auth/logout", headers=headers)).status_code == 200

        assert (await one.get("/api/users/me", headers=headers)).status_code == 401
        assert (await two.get("/api/users/me", headers=headers)).status_code == 401
        assert (await one.post("/api/auth/refresh", headers=headers)).status_code == 401


@postgres_only
async def test_two_pre_starts_at_once_migrate_a_fresh_database_once(
    scratch_databases: NewDatabase, processes: Processes
) -> None:
    url = await scratch_databases()
    env = container_environment(url)
    first, second = processes.start(PRESTART, env), processes.start(PRESTART, env)
    codes = await asyncio.gather(processes.wait(first), processes.wait(second))
    assert codes == [0, 0], processes.output(first) + processes.output(second)
    assert await schema_revision(url) == [HEAD]
    tables = await fetch(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert tables[0][0] >= 5


@postgres_only
async def test_pre_start_waits_for_the_database(
    scratch_databases: NewDatabase, processes: Processes
) -> None:
    url = await scratch_databases()
    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    await run_sql(server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    env = container_environment(url, DB_WAIT_ATTEMPTS="200", DB_WAIT_INTERVAL="0.1")
    prestart = processes.start(PRESTART, env)
    for _ in range(300):
        if "waiting for the database (attempt 2 of 200)" in processes.output(prestart):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(processes.output(prestart))
    await run_sql(server, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert await processes.wait(prestart) == 0, processes.output(prestart)
    assert await schema_revision(url) == [HEAD]


async def test_pre_start_gives_up_after_the_configured_attempts(processes: Processes) -> None:
    password = "pw-never-logged-9"
    env = container_environment(
        "postgresql+asyncpg://postgres@127.0.0.1/none",
        DATABASE_URL=f"postgres://postgres:{password}@127.0.0.1:{free_port()}/quickvendor",
        DB_WAIT_ATTEMPTS="3",
        DB_WAIT_INTERVAL="0.1",
    )
    prestart = processes.start(PRESTART, env)
    assert await processes.wait(prestart) == 1
    output = processes.output(prestart)
    assert "waiting for the database (attempt 3 of 3)" in output
    assert "did not answer after 3 attempts" in output
    assert password not in output


UNSAFE = {
    "weak SECRET_KEY": ({"SECRET_KEY": "changeme"}, "SECRET_KEY"),
    "SQLite": ({"DATABASE_URL": "sqlite:///quickvendor.db"}, "SQLite"),
    "wildcard CORS": ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
async def test_production_refuses_unsafe_settings_in_one_line(
    processes: Processes, case: str
) -> None:
    overrides, reason = UNSAFE[case]
    env = container_environment("postgresql+asyncpg://postgres@127.0.0.1/none", **overrides)
    command = PRESTART if case == "SQLite" else SERVE
    process = processes.start(command, env)
    assert await processes.wait(process) == 1
    lines = processes.output(process).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("configuration error: refusing to start in production")
    assert reason in lines[0]


@postgres_only
async def test_pre_start_stops_with_one_clear_line_on_legacy_rows_it_cannot_adopt(
    scratch_databases: NewDatabase, processes: Processes
) -> None:
    url = await scratch_databases()
    await run_sql(
        url,
        SHAPE_1 + "INSERT INTO users (id, email, hashed_password, whatsapp_number) VALUES "
        "('user_one', 'Ada@example.com', 'x', '1'), ('user_two', 'ada@EXAMPLE.com', 'x', '2');",
    )
    prestart = processes.start(PRESTART, container_environment(url))
    assert await processes.wait(prestart) == 1
    [failure] = [line for line in processes.output(prestart).splitlines() if "ERROR" in line]
    assert "pre-start failed: cannot adopt" in failure
    assert "(user_one, user_two)" in failure
    assert "Ada@example.com" not in processes.output(prestart)  # ids, never emails
    assert not await fetch(url, "SELECT 1 FROM pg_tables WHERE tablename = 'alembic_version'")


@postgres_only
async def test_sigterm_flushes_sentry_events_before_the_process_ends(
    database_url: str, processes: Processes
) -> None:
    sentry = FakeSentry()
    ingest = await asyncio.start_server(sentry.handle, "127.0.0.1", 0)
    sentry.port = ingest.sockets[0].getsockname()[1]
    port = free_port()
    env = container_environment(
        database_url, PORT=str(port), WEB_CONCURRENCY="1", SENTRY_SHUTDOWN_TIMEOUT="3"
    )
    env["SENTRY_DSN"] = sentry.dsn
    async with ingest:
        server = processes.start(SERVE, env)
        await wait_until_live(processes, server, port)
        event_ids = []
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            # The first event keeps the (slow) ingest busy; the second is still queued at SIGTERM.
            for _ in range(2):
                sent = await http.get(
                    "/api/sentry/test-message",
                    headers={"X-Sentry-Test-Token": env["SENTRY_TEST_TOKEN"]},
                )
                assert sent.status_code == 200, sent.text
                event_ids.append(sent.json()["event_id"])
        server.send_signal(signal.SIGTERM)
        # A single uvicorn process re-raises SIGTERM once it has shut down gracefully.
        assert await processes.wait(server, limit=30) == -signal.SIGTERM
    assert "Application shutdown complete" in processes.output(server)
    for event_id in event_ids:
        assert any(event_id.encode() in envelope for envelope in sentry.envelopes), event_id
