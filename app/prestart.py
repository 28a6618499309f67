"""Pre-start: wait for the database, then migrate it to the latest revision.

Run before every server start (`python -m app.prestart`; the Dockerfile and Render's
pre-deploy command do). Safe on several instances at once: the migrations run under a PostgreSQL
advisory lock (alembic/env.py), so later instances wait and then find nothing to do.
"""

import asyncio
import logging

from alembic import command
from alembic.config import Config
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError

from app.adoption.legacy import LegacyDataError
from app.db.engine import create_engine
from app.observability.logging import configure_logging
from app.settings import PROJECT_ROOT, Settings, load_settings

logger = logging.getLogger("app.prestart")


class DatabaseUnavailableError(Exception):
    """The database did not answer within the configured attempts."""


def _reason(exc: BaseException) -> str:
    """The driver's own first line (host, port, database name; never the password)."""
    cause = getattr(exc, "orig", None) or exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first_line}" if first_line else type(cause).__name__


def _where(settings: Settings) -> str:
    """Host, port and database name of the database URL (never its password)."""
    url = make_url(settings.DATABASE_URL)
    if settings.is_sqlite:
        return f"SQLite file {url.database}"
    return f"{url.host}:{url.port or 5432}/{url.database}"


async def wait_for_database(settings: Settings) -> None:
    logger.info("pre-start: connecting to the database at %s", _where(settings))
    engine = create_engine(settings)
    try:
        for attempt in range(1, settings.DB_WAIT_ATTEMPTS + 1):
            try:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
                return
            except (OSError, SQLAlchemyError, TimeoutError) as exc:
                logger.warning(
                    "waiting for the database (attempt %d of %d): %s",
                    attempt,
                    settings.DB_WAIT_ATTEMPTS,
                    _reason(exc),
                )
                if attempt == settings.DB_WAIT_ATTEMPTS:
                    raise DatabaseUnavailableError(_reason(exc)) from exc
                await asyncio.sleep(settings.DB_WAIT_INTERVAL)
    finally:
        await engine.dispose()


def migrate(settings: Settings) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["database_url"] = settings.DATABASE_URL
    # Keep the app's log format (JSON lines outside development) rather than alembic.ini's.
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def main() -> None:
    settings = load_settings()
    configure_logging(settings)
    logging.getLogger("alembic").setLevel(logging.INFO)
    try:
        asyncio.run(wait_for_database(settings))
    except DatabaseUnavailableError as exc:
        logger.error(
            "pre-start failed: the database did not answer after %d attempts (%s)",
            settings.DB_WAIT_ATTEMPTS,
            exc,
        )
        raise SystemExit(1) from None
    logger.info("database reachable; applying migrations")
    try:
        migrate(settings)
    except LegacyDataError as exc:
        logger.error("pre-start failed: %s", exc)
        raise SystemExit(1) from None
    logger.info("database schema is at the latest revision")


if __name__ == "__main__":
    main()
