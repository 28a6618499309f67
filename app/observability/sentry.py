"""Sentry set-up, scrubbing, sampling and the small helpers the app uses.

Every helper is a no-op without a DSN. What leaves the service: the route, the request id, the user
id, breadcrumbs and stack traces without local variables; never request bodies, cookies, auth
headers, emails, phone numbers or tokens (removed by key and, anywhere else, by shape).

The SDK's framework integrations are not used: they forked a scope and built a transaction for
every request, sampled or not, a fifth of a storefront request's time. A request keeps its own
context (app/observability/context.py: id, user, route, breadcrumbs); sampling is decided when it
starts. A sampled request's transaction is not the SDK's either (`start_trace`,
`finish_trace`): its `db` spans are collected on the request's context, and the transaction is
built from what we keep (route, request id, user id, status, release, environment, the scrubbed
request, the spans), encoded once and handed to the SDK's transport. The SDK's transaction cost
about 1 ms of CPU in its scope, event processors, serializer and our scrubbing walk, a sixth of
a storefront request at a tenth sampled.
An unhandled error is captured once by the request layer (`capture_unhandled`), and every event
gets the request's context as it is sent (`before_send`); a request's message, built later with
the transport's batch, gets it as it was when the message was captured.
"""

import contextlib
import logging
import random
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from time import time
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl

import sentry_sdk
from sentry_sdk.consts import VERSION
from sentry_sdk.integrations.logging import EventHandler, LoggingIntegration, ignore_logger
from sentry_sdk.integrations.modules import ModulesIntegration
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber
from sentry_sdk.tracing import TransactionSource, get_span_status_from_http_code
from sentry_sdk.types import Event, EventDataCategory, Hint
from sentry_sdk.utils import capture_internal_exceptions, event_from_exception
from starlette.types import Scope

from app.observability.context import (
    RequestContext,
    request_context,
    route_template,
    set_current_user_id,
)
from app.observability.logging import NOT_FOR_SENTRY
from app.observability.redaction import FILTERED, redact_text
from app.observability.transport import EncodedEnvelope, LoopTransport
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
_KEPT_HEADER_NAMES = frozenset(name.encode("latin-1") for name in KEPT_HEADERS)
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
_REPORTED = "_quickvendor_sentry_reported"
# As many spans as the SDK keeps in a transaction by default.
MAX_SPANS = 1000
_SDK_INFO = {"name": "sentry.python", "version": VERSION}
# A transaction's source, as the event says it (an enum member's `.value` is two calls).
_ROUTE_SOURCE = TransactionSource.ROUTE.value
_URL_SOURCE = TransactionSource.URL.value


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


# Whether a key (as given) is sensitive, remembered: an event's keys are the same few dozen every
# time, and lowering each was a tenth of a message event's cleaning. Bounded: keys of up to 64
# characters, at most 1,024 of them, dropped all at once.
SENSITIVE_KEYS_SEEN = 1024
SENSITIVE_KEY_MAX = 64
_sensitive_keys: dict[str, bool] = {}


def _is_sensitive_key(key: str) -> bool:
    sensitive = _sensitive_keys.get(key)
    if sensitive is None:
        sensitive = key.lower() in _DENYLIST
        if len(key) <= SENSITIVE_KEY_MAX:
            if len(_sensitive_keys) >= SENSITIVE_KEYS_SEEN:
                _sensitive_keys.clear()
            _sensitive_keys[key] = sensitive
    return sensitive


def _redact_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    # One loop with the common cases inline: a call per value was most of the walk's cost.
    cleaned = {}
    for key, item in value.items():
        name = key if isinstance(key, str) else str(key)
        if name in _PASSTHROUGH_KEYS:
            cleaned[key] = item
        # The SDK's scrubber skips tags and contexts; a sensitive key is filtered wherever it is.
        elif _is_sensitive_key(name) and isinstance(item, _FILTERED_TYPES):
            cleaned[key] = FILTERED
        elif isinstance(item, str):
            cleaned[key] = redact_text(item)
        else:
            cleaned[key] = _redact(item)
    return cleaned


# The values a sensitive key's filter replaces (others, such as None, say nothing).
_FILTERED_TYPES = (str, int, float, dict, list)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return _redact_dict(value)
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


