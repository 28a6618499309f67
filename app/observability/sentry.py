"""Sentry set-up, scrubbing, sampling and the small helpers the app uses.

Every helper is a no-op without a DSN. What leaves the service: the route, the request id, the user
id, breadcrumbs and stack traces without local variables; never request bodies, cookies, auth
headers, emails, phone numbers or tokens (removed by key and, anywhere else, by shape).
"""

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl

import sentry_sdk
from sentry_sdk.integrations.asyncio import AsyncioIntegration
from sentry_sdk.integrations.asyncpg import AsyncPGIntegration
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.httpx import HttpxIntegration
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration
from sentry_sdk.integrations.starlette import StarletteIntegration
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber
from sentry_sdk.types import Event, Hint

from app.observability.context import RequestContext, request_context, set_current_user_id
from app.observability.logging import ACCESS_LOGGER, EVENTS_LOGGER, UNHANDLED_LOGGER
from app.observability.redaction import FILTERED, redact_text
from app.settings import Settings

Level = Literal["fatal", "error", "warning", "info", "debug"]

# 4xx are the client's business; only server errors are Sentry errors.
FAILED_REQUEST_STATUS_CODES = frozenset(range(500, 600))
HEALTH_PATH = "/api/health"
SENSITIVE_KEYS = (
    "password",
    "current_password",
    "new_password",
    "token",
    "access_token",
    "authorization",
    "cookie",
    "email",
    "new_email",
    "pending_email",
    "confirm_password",
    # Account emails: the link holds a token; a delivery job's payload holds the whole email.
    "link",
    "payload",
    "smtp_password",
    "whatsapp_number",
    # An order's customer (app/models/order.py).
    "customer_name",
    "customer_phone",
    "note",
    "delivery_area",
    "x-sentry-test-token",
    "x_sentry_test_token",
)
_DENYLIST = frozenset(key.lower() for key in (*DEFAULT_DENYLIST, *SENSITIVE_KEYS))
# Request headers worth keeping; every other header (auth, cookies, forwarding) is dropped.
KEPT_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "accept-language",
        "content-length",
        "content-type",
        "host",
        "origin",
        "user-agent",
        "x-forwarded-proto",
        "x-request-id",
    }
)
# Identifiers that look random by design (they are ours, not a user's secret), and the SDK's
# annotations of what it already removed.
_PASSTHROUGH_KEYS = frozenset(
    {
        "_meta",
        "event_id",
        "trace_id",
        "span_id",
        "parent_span_id",
        "request_id",
        "release",
        "sdk",
        "thread.id",
    }
)
# Loggers whose lines Sentry gets another way: the access line is a breadcrumb of its own,
# business events are breadcrumbs and messages, and an unhandled error is captured with its
# exception by the framework integration.
_NOT_FOR_SENTRY_LOGGERS = (ACCESS_LOGGER, EVENTS_LOGGER, UNHANDLED_LOGGER)
_REPORTED = "_quickvendor_sentry_reported"


def _strip_request(event: Event) -> None:
    request = event.get("request")
    if not isinstance(request, dict):
        return
    for key in ("data", "cookies", "env"):
        request.pop(key, None)
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    query = request.get("query_string")
    if isinstance(query, str) and query:
        # Decoded first, so an email written as %40 is still found; left decoded on purpose.
        pairs = parse_qsl(query, keep_blank_values=True)
        request["query_string"] = "&".join(
            f"{k}={FILTERED if k.lower() in _DENYLIST else redact_text(v)}" for k, v in pairs
        )


def _redact_item(key: str, value: Any) -> Any:
    if key in _PASSTHROUGH_KEYS:
        return value
    # The SDK's scrubber skips tags and contexts; a sensitive key is filtered wherever it is.
    if key.lower() in _DENYLIST and isinstance(value, str | int | float | dict | list):
        return FILTERED
    return _redact(value)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


def _already_reported(hint: Hint) -> bool:
    """True when this exception already reached Sentry (say, again through a log line)."""
    exc_info = hint.get("exc_info")
    exc = exc_info[1] if exc_info else None
    if exc is None:
        return False
    if getattr(exc, _REPORTED, False):
        return True
    # An exception with __slots__ cannot be marked; Sentry's own dedupe still applies to it.
    with contextlib.suppress(AttributeError):
        setattr(exc, _REPORTED, True)
    return False


def _clean(event: Event) -> Event:
    _strip_request(event)
    cleaned: Event = _redact(event)
    return cleaned


def before_send(event: Event, hint: Hint) -> Event | None:
    if _already_reported(hint):
        return None
    return _clean(event)


def before_send_transaction(event: Event, hint: Hint) -> Event | None:
    return _clean(event)


def make_traces_sampler(rate: float) -> Callable[[Mapping[str, Any]], float]:
    """A sampler at `rate` that never traces the health checks (a load balancer hits them)."""

    def traces_sampler(context: Mapping[str, Any]) -> float:
        asgi_scope = context.get("asgi_scope") or {}
        path = str(asgi_scope.get("path") or "")
        if path == HEALTH_PATH or path.startswith(HEALTH_PATH + "/"):
            return 0.0
        # An incoming sentry-trace header's decision is ignored on purpose: anyone can send
        # one, and a public endpoint must not let clients spend the tracing quota.
        return rate

    return traces_sampler


