"""Sessions for the ORM path: one per request, rolled back on error, always closed.

Ending a session must never fail the request a second time. FastAPI runs the session's teardown
after the response has gone out, so an error there (a rollback or close on a connection the
database dropped) cannot change the answer any more, only break the connection it was sent on;
and a failed rollback raised while handling the request's own error would replace that error (a
503) with its own. So a session whose connection is gone is invalidated instead, and the pool
opens a fresh connection for the next request.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

logger = logging.getLogger("app.db")


def create_session_factory(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep their objects after commit; `info` is copied into each session's."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info)


async def end_session(session: AsyncSession, *, rollback: bool = False) -> None:
    """Roll back (when asked) and close; never raises: a connection that fails to end cleanly is
    invalidated, so the pool never hands it out again."""
    try:
        if rollback:
            await session.rollback()
        await session.close()
    except Exception as exc:  # the connection is gone: nothing left to roll back or close on it
        logger.warning("database session ended on a lost connection: %s", type(exc).__name__)
        try:
            await session.invalidate()
        except Exception as again:  # invalidating only drops our end of the connection
            logger.warning("database connection could not be invalidated: %s", type(again).__name__)


async def rollback_quietly(session: AsyncSession) -> None:
    """Roll back after a failed statement or commit; on a lost connection, start the session
    afresh instead of raising (its next statement checks out a new connection)."""
    try:
        await session.rollback()
    except Exception as exc:  # the connection is gone, and the transaction with it
        logger.warning("rollback on a lost connection: %s", type(exc).__name__)
        await end_session(session)


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session per request: rolled back on error, always closed, never failing once done."""
    session = factory()
    try:
        yield session
    except BaseException:
        # Shielded, as AsyncSession's own `async with` closes: a cancelled request still ends it.
        await asyncio.shield(end_session(session, rollback=True))
        raise
    await asyncio.shield(end_session(session))
