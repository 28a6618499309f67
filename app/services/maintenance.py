"""Housekeeping run by every worker now and then: no table grows without bound, and orders left
new too long expire."""

import asyncio
import logging
import random
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.orders import DEFAULT_EXPIRY_DAYS
from app.models.base import utcnow
from app.ratelimit.limiter import RateLimiter
from app.services.account_tokens import purge_tokens
from app.services.auth import purge_sessions
from app.services.orders import expire_orders

logger = logging.getLogger("app.maintenance")


class Purged(NamedTuple):
    sessions: int
    counters: int
    tokens: int
    expired_orders: int


async def purge_stale_rows(
    factory: async_sessionmaker[AsyncSession],
    limiter: RateLimiter,
    *,
    retention: timedelta,
    order_expiry: timedelta = timedelta(days=DEFAULT_EXPIRY_DAYS),
) -> Purged:
    """Delete long-dead sessions, closed rate-limit windows and expired emailed links; expire
    orders still new after `order_expiry`."""
    async with factory() as session:
        sessions = await purge_sessions(session, before=utcnow() - retention)
        tokens = await purge_tokens(session, before=utcnow())
        expired = await expire_orders(session, placed_before=utcnow() - order_expiry)
    counters = await limiter.purge()
    return Purged(sessions, counters, tokens, expired)


async def maintenance_loop(
    factory: async_sessionmaker[AsyncSession],
    limiter: RateLimiter,
    *,
    retention: timedelta,
    interval: float,
    order_expiry: timedelta = timedelta(days=DEFAULT_EXPIRY_DAYS),
) -> None:
    """Purge forever; deletes are idempotent, so workers running it side by side is harmless."""
    while True:
        # Jitter keeps the workers of an instance from purging in the same second.
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))  # noqa: S311 - not security
        try:
            purged = await purge_stale_rows(
                factory, limiter, retention=retention, order_expiry=order_expiry
            )
        except Exception as exc:  # the database may be away; try again next round
            logger.warning("maintenance skipped: %s", type(exc).__name__)
            continue
        logger.info(
            "maintenance: purged %d sessions, %d rate-limit counters, %d account tokens; "
            "%d orders expired",
            *purged,
            extra={f"purged_{name}": count for name, count in purged._asdict().items()},
        )