def init_sentry(settings: Settings) -> bool:
    """Start the SDK once, before the app is built; False (and nothing done) without a DSN."""
    if not settings.SENTRY_DSN:
        return False
    for name in _NOT_FOR_SENTRY_LOGGERS:
        ignore_logger(name)
    failed = set(FAILED_REQUEST_STATUS_CODES)
    with warnings.catch_warnings():
        # sentry-sdk 2.7x deprecates send_default_pii for `data_collection`, which would turn
        # the event scrubber off; the explicit False stays until that is no longer so.
        warnings.filterwarnings("ignore", "The send_default_pii option", DeprecationWarning)
        _start_sdk(settings, failed)
    return True


def _start_sdk(settings: Settings, failed: set[int]) -> None:
    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.SENTRY_ENVIRONMENT or settings.ENVIRONMENT,
        release=settings.SENTRY_RELEASE or settings.RENDER_GIT_COMMIT,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        shutdown_timeout=settings.SENTRY_SHUTDOWN_TIMEOUT,
        # Release health (a session counted on every request) is not used; errors still carry
        # the release.
        auto_session_tracking=False,
        traces_sampler=make_traces_sampler(settings.traces_sample_rate),
        event_scrubber=EventScrubber(denylist=[*DEFAULT_DENYLIST, *SENSITIVE_KEYS], recursive=True),
        before_send=before_send,
        before_send_transaction=before_send_transaction,
        integrations=[
            StarletteIntegration(transaction_style="url", failed_request_status_codes=failed),
            FastApiIntegration(transaction_style="url", failed_request_status_codes=failed),
            SqlalchemyIntegration(),
            # Each task gets its own scope, yet what a request sets still reaches its transaction
            # (tests/observability/test_sentry_server.py checks under uvicorn). No span per task:
            # under uvicorn every request is a task, and its span would belong to no transaction.
            AsyncioIntegration(task_spans=False),
            # Log lines become breadcrumbs and errors; Sentry Logs is not used, so no handler
            # looks at every line for it.
            LoggingIntegration(
                level=logging.INFO, event_level=logging.ERROR, sentry_logs_level=None
            ),
        ],
        # SQLAlchemy already records every statement; asyncpg's spans would repeat them. The
        # httpx integration would record every outgoing URL (a Slack webhook's URL is its
        # credential) and send trace headers to third parties.
        disabled_integrations=[AsyncPGIntegration(), HttpxIntegration()],
    )


def is_enabled() -> bool:
    return sentry_sdk.get_client().is_active()


def set_user_context(user_id: str) -> None:
    """Tie this request's log lines and Sentry events to a user, by id only."""
    set_current_user_id(user_id)
    if is_enabled():
        sentry_sdk.set_user({"id": user_id})


def set_request_id(request_id: str) -> None:
    """Tag this request's errors and transaction with its request id."""
    if is_enabled():
        sentry_sdk.set_tag("request_id", request_id)


def add_breadcrumb(
    message: str,
    category: str = "app",
    level: Level = "info",
    data: Mapping[str, Any] | None = None,
) -> None:
    if is_enabled():
        sentry_sdk.add_breadcrumb(
            message=message, category=category, level=level, data=dict(data or {})
        )


@contextlib.contextmanager
def _scope_with(context: Mapping[str, Any] | None) -> Iterator[None]:
    """A scope for one event, carrying `context` as its "details"; the request's stays clean."""
    with sentry_sdk.new_scope() as scope:
        if context:
            scope.set_context("details", dict(context))
        yield


def capture_message_with_context(
    message: str, context: Mapping[str, Any] | None = None, level: Level = "info"
) -> str | None:
    """Send a message with `context` attached; its event id, or None when Sentry is off."""
    if not is_enabled():
        return None
    with _scope_with(context):
        return sentry_sdk.capture_message(message, level=level)


def capture_custom_error(
    exc: BaseException, context: Mapping[str, Any] | None = None
) -> str | None:
    """Report an exception the app handled itself; its event id, or None when Sentry is off."""
    if not is_enabled():
        return None
    with _scope_with(context):
        return sentry_sdk.capture_exception(exc)


def db_span(statement: str, system: str) -> contextlib.AbstractContextManager[object]:
    """For a statement sent straight to the driver (the hot-path reads), what the SQLAlchemy
    integration records for the others: a `query` breadcrumb (the statement, never its values)
    and, inside a sampled transaction, a `db` span."""
    if not is_enabled():
        return contextlib.nullcontext()
    sentry_sdk.add_breadcrumb(message=statement, category="query")
    parent = sentry_sdk.get_current_span()
    if parent is None or not parent.sampled:
        return contextlib.nullcontext()
    span = parent.start_child(op="db", name=statement, origin="manual")
    span.set_data("db.system", system)
    return span


@contextlib.contextmanager
def background_context(request_id: str | None) -> Iterator[None]:
    """Work done later for a request (a queued delivery): its log lines carry that request's id,
    and its Sentry events the `request_id` tag, in a scope of its own."""
    token = request_context.set(RequestContext(request_id=request_id or "-"))
    try:
        if not is_enabled():
            yield
            return
        with sentry_sdk.new_scope() as scope:
            if request_id:
                scope.set_tag("request_id", request_id)
            yield
    finally:
        request_context.reset(token)
