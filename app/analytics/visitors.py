"""Unique visitors without knowing who they are (as Plausible counts them).

A visitor is HMAC-SHA256(day key, vendor | day | client address | user agent), cut to 128 bits:
the day key is random, shared by every worker and instance (in the database, or Redis when
REDIS_URL is set), never stored with the counts, and deleted with the day's marks once the day
is over, after which no mark can be linked to an address again. A mark that the store did not
hold yet is a new visitor of that day.
"""

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.analytics.tally import Mark, VisitKey
from app.domain.traffic import next_day_start
from app.models import AnalyticsDayKey, AnalyticsVisitor

REDIS_PREFIX = "qv:an:"
# Marks and keys outlive their day this long, so the last seconds' views flushed after midnight
# are still told apart.
GRACE = timedelta(hours=1)
# Rows per statement, under both databases' limit on bound parameters.
CHUNK = 1000


def visitor_mark(key: bytes, visit: VisitKey) -> str:
    vendor_id, day, address, agent = visit
    message = "\x1f".join((vendor_id, day.isoformat(), address, agent))
    # surrogatepass: a client-chosen lone surrogate in the user agent must not fail the flush.
    digest = hmac.new(key, message.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:32]


def source_mark(mark: str, source: str) -> str:
    """The same visitor counted once more per source (derived from the keyed mark)."""
    return hashlib.sha256(f"{mark}\x1f{source}".encode()).hexdigest()[:32]


def revalidation_mark(mark: str, product_id: str, source: str) -> str:
    """A revalidation counted as a view by a worker that did not know the visitor yet (its
    source is `[a-z0-9_-]`, so this never equals a source_mark)."""
    return hashlib.sha256(f"{mark}\x1e{product_id}\x1e{source}".encode()).hexdigest()[:32]


def insert_for(connection: AsyncConnection | AsyncEngine) -> Any:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


class VisitorStore(Protocol):
    async def day_key(self, day: date) -> bytes: ...

    async def add(self, connection: AsyncConnection, marks: Iterable[Mark]) -> set[Mark]:
        """Store the marks; those not held before."""
        ...

    async def take(self, connection: AsyncConnection, marks: Iterable[Mark]) -> set[Mark]:
        """Remove the marks; those that were held."""
        ...

    async def purge(self, before: date) -> None: ...

    async def close(self) -> None: ...


class DatabaseVisitors:
    """Keys and marks as rows; marks go in with the counts' transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = insert_for(engine)
        self._keys: dict[date, bytes] = {}

    async def day_key(self, day: date) -> bytes:
        key = self._keys.get(day)
        if key is None:
            async with self._engine.begin() as connection:
                await connection.execute(
                    self._insert(AnalyticsDayKey)
                    .values(day=day, key=secrets.token_hex(32))
                    .on_conflict_do_nothing()
                )
                stored = await connection.scalar(
                    select(AnalyticsDayKey.key).where(AnalyticsDayKey.day == day)
                )
            key = self._keys[day] = bytes.fromhex(str(stored))
        return key

    async def add(self, connection: AsyncConnection, marks: Iterable[Mark]) -> set[Mark]:
        rows = [{"day": day, "mark": mark} for day, mark in sorted(set(marks))]
        new: set[Mark] = set()
        table = AnalyticsVisitor.__table__
        for start in range(0, len(rows), CHUNK):
            statement = (
                self._insert(table)
                .values(rows[start : start + CHUNK])
                .on_conflict_do_nothing()
                .returning(table.c.day, table.c.mark)
            )
            new.update((row.day, row.mark) for row in await connection.execute(statement))
        return new

    async def take(self, connection: AsyncConnection, marks: Iterable[Mark]) -> set[Mark]:
        by_day: dict[date, list[str]] = {}
        for day, mark in sorted(set(marks)):
            by_day.setdefault(day, []).append(mark)
        taken: set[Mark] = set()
        for day, day_marks in by_day.items():
            for start in range(0, len(day_marks), CHUNK):
                statement = (
                    delete(AnalyticsVisitor)
                    .where(
                        AnalyticsVisitor.day == day,
                        AnalyticsVisitor.mark.in_(day_marks[start : start + CHUNK]),
                    )
                    .returning(AnalyticsVisitor.day, AnalyticsVisitor.mark)
                )
                taken.update((row.day, row.mark) for row in await connection.execute(statement))
        return taken

    async def purge(self, before: date) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(AnalyticsVisitor).where(AnalyticsVisitor.day < before))
            await connection.execute(delete(AnalyticsDayKey).where(AnalyticsDayKey.day < before))
        self._keys = {day: key for day, key in self._keys.items() if day >= before}

    async def close(self) -> None:
        return None


class RedisVisitors:
    """Keys and marks in Redis, each expiring an hour after its day ends: nothing to purge."""

    def __init__(self, url: str, timeout: float, zone: ZoneInfo) -> None:
        self._redis: Redis = Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._zone = zone
        self._keys: dict[date, bytes] = {}

    def _expires(self, day: date) -> datetime:
        return (next_day_start(day, self._zone) + GRACE).astimezone(UTC)

    async def day_key(self, day: date) -> bytes:
        key = self._keys.get(day)
        if key is None:
            name = f"{REDIS_PREFIX}key:{day.isoformat()}"
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(name, secrets.token_hex(32), nx=True, exat=self._expires(day))
                pipe.get(name)
                _, stored = await pipe.execute()
            key = self._keys[day] = bytes.fromhex(stored.decode())
        return key

    async def add(self, connection: AsyncConnection, marks: Iterable[Mark]) -> set[Mark]:
        return await self._each(marks, add=True)

    async def take(self, connection: AsyncConnection, marks: Iterable[Mark]) -> set[Mark]:
        return await self._each(marks, add=False)

    async def _each(self, marks: Iterable[Mark], *, add: bool) -> set[Mark]:
        """SADD (with the day's expiry) or SREM each mark; those that changed the set."""
        ordered = sorted(set(marks))
        if not ordered:
            return set()
        async with self._redis.pipeline(transaction=False) as pipe:
            for day, mark in ordered:
                name = f"{REDIS_PREFIX}v:{day.isoformat()}"
                if add:
                    pipe.sadd(name, mark)
                else:
                    pipe.srem(name, mark)
            if add:
                for day in {day for day, _ in ordered}:
                    pipe.expireat(f"{REDIS_PREFIX}v:{day.isoformat()}", self._expires(day))
            changed = await pipe.execute()
        return {mark for mark, did in zip(ordered, changed, strict=False) if did}

    async def purge(self, before: date) -> None:
        self._keys = {day: key for day, key in self._keys.items() if day >= before}

    async def close(self) -> None:
        await self._redis.aclose()
