"""Readiness: whether the database answers a trivial query in time."""

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)


async def _ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def database_answers(engine: AsyncEngine, *, within_seconds: float) -> bool:
    """True when `SELECT 1` comes back within that time; any failure means "not ready"."""
    try:
        await asyncio.wait_for(_ping(engine), timeout=within_seconds)
    except Exception as exc:  # refused, timed out, pool exhausted: all mean "not ready"
        logger.warning("health check: database unreachable (%s)", type(exc).__name__)
        return False
    return True