def _request_data(scope: Scope) -> dict[str, Any]:
    """What the event says about the request: method, URL, query and the kept headers."""
    headers = {}
    for raw_name, raw_value in scope.get("headers") or ():
        name = raw_name.decode("latin-1").lower()
        if name in KEPT_HEADERS:
            headers[name] = raw_value.decode("latin-1")
    server = scope.get("server") or ("localhost", None)
    host = headers.get("host") or (f"{server[0]}:{server[1]}" if server[1] else server[0])
    path = scope.get("root_path", "") + scope.get("path", "")
    return {
        "method": scope.get("method"),
        "url": f"{scope.get('scheme', 'http')}://{host}{path}",
        "query_string": (scope.get("query_string") or b"").decode("latin-1"),
        "headers": headers,
    }


def _add_request_context(event: Event, *, breadcrumbs: bool) -> None:
    """`_add_context_of` for the current request, if any."""
    ctx = request_context.get()
    if ctx is not None:
        _add_context_of(ctx, event, breadcrumbs=breadcrumbs)


def _add_context_of(
    ctx: RequestContext, event: Event, *, breadcrumbs: bool, request: bool = True
) -> None:
    """The route (as the transaction's name), request id, user, request data (unless `request`
    is False) and, on an error or message, the request's breadcrumbs: what the SDK's scope held
    when it forked one per request."""
    if ctx.scope is None:
        return
    route = ctx.route or route_template(ctx.scope)
    if route:
        event["transaction"] = route
        event["transaction_info"] = {"source": _ROUTE_SOURCE}
    tags = event.get("tags")
    if not isinstance(tags, dict):
        tags = event["tags"] = {}
    tags["request_id"] = ctx.request_id
    if ctx.user_id:
        event["user"] = {"id": ctx.user_id}
    if request:
        event["request"] = _request_data(ctx.scope)
    if not breadcrumbs:
        return
    event["breadcrumbs"] = {"values": ctx.breadcrumb_values()}
    # The events of one request share its trace (a traced request's: its transaction's), not
    # the process's.
    ctx.trace_id = ctx.trace_id or _new_id()
    contexts = event.setdefault("contexts", {})
    contexts["trace"] = {
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id or _new_span_id(),
        "op": "http.server",
    }


def before_send(event: Event, hint: Hint) -> Event | None:
    if _already_reported(hint):
        return None
    _add_request_context(event, breadcrumbs=True)
    return _clean(event)


def before_send_transaction(event: Event, hint: Hint) -> Event | None:
    _add_request_context(event, breadcrumbs=False)
    return _clean(event)


def _new_span_id() -> str:
    return "%016x" % random.getrandbits(64)  # noqa: UP031 - a quarter cheaper than an f-string


def _new_id() -> str:
    """A trace or event id: 128 random bits, as uuid4's hex, without its system call (the
    module's generator is reseeded in a forked worker, so workers never share a sequence)."""
    return "%032x" % random.getrandbits(128)  # noqa: UP031 - a quarter cheaper than an f-string


# An envelope's `sent_at`, made once a second: formatting the time cost a fifth of building a
# transaction, and Sentry (Relay) corrects a client's clock only when it is off by 55 minutes.
_sent_at: tuple[int, str] = (0, "")


def _sent_at_now() -> str:
    global _sent_at
    second = int(time())
    if _sent_at[0] != second:
        _sent_at = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _sent_at[1]


def _rate_for_path(rate: float, path: str) -> float:
    """`rate`, except for the health checks (a load balancer hits them): never traced."""
    if path == HEALTH_PATH or path.startswith(HEALTH_PATH + "/"):
        return 0.0
    return rate


def make_traces_sampler(rate: float) -> Callable[[Mapping[str, Any]], float]:
    """A sampler at `rate` that never traces the health checks."""

    def traces_sampler(context: Mapping[str, Any]) -> float:
        asgi_scope = context.get("asgi_scope") or {}
        # An incoming sentry-trace header's decision is ignored on purpose: anyone can send
        # one, and a public endpoint must not let clients spend the tracing quota.
        return _rate_for_path(rate, str(asgi_scope.get("path") or ""))

    return traces_sampler


