"""Test fixtures: a real database (PostgreSQL by default, SQLite on the second pass) migrated by
Alembic once per session, emptied after each test, and the app over real HTTP through ASGI.

TEST_DATABASE_URL picks the server: a PostgreSQL URL names a server on which a throw-away
database is created (and dropped at the end); a SQLite URL names the file to use.
"""

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.main import create_app
from app.settings import Settings, normalise_database_url

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TABLES = (
    "order_lines",
    "orders",
    "account_tokens",
    "feedback",
    "delivery_jobs",
    "store_aliases",
    "sessions",
    "products",
    "users",
    "rate_limit_counters",
    "photos",
    "analytics_days",
    "analytics_product_days",
    "analytics_source_days",
    "analytics_day_keys",
    "analytics_visitors",
)
# Cheap Argon2 parameters: the suite hashes hundreds of passwords.
FAST_HASHING = {
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_COST": 1024,
    "ARGON2_PARALLELISM": 1,
    "PASSWORD_LEGACY_BCRYPT_ROUNDS": 4,
}
FRONTEND = "http://localhost:3000"
PASSWORD = "correct-horse-42"
TEST_MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="quickvendor-test-media-"))


def _server_url() -> str:
    return normalise_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL))


def is_postgres() -> bool:
    return _server_url().startswith("postgresql")


postgres_only = pytest.mark.skipif(
    not is_postgres(), reason="PostgreSQL-specific; the PostgreSQL pass of the suite runs it"
)


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test session."""
    server = _server_url()
    if server.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        command.upgrade(alembic_config(url), "head")
        yield url
        return
    name = f"qv_test_{uuid.uuid4().hex[:12]}"
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def scratch_databases() -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Makes empty PostgreSQL databases (for migration tests), dropped after the test."""
    server = _server_url()
    created: list[str] = []

    async def make() -> str:
        name = f"qv_scratch_{uuid.uuid4().hex[:12]}"
        await _admin(server, f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    yield make
    await asyncio.gather(
        *(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)') for name in created)
    )


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "FRONTEND_URL": FRONTEND,
        "CORS_ORIGINS": [FRONTEND],
        "SENTRY_DSN": None,
        # Photos the tests upload stay out of the project folder.
        "MEDIA_ROOT": TEST_MEDIA_ROOT,
        # Off unless a test turns them on (tests/test_rate_limits.py): suites register and log in
        # many vendors from one address and click products repeatedly on purpose.
        "RATE_LIMIT_ENABLED": False,
        "REDIS_URL": None,
        "TRUSTED_PROXIES": [],
        **FAST_HASHING,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


async def empty_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
        else:
            for table in TABLES:
                await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A direct connection for assertions about what was stored; tables emptied afterwards."""
    engine = create_async_engine(database_url)
    yield engine
    await empty_tables(engine)
    await engine.dispose()


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await dispose_app(application)


async def dispose_app(application: FastAPI) -> None:
    """Close what an app built without its lifespan holds: its counters' and its own pool."""
    await application.state.rate_limiter.close()
    await application.state.engine.dispose()


def client_for(application: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application, raise_app_exceptions=False),
        base_url="http://testserver",
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[[FastAPI], httpx.AsyncClient]]:
    """Extra clients (a second vendor, a shopper) with their own cookie jars."""
    opened: list[httpx.AsyncClient] = []

    def factory(application: FastAPI) -> httpx.AsyncClient:
        http = client_for(application)
        opened.append(http)
        return http

    yield factory
    for http in opened:
        await http.aclose()


async def register(
    client: httpx.AsyncClient,
    email: str = "ada@example.com",
    password: str = PASSWORD,
    whatsapp_number: str = "+234 801 234 5678",
) -> dict[str, Any]:
    response = await client.post(
        "/api/users/register",
        json={"email": email, "password": password, "whatsapp_number": whatsapp_number},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def vendor(client: httpx.AsyncClient, email: str = "ada@example.com") -> dict[str, str]:
    """Register and log in a vendor; returns the Bearer headers (the client keeps no cookie)."""
    await register(client, email)
    token = await login(client, email)
    client.cookies.clear()
    return bearer(token)


async def create_product(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    payload = {"name": "Ankara dress", "price": "15000", **fields}
    response = await client.post("/api/products", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
