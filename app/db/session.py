"""Sessions for the ORM path: one per request, rolled back on error, always closed."""

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


def create_session_factory(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep their objects after commit; `info` is copied into each session's."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info)


async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session per request: rolled back on error, always closed."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
