"""One error body for every error: `{"detail": str, "request_id": str}` (+ `errors` on 422).

On the service's HTML pages the same answer is a small HTML page (with the request id) instead.
"""

import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Protocol, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from app.db.errors import DatabaseUnavailableError, UnstorableTextError, is_unavailable
from app.observability.context import current_request_id
from app.observability.logging import UNHANDLED_LOGGER
from app.observability.sentry import capture_failed_response
from app.security.passwords import HashingBusyError

logger = logging.getLogger("app.errors")
# Sentry gets an unhandled error from the request layer, with its mechanism; this logger
# only gives the log reader the traceback next to the request id.
unhandled_logger = logging.getLogger(UNHANDLED_LOGGER)

_LOCATION_ROOTS = {"body", "query", "path", "header", "cookie"}
_LOGGED = "_quickvendor_logged"
UNAVAILABLE = "Service temporarily unavailable, please retry shortly"
RETRY_AFTER = "5"


class HTMLErrors(Protocol):
    """What answers errors on HTML paths (app/web's pages)."""

    def handles(self, path: str) -> bool: ...

    def error(
        self, status_code: int, detail: str, headers: Mapping[str, str] | None = None
    ) -> Response: ...


def error_response(
    status_code: int, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"detail": detail, "request_id": current_request_id(), **extra}
    return JSONResponse(body, status_code=status_code, headers=headers)


def _loc_text(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc if part not in _LOCATION_ROOTS]
    return ".".join(parts) or "body"


def validation_summary(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{_loc_text(tuple(err['loc']))}: {err['msg']}" for err in errors)


def _issues(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"loc": list(err["loc"]), "msg": str(err["msg"]), "type": str(err["type"])}
        for err in errors
    ]


def answer(
    request: Request,
    status_code: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The error as JSON, or as an HTML page on the service's HTML paths."""
    html: HTMLErrors | None = getattr(request.app.state, "html_errors", None)
    if html is not None and html.handles(request.url.path):
        return html.error(status_code, detail, headers)
    return error_response(status_code, detail, headers, **extra)


async def _http_exception(request: Request, exc: StarletteHTTPException) -> Response:
    capture_failed_response(exc, exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
    return answer(request, exc.status_code, detail, headers=exc.headers)


def _validation_answer(request: Request, errors: list[dict[str, Any]]) -> Response:
    summary = validation_summary(errors) or "Invalid request"
    return answer(request, 422, summary, errors=_issues(errors))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    return _validation_answer(request, list(exc.errors()))


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    # Connection refused, pool exhausted, statement timeout: the client may retry, nothing to fix.
    logger.error("database unavailable: %s", type(exc).__name__, exc_info=exc)
    return answer(request, 503, UNAVAILABLE, headers={"Retry-After": RETRY_AFTER})


async def _environment_unavailable(request: Request, exc: OSError) -> Response:
    # A socket or file the request needed failed (a connection attempt that timed out, a full
    # disk while a form is spooled): nothing the client sent is wrong, and a retry may succeed.
    logger.error("service unavailable: %s", type(exc).__name__, exc_info=exc)
    return answer(request, 503, UNAVAILABLE, headers={"Retry-After": RETRY_AFTER})


async def _hashing_busy(request: Request, exc: HashingBusyError) -> Response:
    # Counted and logged where it was refused (app/security/passwords.py); a client may retry.
    detail = "Too many sign-ins are being checked right now, please retry in a few seconds"
    return answer(request, 503, detail, headers={"Retry-After": str(exc.retry_after)})


async def _unstorable_text(request: Request, exc: UnstorableTextError) -> Response:
    issue = {"loc": ("body",), "msg": "Text must not contain NUL or unpaired surrogate characters"}
    return _validation_answer(request, [{**issue, "type": "string_unstorable"}])


async def _unhandled(request: Request, exc: Exception) -> Response:
    # No stack trace and no request data in the body; the request id finds both in the logs.
    unhandled_logger.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    # An exception with __slots__ cannot be marked; it is then logged once more on its way out.
    with contextlib.suppress(AttributeError):
        setattr(exc, _LOGGED, True)
    return answer(request, 500, "Internal server error")


async def keep_connection_after_error(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run `app`; an error it raises once its response has gone out whole stops here.

    Starlette re-raises every unhandled error after answering it 500, so that the server and
    Sentry see it. The request layer is inside this one and has reported it by now; uvicorn, if it
    saw it, would close the keep-alive connection behind the complete 500 without saying
    `Connection: close`, and the client's next request on it would fail. A response cut off
    midway still raises: only closing the connection can tell the client it is incomplete.
    """
    complete = False

    async def send_and_note(message: Message) -> None:
        nonlocal complete
        await send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            complete = True

    try:
        await app(scope, receive, send_and_note)
    except Exception as exc:
        if not complete:
            raise
        if not getattr(exc, _LOGGED, False):
            unhandled_logger.error(
                "unhandled %s after the response to %s %s",
                type(exc).__name__,
                scope.get("method"),
                scope.get("path"),
                exc_info=exc,
            )


async def _client_disconnect(request: Request, exc: ClientDisconnect) -> Response:
    # The client left (or the server dropped it for sending too slowly) before its body was
    # whole: nothing to fix and no one to answer; the status is for the access line.
    logger.info("client left before its request was complete")
    return answer(request, 400, "The request was not received whole")


async def _database_error(request: Request, exc: SQLAlchemyError) -> Response:
    if is_unavailable(exc):
        return await _database_unavailable(request, exc)
    raise exc


def install_error_handlers(app: FastAPI, html: HTMLErrors | None = None) -> None:
    app.state.html_errors = html
    # Starlette types every handler as taking Exception; each is only called with its own class.
    handlers: dict[type[Exception], Any] = {
        StarletteHTTPException: _http_exception,
        RequestValidationError: _validation_error,
        UnstorableTextError: _unstorable_text,
        HashingBusyError: _hashing_busy,
        ClientDisconnect: _client_disconnect,
        PoolTimeoutError: _database_unavailable,
        DatabaseUnavailableError: _database_unavailable,
        ConnectionError: _database_unavailable,
        OSError: _environment_unavailable,
        SQLAlchemyError: _database_error,
        Exception: _unhandled,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, cast(ExceptionHandler, handler))
