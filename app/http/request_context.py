"""The outermost request layer: request id, timing headers, breadcrumbs, access log, and with
Sentry on, the request's trace (sampled requests only) and its unhandled error, reported once.

Pure ASGI (not BaseHTTPMiddleware) so the body is never read here and the ContextVar set for the
request is the one every handler, log line and Sentry event of that request sees.
"""

import logging
import re
import uuid
from time import perf_counter

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.addresses import ClientFingerprints
from app.http.head import REQUESTED_METHOD
from app.observability.context import RequestContext, request_context, route_template
from app.observability.logging import ACCESS_LOGGER
from app.observability.sentry import (
    capture_unhandled,
    finish_trace,
    is_sampled,
    request_context_for,
    start_trace,
)

access_logger = logging.getLogger(ACCESS_LOGGER)

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


# The access line is written without redaction (app/observability/logging.py), so a method outside
# HTTP's own (any token is a valid method) is logged as OTHER.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestContextMiddleware:
    """Gives each request one id (a safe incoming `X-Request-ID`, else a new one) and times it.

    The access line also carries a keyed hash of the client's address (`client_hash`) and
    whether it is a public one (`client_private`): enough to check which hop behind the proxies
    is logged, with nobody's address in the logs.
    """

    def __init__(self, app: ASGIApp, fingerprints: ClientFingerprints) -> None:
        self.app = app
        self.fingerprints = fingerprints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = (
            incoming if incoming and _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        )
        ctx = request_context_for(request_id, scope)
        token = request_context.set(ctx)
        try:
            if ctx.breadcrumbs is not None and is_sampled(scope):
                started = start_trace(ctx)
                try:
                    await self._serve(ctx, scope, receive, send)
                finally:
                    finish_trace(ctx, started)
            else:
                await self._serve(ctx, scope, receive, send)
        finally:
            request_context.reset(token)

    async def _serve(self, ctx: RequestContext, scope: Scope, receive: Receive, send: Send) -> None:
        requested = scope.get(REQUESTED_METHOD) or scope["method"]
        if ctx.breadcrumbs is not None:
            # The method of the request's `started` breadcrumb (Sentry on), made if an event
            # needs it.
            ctx.method = requested
        started = perf_counter()
        status_code = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                elapsed = perf_counter() - started
                # Appended as raw pairs: no layer inside sets these, and MutableHeaders' search
                # for each name was a few µs a request.
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", ctx.request_id.encode("latin-1")),
                    (b"x-process-time", f"{elapsed:.6f}".encode("latin-1")),
                    (b"server-timing", f"app;dur={elapsed * 1000:.1f}".encode("latin-1")),
                ]
            await send(message)

        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_headers)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            duration_ms = (perf_counter() - started) * 1000
            route = ctx.route = route_template(scope)
            ctx.status_code = status_code
            method = requested if requested in _KNOWN_METHODS else "OTHER"
            # After the inner layers ran: the address the proxies reported, canonicalised.
            client = scope.get("client")
            client_hash, client_private = self.fingerprints.of(client[0] if client else "")
            fields = {
                "method": method,
                "route": route,
                "status": status_code,
                "duration_ms": round(duration_ms, 2),
                "user_id": ctx.user_id,
                "client_hash": client_hash,
                "client_private": client_private,
            }
            if ctx.breadcrumbs is not None:
                ctx.complete(fields)
            event = ctx.access_event
            access_logger.info(
                "%s %s %s %.1fms user=%s client=%s%s%s",
                method,
                route or "<unmatched>",
                status_code,
                duration_ms,
                ctx.user_id or "-",
                client_hash,
                " (private)" if client_private else "",
                f" {event['event']}" if event else "",
                extra={**fields, **event} if event else fields,
            )
            # After the completed breadcrumb, so the error's event carries it.
            if isinstance(failure, Exception):
                capture_unhandled(failure)
