"""Hot-path reads: no transaction, statements compiled once, PostgreSQL rows straight from asyncpg.

A storefront view is a couple of SELECTs. Through an ORM session each one also paid for a
BEGIN, a ROLLBACK and SQLAlchemy's per-statement execution machinery, several times the cost
of the query itself (bench/cpu.py). Here a statement is still written with SQLAlchemy Core
(one text for both databases), compiled once per dialect, and run on the pooled connection's
own asyncpg driver in autocommit; on SQLite it goes through SQLAlchemy as usual, where the
embedded default needs its type conversions (cents, booleans, dates).
"""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg
from sqlalchemy import Dialect, Select, exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from app.db.errors import (
    BROKEN_CONNECTION,
    DatabaseUnavailableError,
    is_unavailable,
    refuse_unstorable,
)
from app.fastpath.mapping import Row
from app.observability.sentry import db_span

_DRIVER_ERRORS = (asyncpg.PostgresError, *BROKEN_CONNECTION)


class ReadQuery:
    """A SELECT whose parameters are named `bindparam`s, compiled once per dialect.

    `native`, when given, is the statement asyncpg runs instead, selecting the same columns:
    for what the two databases write differently, such as a list parameter (`= ANY(:urls)`
    with one array, where SQLite takes an expanding `IN`, which asyncpg's prepared text cannot).
    """

    def __init__(self, statement: Select[Any], *, native: Select[Any] | None = None) -> None:
        self.statement = statement
        self.native = statement if native is None else native
        self._compiled: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {}

    def positional(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL text and its positional arguments: `params`, else the statement's own values
        (such as a `.limit(1)`)."""
        key = dialect.name
        if key not in self._compiled:
            compiled = self.native.compile(dialect=dialect)
            names = tuple(compiled.positiontup or ())
            own = {
                name: v for name, v in compiled.params.items() if not compiled.binds[name].required
            }
            self._compiled[key] = (compiled.string, names, own)
        sql, names, defaults = self._compiled[key]
        return sql, [params[name] if name in params else defaults[name] for name in names]


class ReadConnection:
    """A request's pooled connection for its reads: the asyncpg driver itself on PostgreSQL,
    SQLAlchemy's connection on SQLite."""

    def __init__(
        self,
        connection: AsyncConnection | None,
        raw: PoolProxiedConnection | None,
        dialect: Dialect,
    ) -> None:
        self._connection = connection
        self._raw = raw
        self._driver: asyncpg.Connection | None = raw.driver_connection if raw else None
        self._dialect = dialect

    async def fetch(self, query: ReadQuery, params: Mapping[str, Any]) -> list[Row]:
        # The same refusal the engine's before_cursor_execute hook gives every other statement.
        refuse_unstorable(params)
        driver, raw = self._driver, self._raw
        if driver is None or raw is None:
            result = await cast(AsyncConnection, self._connection).execute(
                query.statement, dict(params)
            )
            return list(result.all())
        sql, args = query.positional(self._dialect, params)
        try:
            with db_span(sql, "postgresql"):
                return list[Row](await driver.fetch(sql, *args))
        except _DRIVER_ERRORS as error:
            if driver.is_closed() or isinstance(error, BROKEN_CONNECTION):
                # The pool must not hand this connection out again.
                await greenlet_spawn(raw.invalidate, error)
            if driver.is_closed() or is_unavailable(error):
                raise DatabaseUnavailableError(type(error).__name__) from error
            raise

    async def fetchrow(self, query: ReadQuery, params: Mapping[str, Any]) -> Row | None:
        rows = await self.fetch(query, params)
        return rows[0] if rows else None


class Reader:
    """Read-only connections from the app's pool, outside any transaction, first come first
    served.

    The pool itself is not fair: a request woken for a returned connection can lose it to one
    that just arrived and go to the back of the queue, so at 32 concurrent storefront requests
    a few waited near a second. Readers queue in order on a semaphore the pool's size instead.
    """

    def __init__(self, engine: AsyncEngine, *, capacity: int, timeout: float) -> None:
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._sync_engine = engine.sync_engine
        self._dialect = engine.dialect
        self._native = engine.dialect.driver == "asyncpg"
        self._turns = asyncio.Semaphore(capacity)
        self._timeout = timeout

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[ReadConnection]:
        await self._take_turn()
        try:
            if self._native:
                # The pooled connection itself, checked out and in with one switch into
                # SQLAlchemy's sync pool each: an AsyncConnection around it cost as much again
                # (40 µs against 80 a read with its statement, measured in a loop of 5,000).
                raw = await self._checkout()
                try:
                    yield ReadConnection(None, raw, self._dialect)
                finally:
                    await greenlet_spawn(raw.close)
            else:
                async with self.engine.connect() as connection:
                    yield ReadConnection(connection, None, self._dialect)
        finally:
            self._turns.release()

    async def _checkout(self) -> PoolProxiedConnection:
        dbapi = self._dialect.loaded_dbapi
        try:
            return await greenlet_spawn(self._sync_engine.raw_connection)
        except dbapi.Error as error:
            # Wrapped as Engine.connect() wraps a connection that could not be made (refused, a
            # server starting up), so the error handlers answer it as they answer the ORM's.
            raise exc.DBAPIError.instance(None, None, error, dbapi.Error) from error

    async def _take_turn(self) -> None:
        if not self._turns.locked():
            await self._turns.acquire()
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._turns.acquire()
        except TimeoutError:
            raise DatabaseUnavailableError("no database connection came free in time") from None