# Whether this process ever started the SDK: until it has, every helper is a no-op without
# asking the SDK (its client lookup, several per request, cost 10 µs a request with Sentry off).
_started = False
# The SDK's global scope (one per process, kept across `sentry_sdk.init`), whose client the
# helpers ask, once it has started.
_global_scope: sentry_sdk.Scope | None = None
# The traces sample rate the SDK was started with: a request's sampling reads it here, not
# through the SDK's client and options (a few µs on every request).
_traces_rate = 0.0


def init_sentry(settings: Settings) -> bool:
    """Start the SDK once, after logging is configured and before the app is built; False (and
    nothing done) without a DSN."""
    global _started, _traces_rate, _global_scope
    if not settings.SENTRY_DSN:
        return False
    _started = True
    _global_scope = sentry_sdk.get_global_scope()
    _traces_rate = settings.traces_sample_rate
    for name in NOT_FOR_SENTRY:
        ignore_logger(name)
    with warnings.catch_warnings():
        # sentry-sdk 2.7x deprecates send_default_pii for `data_collection`, which would turn
        # the event scrubber off; the explicit False stays until that is no longer so.
        warnings.filterwarnings("ignore", "The send_default_pii option", DeprecationWarning)
        _start_sdk(settings)
    _report_error_lines()
    return True


def _report_error_lines() -> None:
    """Error log lines become events, through the SDK's handler on the root logger (after the
    log line's own handler, whose filter redacts the message first). The SDK's logging
    integration did this by wrapping every logger's `callHandlers`: half a µs on every log line,
    the access line of every request among them."""
    root = logging.getLogger()
    root.handlers = [handler for handler in root.handlers if not isinstance(handler, EventHandler)]
    root.addHandler(EventHandler(level=logging.ERROR))


def _start_sdk(settings: Settings) -> None:
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
        # Sent from the event loop while the app runs (app/observability/transport.py).
        transport=LoopTransport,
        # No framework, database or HTTP-client integration is switched on by itself: the request
        # layer and the engine's listeners do what the framework and SQLAlchemy integrations did
        # (for sampled requests only, where they cost), and an httpx integration would record
        # every outgoing URL (a Slack webhook's URL is its credential).
        auto_enabling_integrations=False,
        # Not the asyncio integration (never listed): it forked a scope for every task, so for
        # every request (each is a task under uvicorn), ~8% of a storefront request's CPU with
        # Sentry on. A request keeps its context on its own (app/observability/context.py), and
        # a task's error that nobody awaits still arrives, through asyncio's "never retrieved"
        # log line.
        # Not the modules integration: the installed packages' list sent with every event cost
        # a business message half its time; the release names the code.
        # Not the logging integration: error log lines become events through the SDK's handler
        # on the root logger (`_report_error_lines`), and the request's log lines become its
        # breadcrumbs in the logging filter (app/observability/logging.py).
        disabled_integrations=[ModulesIntegration(), LoggingIntegration()],
        # Envelopes go uncompressed (level 0: the SDK skips gzip). gzip cost ~50 µs of the
        # transport thread's CPU per envelope at any level (mostly the GzipFile, not the
        # deflate): half a cached storefront view, for a transaction of a few kilobytes.
        _experiments={"transport_compression_level": 0},
    )


def is_enabled() -> bool:
    # Until the SDK has started, without asking it (see `_started`).
    scope = _global_scope
    return scope is not None and scope.client.is_active()


def _client() -> sentry_sdk.client.BaseClient:
    """The SDK's client: the global scope's, as the app never binds one to another scope (the
    SDK's lookup through the current and isolation scopes cost a µs on every request)."""
    scope = _global_scope
    return scope.client if scope is not None else sentry_sdk.get_client()


def loop_transport() -> LoopTransport | None:
    """The SDK's transport when it is ours (Sentry on, not replaced), for the lifespan to bind."""
    if not _started:
        return None
    transport = sentry_sdk.get_client().transport
    return transport if isinstance(transport, LoopTransport) else None


def set_user_context(user_id: str) -> None:
    """Tie this request's log lines and Sentry events to a user, by id only."""
    set_current_user_id(user_id)
    ctx = request_context.get()
    if (ctx is None or ctx.scope is None) and is_enabled():
        sentry_sdk.set_user({"id": user_id})


