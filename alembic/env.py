"""Alembic environment: async engine from the app's settings, models' metadata as the target."""

import asyncio
import logging
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.models import Base
from app.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
logger = logging.getLogger("alembic.env")
# Any fixed 64-bit number, the same in every instance: instances that start together (Render's
# free type migrates at start-up) take turns, and the later ones find the schema at head.
MIGRATION_LOCK_KEY = 0x5156_4D49_4752_4154


def take_migration_lock(connection: Connection) -> None:
    """Hold a PostgreSQL advisory lock until the migration's transaction ends."""
    if connection.dialect.name != "postgresql":
        return
    key = {"key": MIGRATION_LOCK_KEY}
    if not connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), key):
        logger.info("another instance is running migrations; waiting for it to finish")
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)


def database_url() -> str:
    url = config.attributes.get("database_url") or get_settings().DATABASE_URL
    return str(url)


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    # Taken before Alembic reads the current revision, inside the one migration transaction.
    take_migration_lock(connection)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        await connection.run_sync(do_run_migrations)
        return
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(do_run_migrations)
        await conn.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
