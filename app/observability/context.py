"""Per-request context (request id, user id) kept in a ContextVar for logs, errors and Sentry."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(slots=True)
class RequestContext:
    request_id: str
    # Filled in by the auth dependency; mutated in place so the middleware sees it afterwards.
    user_id: str | None = None
    route: str | None = None


request_context: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def current_request_id() -> str | None:
    ctx = request_context.get()
    return ctx.request_id if ctx else None


def set_current_user_id(user_id: str) -> None:
    ctx = request_context.get()
    if ctx is not None:
        ctx.user_id = user_id