def request_context_for(request_id: str, scope: Scope) -> RequestContext:
    """A new request's context: with Sentry on, one that keeps the request's breadcrumbs."""
    if is_enabled():
        # Started now: its `started` breadcrumb's time.
        return RequestContext(request_id, breadcrumbs=[], scope=scope, started_at=time())
    return RequestContext(request_id=request_id)


def is_sampled(scope: Scope) -> bool:
    """Whether this request is traced: the traces sampler's rate, decided up front."""
    # The draw first: nine requests in ten at production's rate need nothing else.
    if random.random() >= _traces_rate:  # noqa: S311 - sampling, not security
        return False
    return _rate_for_path(_traces_rate, str(scope.get("path") or "")) > 0


def start_trace(ctx: RequestContext) -> float:
    """A sampled request begins: its statements become `db` spans on its context. Its start
    time, for `finish_trace`. (Two calls, not a context manager: a generator-based one cost a
    traced request a few µs.)"""
    ctx.traced = True
    # Both ids from one draw of 192 bits: a draw and its formatting were most of starting.
    ids = "%048x" % random.getrandbits(192)  # noqa: UP031 - a quarter cheaper than an f-string
    ctx.trace_id, ctx.span_id = ids[:32], ids[32:]
    ctx.spans = []
    return time()


def finish_trace(ctx: RequestContext, started: float) -> None:
    """A sampled request ended (answered or failed): its transaction, named after the route,
    with the status, goes to Sentry, built when the transport's next batch leaves (from what
    the request kept, all final now) or, when the transport cannot wait, at once."""
    client = _client()
    _build_with_batch(
        client, partial(_send_transaction, client, ctx, started, time()), "transaction"
    )


def _build_with_batch(
    client: sentry_sdk.client.BaseClient, build: Callable[[], None], category: EventDataCategory
) -> None:
    """Have `build` run when the transport's next batch leaves, or at once when it cannot wait."""
    transport = client.transport
    if not (isinstance(transport, LoopTransport) and transport.capture_later(build, category)):
        with capture_internal_exceptions():
            build()


# Scrubbed request data by what it was made from: a worker's traced requests repeat their URL
# and headers (the same pages, browsers and proxies), and scrubbing one was a quarter of building
# its transaction. Bounded; only the kept headers (never credentials) are in a key.
SCRUBBED_REQUESTS_KEPT = 512
_scrubbed_requests: dict[tuple[Any, ...], dict[str, Any]] = {}


def _scrubbed_request(scope: Scope) -> dict[str, Any]:
    """The request data of a transaction, scrubbed as an event's is: the only part of a
    transaction a client wrote (its URL, query and kept headers). Shared: never changed."""
    # The key is what the data is made from, as raw bytes (decoding every header to make the
    # data first was most of a cache hit's time); pairs are made tuples, as ASGI lets a server
    # give lists, which do not hash. Header names are lower-case in ASGI (Starlette's Headers
    # relies on it too): lowering each for the key was half its cost. The data is made from the
    # headers in the key, so it is what the key says even from a server that breaks that rule.
    server = scope.get("server")
    kept = [
        (name, value) for name, value in scope.get("headers") or () if name in _KEPT_HEADER_NAMES
    ]
    key = (
        scope.get("method"),
        scope.get("scheme"),
        tuple(server) if server else None,
        scope.get("root_path"),
        scope.get("path"),
        scope.get("query_string"),
        *kept,
    )
    scrubbed = _scrubbed_requests.get(key)
    if scrubbed is None:
        event: Event = {"request": _request_data({**scope, "headers": kept})}
        _strip_request(event)
        scrubbed = _redact(event["request"])
        if len(_scrubbed_requests) >= SCRUBBED_REQUESTS_KEPT:
            _scrubbed_requests.clear()
        _scrubbed_requests[key] = scrubbed
    return scrubbed


# A transaction's span status by its response's status code: the SDK's mapping, asked once a code.
_span_statuses: dict[int, str] = {}


