"""Migrations and models agree, and the schema goes down to base and up again."""

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import inspect, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import _admin, _server_url, alembic_config, postgres_only
from tests.migration_helpers import autogenerate_diff


@pytest.fixture
def scratch_database() -> Iterator[str]:
    server = _server_url()
    name = f"qv_migrate_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _diff(url: str) -> list[object]:
    return asyncio.run(autogenerate_diff(url))


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@postgres_only
def test_models_and_migrations_agree_and_downgrade_works(scratch_database: str) -> None:
    config = alembic_config(scratch_database)
    command.upgrade(config, "head")
    assert _diff(scratch_database) == []
    assert {"users", "products", "sessions"} <= _tables(scratch_database)
    command.downgrade(config, "base")
    assert _tables(scratch_database) == {"alembic_version"}
    command.upgrade(config, "head")
    assert _diff(scratch_database) == []


def test_migrated_test_database_matches_models(database_url: str) -> None:
    assert _diff(database_url) == []
