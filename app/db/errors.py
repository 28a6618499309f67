"""Database failures the service answers on purpose: text no database can store, and an outage."""

import re
from collections.abc import Mapping
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# NUL cannot be stored in PostgreSQL text, and an unpaired surrogate (legal in a JSON "\ud800"
# escape) cannot be encoded as UTF-8 by either driver.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


# Connection lost or refused, server shutting down or out of connections, statement cancelled
# by statement_timeout: the client may retry, nothing in the request is wrong.
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")
# What asyncpg raises on a connection whose server process went away while it sat in the pool
# ("cannot switch to state ...; another operation is in progress").
BROKEN_CONNECTION = (asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError)
# How far down an error's causes an outage is looked for.
CAUSES_FOLLOWED = 5


class UnstorableTextError(ValueError):
    """A statement parameter holds text no database here can store: the client sent it."""


class DatabaseUnavailableError(Exception):
    """The database could not answer now (connection lost, statement timed out): retry later."""


def is_unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, Mapping):
        return any(is_unstorable(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(is_unstorable(item) for item in value)
    return False


def refuse_unstorable(parameters: Any) -> None:
    """Raise UnstorableTextError when any parameter holds text no database can store."""
    if is_unstorable(parameters):
        raise UnstorableTextError("text contains a NUL character or an unpaired surrogate")


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means "retry later" (a 503), for the ORM path's SQLAlchemy
    errors and the fast path's own asyncpg errors alike; an error raised because of such a
    failure (SQLAlchemy's own, on a connection it lost) counts too."""
    seen: BaseException | None = error
    for _ in range(CAUSES_FOLLOWED):
        if seen is None:
            return False
        if _is_outage(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_outage(error: BaseException) -> bool:
    if isinstance(error, DBAPIError):
        if isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated:
            return True
        error = error.orig or error
    if isinstance(error, BROKEN_CONNECTION):
        return True
    sqlstate = str(getattr(error, "sqlstate", "") or "")
    return sqlstate.startswith(UNAVAILABLE_SQLSTATE_CLASSES)