def _span_status(status_code: int) -> str:
    status = _span_statuses.get(status_code)
    if status is None:
        status = get_span_status_from_http_code(status_code)
        # HTTP's own codes only: the memo stays within 500 entries whatever the app answers.
        if 100 <= status_code <= 599:
            _span_statuses[status_code] = status
    return status


def _send_transaction(
    client: sentry_sdk.client.BaseClient, ctx: RequestContext, started: float, finished: float
) -> None:
    """The transaction of a traced request, from what the request kept, to the SDK's transport.

    Only our own fields and the scrubbed request: the SDK's scope, event processors and
    serializer (and our walk over everything they added) are skipped."""
    scope = ctx.scope or {}
    route = ctx.route or route_template(scope)
    name = route or redact_text(str(scope.get("path", "")))
    source = _ROUTE_SOURCE if route else _URL_SOURCE
    status_code = ctx.status_code
    trace: dict[str, Any] = {
        "trace_id": ctx.trace_id,
        "span_id": ctx.span_id,
        "op": "http.server",
        "origin": "manual",
        "status": _span_status(status_code),
        "data": {"http.response.status_code": status_code},
    }
    event: dict[str, Any] = {
        "type": "transaction",
        "transaction": name,
        "transaction_info": {"source": source},
        "start_timestamp": started,
        "timestamp": finished,
        "contexts": {"trace": trace, "response": {"status_code": status_code}},
        "tags": {"request_id": ctx.request_id, "http.status_code": str(status_code)},
        "request": _scrubbed_request(scope),
        "spans": ctx.spans or [],
    }
    if ctx.user_id:
        event["user"] = {"id": ctx.user_id}
    # What the SDK's dynamic sampling context says of a trace it started (a traced request's
    # rate is the traces rate: the health checks, at 0, are never traced).
    dsc: dict[str, str] = {
        "trace_id": str(ctx.trace_id),
        "sample_rate": str(_traces_rate),
        "sampled": "true",
    }
    if route:
        dsc["transaction"] = route
    _send_built(client, event, "transaction", dsc)


def _send_request_message(
    ctx: RequestContext, message: str, context: Mapping[str, Any] | None, level: Level
) -> str | None:
    """A request's message event, built as its transaction is; its event id.

    It gets what `before_send` gives an event (the request's context and breadcrumbs,
    scrubbed), as they are now, and is built when the transport's next batch leaves. Through the
    SDK, a storefront view's sampled message cost ~0.3 ms: its scope, serializer and our walk
    over what they added."""
    client = _client()
    if not client.is_active() or client.transport is None:
        return None
    event_id = _new_id()
    # The request's later events share its trace.
    ctx.trace_id = ctx.trace_id or _new_id()
    # The request as it is now (its breadcrumbs go on growing; what they and the context hold is
    # never changed once made); the details' top level as given now (the callers' are flat).
    now = replace(ctx, breadcrumbs=list(ctx.breadcrumbs or ()))
    details = dict(context) if context else None
    build = partial(_build_request_message, client, now, message, details, level, time(), event_id)
    _build_with_batch(client, build, "error")
    return event_id


def _build_request_message(
    client: sentry_sdk.client.BaseClient,
    ctx: RequestContext,
    message: str,
    details: dict[str, Any] | None,
    level: Level,
    timestamp: float,
    event_id: str,
) -> None:
    """The message `_send_request_message` captured, from the request as it was then."""
    event: Event = {"level": level, "message": message}
    if details:
        event["contexts"] = {"details": details}
    _add_context_of(ctx, event, breadcrumbs=True, request=False)
    cleaned: dict[str, Any] = dict(_clean(event))
    # Scrubbed as `_clean` would, and kept for the next event of a request like this one.
    cleaned["request"] = _scrubbed_request(ctx.scope or {})
    cleaned["timestamp"] = timestamp
    _send_built(client, cleaned, "event", None, event_id)


