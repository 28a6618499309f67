"""Fixed-window counters shared by every worker and instance: in Redis, else in the database.

Limits fail open: when the counter store cannot be reached the request goes ahead and a warning
is logged, so an outage of Redis never takes logins or the storefront down with it.
"""

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import case, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import RateLimitCounter
from app.settings import Settings

logger = logging.getLogger("app.rate_limit")

REDIS_PREFIX = "qv:rl:"
# After a failure the store is left alone this long, so a dead Redis costs one timeout per
# interval and worker instead of one per request.
RETRY_AFTER_FAILURE_SECONDS = 5.0

# INCR and the window's expiry in one atomic step; PTTL tells the client when to retry.
_HIT_SCRIPT = """
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if hits == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {hits, ttl}
"""


@dataclass(frozen=True, slots=True)
class Hit:
    """A counter after one more hit: hits so far in the window and seconds until it closes."""

    count: int
    retry_after: int


def _seconds(milliseconds: float) -> int:
    return max(1, math.ceil(milliseconds / 1000))


class CounterStore(Protocol):
    async def hit(self, key: str, window: int) -> Hit: ...

    async def reset(self, key: str) -> None: ...

    async def purge(self) -> int: ...

    async def close(self) -> None: ...


class RedisCounterStore:
    """Counters as Redis keys that expire with their window, so nothing needs purging."""

    def __init__(self, url: str, timeout: float) -> None:
        self._redis: Redis = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._script = self._redis.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, window: int) -> Hit:
        hits, ttl_ms = await self._script(keys=[REDIS_PREFIX + key], args=[window * 1000])
        return Hit(count=int(hits), retry_after=_seconds(int(ttl_ms)))

    async def reset(self, key: str) -> None:
        await self._redis.delete(REDIS_PREFIX + key)

    async def purge(self) -> int:
        return 0

    async def close(self) -> None:
        await self._redis.aclose()


class DatabaseCounterStore:
    """Counters as rows upserted in their own short transaction (never the request's), on an
    engine of their own (`app/main.py`), disposed by close() or with the app's engine.

    Never the requests' engine: a request counts while it holds a connection of that pool (its
    session's), so when every one was held that way, each holder waited for a second one and
    none went on until DB_POOL_TIMEOUT. A counter's connection is held for one statement and
    waits for nothing else, so requests waiting for one always get it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert: Any = (
            postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        )

    async def hit(self, key: str, window: int) -> Hit:
        now = time.time() * 1000
        table = RateLimitCounter.__table__
        stmt = self._insert(table).values(key=key, hits=1, expires_at=int(now + window * 1000))
        expired = table.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "hits": case((expired, 1), else_=table.c.hits + 1),
                "expires_at": case((expired, stmt.excluded.expires_at), else_=table.c.expires_at),
            },
        ).returning(table.c.hits, table.c.expires_at)
        async with self._engine.begin() as connection:
            row = (await connection.execute(stmt)).one()
        return Hit(count=int(row.hits), retry_after=_seconds(row.expires_at - now))

    async def reset(self, key: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key))

    async def purge(self) -> int:
        """Delete counters whose window has closed."""
        now = int(time.time() * 1000)
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(RateLimitCounter).where(RateLimitCounter.expires_at <= now)
            )
        return int(result.rowcount)

    async def close(self) -> None:
        await self._engine.dispose()


class AlreadyRunningError(Exception):
    """The same work for the same identity is already running in this worker."""


class RateLimiter:
    """Named counters keyed by a keyed hash of who is counted (no email or address in clear)."""

    def __init__(self, store: CounterStore, secret: str, *, enforced: bool = True) -> None:
        # The store is built whatever RATE_LIMIT_ENABLED says: a dedupe (seen()) is no limit
        # and holds with limits off; `enforced=False` only makes hit() count nothing.
        self.store = store
        self.enforced = enforced
        self._secret = secret.encode()
        self._skip_until = 0.0
        self._running: set[str] = set()

    def key(self, name: str, *identity: str) -> str:
        # surrogatepass: a client-chosen lone surrogate must not make the key (and the limit) fail.
        raw = "\x1f".join(identity).encode("utf-8", "surrogatepass")
        digest = hmac.new(self._secret, raw, hashlib.sha256)
        return f"{name}:{digest.hexdigest()[:40]}"

    async def hit(self, name: str, *identity: str, window: int) -> Hit | None:
        """Count one more hit; None when limits are off or the store is unreachable."""
        if not self.enforced:
            return None
        return await self.seen(name, *identity, window=window)

    async def seen(self, name: str, *identity: str, window: int) -> Hit | None:
        """Count one more occurrence, whether or not limits are enforced (a dedupe, not a
        limit); None when the store is unreachable."""
        if time.monotonic() < self._skip_until:
            return None
        try:
            hit = await self.store.hit(self.key(name, *identity), window)
        except Exception as exc:  # any store failure: fail open rather than refuse the request
            self._failed(exc)
            return None
        if self._skip_until:
            logger.warning("rate limit store reachable again; limits enforced")
            self._skip_until = 0.0
        return hit

    async def reset(self, name: str, *identity: str) -> None:
        if self.enforced:
            await self.forget(name, *identity)

    async def forget(self, name: str, *identity: str) -> None:
        """Clear a seen() counter, whether or not limits are enforced."""
        if time.monotonic() < self._skip_until:
            return
        try:
            await self.store.reset(self.key(name, *identity))
        except Exception as exc:  # same fail-open rule as hit()
            self._failed(exc)

    @contextmanager
    def one_at_a_time(self, name: str, *identity: str) -> Iterator[None]:
        """Hold the identity's turn at `name` in this worker; AlreadyRunningError while another
        request holds it.

        In memory, whatever the store and whether limits are on: it bounds the work one account
        can queue (a password hash each), not how often it may try.
        """
        key = self.key(name, *identity)
        if key in self._running:
            raise AlreadyRunningError(name)
        self._running.add(key)
        try:
            yield
        finally:
            self._running.discard(key)

    async def purge(self) -> int:
        return await self.store.purge()

    async def close(self) -> None:
        await self.store.close()

    def _failed(self, exc: Exception) -> None:
        if not self._skip_until:
            logger.warning(
                "rate limit store unreachable (%s); limits not enforced until it answers",
                type(exc).__name__,
            )
        self._skip_until = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS


def build_rate_limiter(settings: Settings, counters: AsyncEngine | None) -> RateLimiter:
    """Counters in Redis when REDIS_URL is set, else in the database through `counters`, an
    engine for them alone (not the requests': see DatabaseCounterStore), which the limiter's
    close() disposes."""
    store: CounterStore
    if settings.REDIS_URL:
        store = RedisCounterStore(settings.REDIS_URL, settings.REDIS_TIMEOUT)
    elif counters is None:
        raise ValueError("database counters need an engine of their own")
    else:
        store = DatabaseCounterStore(counters)
    return RateLimiter(store, settings.SECRET_KEY, enforced=settings.RATE_LIMIT_ENABLED)
