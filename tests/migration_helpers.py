"""Helpers for tests that build databases by hand, migrate them and dump them."""

import subprocess
from collections.abc import Sequence
from typing import Any

import anyio.to_thread
import asyncpg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import Base
from tests.conftest import alembic_config


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def run_sql(url: str, script: str) -> None:
    """Run a multi-statement SQL script as written (simple query protocol)."""
    connection = await asyncpg.connect(libpq_url(url))
    try:
        await connection.execute(script)
    finally:
        await connection.close()


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(libpq_url(url))
    try:
        rows: list[asyncpg.Record] = await connection.fetch(query, *args)
        return rows
    finally:
        await connection.close()


async def upgrade(url: str) -> None:
    # Alembic's env.py runs its own event loop, so it gets a thread of its own.
    await anyio.to_thread.run_sync(command.upgrade, alembic_config(url), "head")


def _dump(url: str, options: Sequence[str]) -> str:
    result = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", *options, "-d", libpq_url(url)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    # Comments carry the database name; pg_dump >= 17.6 adds a random \\restrict key.
    return "\n".join(
        line
        for line in result.stdout.splitlines()
        if line.strip() and not line.startswith(("--", "\\restrict", "\\unrestrict"))
    )


async def pg_dump(url: str, *options: str) -> str:
    return await anyio.to_thread.run_sync(_dump, url, options)


async def autogenerate_diff(url: str) -> list[Any]:
    """What `alembic revision --autogenerate` would write for this database."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()