def _send_built(
    client: sentry_sdk.client.BaseClient,
    event: dict[str, Any],
    item_type: str,
    dsc: dict[str, str] | None,
    event_id: str | None = None,
) -> None:
    """An event the app built, given what the SDK gives every event (its id, new unless given,
    release, environment, server name), encoded once and handed to `client`'s transport (the
    client of the request it is about, even if another has started since)."""
    transport = client.transport
    if not client.is_active() or transport is None:
        return
    options = client.options
    event_id = event_id or _new_id()
    event["event_id"] = event_id
    event["platform"] = "python"
    event["sdk"] = _SDK_INFO
    for key in ("release", "environment", "server_name"):
        value = options.get(key)
        if value:
            event[key] = value
            if dsc is not None and key != "server_name":
                dsc[key] = value
    headers: dict[str, Any] = {"event_id": event_id, "sent_at": _sent_at_now()}
    if dsc is not None:
        dsn = transport.parsed_dsn
        if dsn is not None:
            dsc["public_key"] = dsn.public_key
        headers["trace"] = dsc
    # Encoded here, once; the JSON is kept for whoever reads the envelope back (the tests).
    transport.capture_envelope(EncodedEnvelope(headers, item_type, event))


def capture_unhandled(exc: BaseException) -> None:
    """Report an error no handler could answer; once, whatever else sees it later."""
    client = sentry_sdk.get_client()
    if not client.is_active():
        return
    event, hint = event_from_exception(
        exc, client_options=client.options, mechanism={"type": "asgi", "handled": False}
    )
    sentry_sdk.capture_event(event, hint=hint)


def capture_failed_response(exc: BaseException, status_code: int) -> None:
    """A 5xx answered on purpose (an HTTPException) is still an error event."""
    if status_code in FAILED_REQUEST_STATUS_CODES and is_enabled():
        sentry_sdk.capture_exception(exc)


def add_breadcrumb(
    message: str,
    category: str = "app",
    level: Level = "info",
    data: Mapping[str, Any] | None = None,
) -> None:
    ctx = request_context.get()
    if ctx is not None and ctx.breadcrumbs is not None:
        # Kept as given when it is a dict: the callers build a new one for each breadcrumb.
        kept = data if isinstance(data, dict) or data is None else dict(data)
        ctx.add_breadcrumb(message, category, level, kept or None)
    elif is_enabled():
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
    """Send a message with `context` attached; its event id, or None when Sentry is off (a
    request's message is built later: one that fails to build is lost, as a queued one is)."""
    if not is_enabled():
        return None
    ctx = request_context.get()
    if ctx is not None and ctx.scope is not None:
        return _send_request_message(ctx, message, context, level)
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


class DbSpan:
    """A statement's `db` span in a sampled request, added to its transaction when finished."""

    __slots__ = ("_ctx", "_span")

    def __init__(self, ctx: RequestContext, statement: str, system: str) -> None:
        self._ctx = ctx
        self._span: dict[str, Any] = {
            "trace_id": ctx.trace_id,
            "span_id": _new_span_id(),
            "parent_span_id": ctx.span_id,
            "same_process_as_parent": True,
            "op": "db",
            # Our SQL, its values never in it (bound parameters); scrubbed all the same, as the
            # same statement in a breadcrumb is.
            "description": redact_text(statement),
            "origin": "manual",
            "start_timestamp": time(),
            "data": {"db.system": system},
        }

    def set_status(self, status: str) -> None:
        self._span["status"] = status

    def finish(self) -> None:
        span = self._span
        if "timestamp" in span:
            return
        span["timestamp"] = time()
        spans = self._ctx.spans
        if spans is not None and len(spans) < MAX_SPANS:
            spans.append(span)

    def __enter__(self) -> "DbSpan":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.set_status("internal_error")
        self.finish()


def query_span(statement: str, system: str) -> DbSpan | None:
    """For a statement about to run: a `query` breadcrumb (the statement, never its values) and,
    in a sampled request, a started `db` span for the caller to finish."""
    ctx = request_context.get()
    if ctx is not None and ctx.breadcrumbs is not None:
        ctx.add_breadcrumb(statement, "query", "info")
        return DbSpan(ctx, statement, system) if ctx.spans is not None else None
    if is_enabled():
        sentry_sdk.add_breadcrumb(message=statement, category="query")
    return None


def db_span(statement: str, system: str) -> contextlib.AbstractContextManager[object]:
    """For a statement sent straight to the driver (the hot-path reads), what the engine's
    listeners record for the others (app/db/engine.py)."""
    span = query_span(statement, system)
    return contextlib.nullcontext() if span is None else span


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
