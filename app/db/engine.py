"""The async engine, configured per database backend."""

from time import monotonic
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine.interfaces import DBAPIConnection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from app.db.errors import refuse_unstorable
from app.observability.sentry import query_span
from app.settings import Settings

_SPAN = "_quickvendor_sentry_span"


def _refuse_unstorable_text(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool
) -> None:
    # One check where every value from a body, a form, a path or a query reaches the database,
    # so none of them can turn into a driver error (a 500) or be stored mangled.
    refuse_unstorable(parameters)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside a writer; the busy timeout makes writers queue instead of
    # failing with "database is locked"; SQLite leaves foreign keys off unless asked.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(
    settings: Settings, *, pool_size: int | None = None, name: str = "quickvendor-api"
) -> AsyncEngine:
    """The app's engine; with `pool_size`, a pool of that size and no overflow instead of the
    settings' (create_companion_engine), its PostgreSQL connections named `name` in
    pg_stat_activity."""
    if settings.is_sqlite:
        # SQLAlchemy's own pool for aiosqlite files (5 + 10 overflow) unless a size is given.
        own_pool: dict[str, Any] = (
            {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 0}
        )
        engine = create_async_engine(
            settings.DATABASE_URL,
            connect_args={"timeout": 15},
            pool_pre_ping=False,
            hide_parameters=True,
            **own_pool,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "before_cursor_execute", _refuse_unstorable_text)
        if settings.SENTRY_DSN:
            _record_queries(engine)
        return engine
    connect_args: dict[str, Any] = {
        "command_timeout": max(settings.DB_STATEMENT_TIMEOUT_MS / 1000, 1) + 5,
        "timeout": 5,
    }
    if settings.DB_STATEMENT_TIMEOUT_MS:
        connect_args["server_settings"] = {
            "statement_timeout": str(settings.DB_STATEMENT_TIMEOUT_MS),
            "application_name": name,
        }
    engine = create_async_engine(
        settings.DATABASE_URL,
        pool_size=settings.DB_POOL_SIZE if pool_size is None else pool_size,
        max_overflow=settings.DB_MAX_OVERFLOW if pool_size is None else 0,
        pool_timeout=settings.DB_POOL_TIMEOUT,
        pool_recycle=settings.DB_POOL_RECYCLE,
        # Pinged only after DB_POOL_PING_AFTER_IDLE_SECONDS idle (_ping_when_idle), not on every
        # checkout: a ping costs three round trips, more than a storefront's own queries.
        pool_pre_ping=False,
        # Error messages and logs then never carry statement parameters (emails, numbers).
        hide_parameters=True,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_unstorable_text)
    if settings.SENTRY_DSN:
        _record_queries(engine)
    _ping_when_idle(engine, settings.DB_POOL_PING_AFTER_IDLE_SECONDS)
    return engine


def create_companion_engine(
    settings: Settings, parent: AsyncEngine, *, pool_size: int, name: str
) -> AsyncEngine:
    """Another engine on `parent`'s database, with a pool of its own (`pool_size`, no overflow)
    for work done while a request holds one of `parent`'s connections, so that work never waits
    on the pool its caller holds; disposing of `parent` disposes of it too.

    On SQLite it is more connections to the same file, under the same WAL and busy timeout: a
    pool apart changes what waits for a pooled connection, not what waits for the file's lock.
    """
    engine = create_engine(settings, pool_size=pool_size, name=name)

    def dispose_with_parent(_parent: Any) -> None:
        # Called inside AsyncEngine.dispose()'s greenlet, where the async drivers' close runs.
        engine.sync_engine.dispose()

    event.listen(parent.sync_engine, "engine_disposed", dispose_with_parent)
    return engine


def _record_queries(engine: AsyncEngine) -> None:
    """With Sentry on, each statement leaves a `query` breadcrumb (the SQL, never its values)
    and, in a sampled request, a `db` span: what Sentry's SQLAlchemy integration recorded,
    without its cost on the requests that are not traced."""
    system = engine.dialect.name

    def started(
        _conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool
    ) -> None:
        span = query_span(statement, system)
        if span is not None and context is not None:
            setattr(context, _SPAN, span)

    def finished(
        _conn: Any, _cursor: Any, _statement: str, _parameters: Any, context: Any, _many: bool
    ) -> None:
        span = getattr(context, _SPAN, None)
        if span is not None:
            setattr(context, _SPAN, None)
            span.finish()

    def failed(exception_context: ExceptionContext) -> None:
        span = getattr(exception_context.execution_context, _SPAN, None)
        if span is not None:
            setattr(exception_context.execution_context, _SPAN, None)
            span.set_status("internal_error")
            span.finish()

    event.listen(engine.sync_engine, "before_cursor_execute", started)
    event.listen(engine.sync_engine, "after_cursor_execute", finished)
    event.listen(engine.sync_engine, "handle_error", failed)


def _ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Check a pooled connection before reuse once it has sat idle for `idle_seconds`.

    A connection in steady use is known to work; one that sat idle may have been dropped by the
    server, a restart or the network, and is replaced before a request sees it fail.
    """
    dialect = engine.sync_engine.dialect

    def on_checkin(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = monotonic()

    def on_checkout(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: Any
    ) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or monotonic() - idle_since < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError("pooled connection failed its ping") from error

    event.listen(engine.sync_engine.pool, "checkin", on_checkin)
    event.listen(engine.sync_engine.pool, "checkout", on_checkout)
