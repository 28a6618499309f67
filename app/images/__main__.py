"""`python -m app.images backfill`: make the widths and previews of photos stored before them.

Reads the same settings as the API (DATABASE_URL, STORAGE_BACKEND and its S3_* or MEDIA_ROOT,
IMAGE_*) and logs what it did. Exits 1 when the database or the storage failed (rerun it: what
was done is kept), else 0, also when some photos had no file or could not be read (logged).
"""

import argparse
import asyncio
import logging

import sentry_sdk
from sqlalchemy.exc import SQLAlchemyError

from app.db.engine import create_engine
from app.db.session import create_session_factory
from app.images.backfill import BackfillCounts, backfill
from app.images.rules import ImageRules
from app.observability.logging import configure_logging
from app.observability.sentry import capture_message_with_context, init_sentry
from app.settings import Settings, load_settings
from app.storage import StorageError, create_storage

logger = logging.getLogger("app.images.backfill")


async def run_backfill(settings: Settings) -> BackfillCounts:
    engine = create_engine(settings)
    storage = create_storage(settings)
    try:
        factory = create_session_factory(engine)
        return await backfill(factory, storage, ImageRules.from_settings(settings))
    finally:
        await storage.close()
        await engine.dispose()


def _report(counts: BackfillCounts) -> None:
    logger.info("photo backfill finished: %s", counts.summary())
    if counts.missing or counts.failed:
        logger.warning(
            "photo backfill: %d photos have no file and %d could not be read (see above)",
            counts.missing,
            counts.failed,
        )
        capture_message_with_context(
            "photo backfill left photos without sizes",
            {"missing": counts.missing, "failed": counts.failed},
            level="warning",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.images", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("backfill", help="make the sizes of photos stored before they existed")
    parser.parse_args(argv)
    settings = load_settings()
    configure_logging(settings)
    init_sentry(settings)
    try:
        _report(asyncio.run(run_backfill(settings)))
    except (StorageError, SQLAlchemyError, OSError) as exc:
        # An error line is a Sentry event too.
        logger.error("photo backfill stopped: %s; rerun it to go on", type(exc).__name__)
        return 1
    finally:
        sentry_sdk.flush(timeout=settings.SENTRY_SHUTDOWN_TIMEOUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
