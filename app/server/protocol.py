"""uvicorn's httptools protocol with bounds on what one client can hold.

uvicorn alone lets a client keep a connection forever by sending its headers or its body a byte at
a time, accepts headers of any size, and accepts connections without limit. Here:

- a request's headers (request line included) over `max_header_bytes`: 431 and the connection
  closed, counted as they arrive, so a header that never ends is refused too;
- a request's headers must arrive within `headers_timeout` of its first byte (of the connection's
  opening, for the first request); else 408 and the connection closed;
- its body within `body_timeout` of the end of the headers, plus one second for every
  `body_min_rate` bytes received: a large upload on a slow but honest link gets the time it
  needs, a client trickling bytes is dropped. Time the app spends not reading (uvicorn pauses
  reading when the app has 64 KiB unread) is not held against the client;
- a worker holds at most `max_connections`; one more is answered 503 with Retry-After and closed.

A request costs the bounds a few attribute updates: header sizes are added up only when the bytes
received could exceed the limit, and deadlines are checked once a second by one timer per worker.
"""

import asyncio
import json
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

logger = logging.getLogger("app.server")


@dataclass(frozen=True)
class ClientBounds:
    max_connections: int
    max_header_bytes: int
    headers_timeout: float
    body_timeout: float
    body_min_rate: float
    # What the app's responses carry (security headers), for the server's own refusals.
    headers: tuple[tuple[str, str], ...] = ()


class BoundedConfig(uvicorn.Config):
    """uvicorn's Config carrying the bounds to every worker (it is pickled into each one).

    No WebSocket: the API serves none, and an upgraded connection would leave these bounds.
    """

    def __init__(self, app: str, *, bounds: ClientBounds, **options: Any) -> None:
        super().__init__(app, http=BoundedHttpToolsProtocol, ws="none", **options)
        self.bounds = bounds


class ThrottledWarnings:
    """At most one line per kind every `interval` seconds: a flood of slow or surplus clients
    must not become a flood of log lines. The next line says how many were left out."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self.quiet_until: dict[str, float] = {}
        self.left_out: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self.quiet_until.get(kind, 0.0):
            self.left_out[kind] = self.left_out.get(kind, 0) + 1
            return
        self.quiet_until[kind] = now + self.interval
        left_out = self.left_out.pop(kind, 0)
        suffix = f" ({left_out} more in the last {self.interval:g} s)" if left_out else ""
        logger.warning(message + suffix, *args)


throttled = ThrottledWarnings()


class HeadersTooLargeError(Exception):
    """Raised from a parser callback to stop parsing; data_received answers 431."""


# Deadlines are checked by one timer per worker, once a second, over its connections: a timer
# per request (armed, then cancelled) cost more than everything else the bounds add.
SWEEP_SECONDS = 1.0
_swept: "weakref.WeakSet[ServerState]" = weakref.WeakSet()


def sweep(loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
    # The next sweep first: whatever happens to one connection, the others stay bounded.
    loop.call_later(SWEEP_SECONDS, sweep, loop, connections)
    now = loop.time()
    for connection in list(connections):  # a dropped connection leaves the set
        if isinstance(connection, BoundedHttpToolsProtocol):
            connection.check_receipt(now)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not isinstance(config, BoundedConfig):
            raise TypeError("BoundedHttpToolsProtocol is configured by a BoundedConfig")
        super().__init__(config=config, server_state=server_state, app_state=app_state, _loop=_loop)
        self.bounds = config.bounds
        # The request being received: whether one is (or the connection's first is awaited),
        # whether it has begun, which part is arriving, since when, and how much of the body.
        self.receiving = False
        self.request_begun = False
        self.in_body = False
        self.phase_started = 0.0
        self.body_received = 0
        # Header bytes: `header_span` bounds them from above (every byte of every chunk since
        # the request began, the first chunk whole), `wire_header_bytes` from below (the chunks
        # that arrived wholly inside the headers: it catches a line that never ends).
        self.chunk_bytes = 0
        self.header_span = 0
        self.wire_header_bytes = 0
        self.began_in_chunk = False
        self.oversized = False

    # Connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.bounds.max_connections:
            self.transport = transport
            throttled.warning(
                "connections",
                "refused a connection: this worker holds %d, its limit",
                self.bounds.max_connections,
            )
            self.refuse(503, "Server busy, please retry shortly", b"retry-after: 1\r\n")
            return
        super().connection_made(transport)
        self.receiving = True
        self.phase_started = self.loop.time()
        if self.server_state not in _swept:
            _swept.add(self.server_state)
            self.loop.call_later(SWEEP_SECONDS, sweep, self.loop, self.connections)

    def connection_lost(self, exc: Exception | None) -> None:
        self.receiving = False
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's, with the oversized headers answered 431 rather than 400 and the warnings
        # throttled.
        self._unset_keepalive_if_required()
        self.chunk_bytes = len(data)
        self.began_in_chunk = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # The server runs without WebSocket (ws="none"): the request was served as plain HTTP.
            throttled.warning("upgrade", "served an Upgrade request as plain HTTP")
            return
        except httptools.HttpParserError:
            if self.oversized:
                self.refuse_headers()
            else:
                msg = "Invalid HTTP request received."
                throttled.warning("invalid", msg)
                self.send_400_response(msg)
            return
        if self.request_begun and not self.in_body and not self.began_in_chunk:
            self.header_span += len(data)
            self.wire_header_bytes += len(data)
            if self.wire_header_bytes > self.bounds.max_header_bytes:
                self.refuse_headers()

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.receiving:
            self.receiving = True
            self.phase_started = self.loop.time()
        self.request_begun = self.began_in_chunk = True
        self.header_span = self.chunk_bytes
        self.wire_header_bytes = 0

    def on_headers_complete(self) -> None:
        span = self.header_span if self.began_in_chunk else self.header_span + self.chunk_bytes
        if (
            span > self.bounds.max_header_bytes
            and self.header_size() > self.bounds.max_header_bytes
        ):
            self.oversized = True
            raise HeadersTooLargeError
        self.in_body = True
        self.phase_started = self.loop.time()
        self.body_received = 0
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.body_received += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self.receiving = self.request_begun = self.in_body = False
        super().on_message_complete()

    def header_size(self) -> int:
        """The request line and headers as received, give or take their separators."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    # Deadlines

    def check_receipt(self, now: float) -> None:
        if not self.receiving:
            return
        if not self.in_body:
            deadline = self.phase_started + self.bounds.headers_timeout
        else:
            if self.flow.read_paused or self.cycle.waiting_for_100_continue:
                # The app has not read what came, or not yet asked for the body: the client's
                # clock starts again when it does.
                self.phase_started, self.body_received = now, 0
            allowance = self.bounds.body_timeout + self.body_received / self.bounds.body_min_rate
            deadline = self.phase_started + allowance
        if now < deadline:
            return
        self.receiving = False
        if not self.request_begun:
            throttled.warning("idle", "closed a connection that sent no request")
            self.transport.close()
            return
        part = "body" if self.in_body else "headers"
        throttled.warning(
            f"slow {part}", "dropped a client that sent its request %s too slowly", part
        )
        if self.in_body:
            self.drop()
        else:
            self.refuse(408, "The request took too long to arrive")

    # Answers

    def refuse_headers(self) -> None:
        throttled.warning(
            "large headers",
            "refused request headers over %d bytes",
            self.bounds.max_header_bytes,
        )
        self.refuse(431, "Request headers too large")

    def refuse(self, status: int, detail: str, extra_headers: bytes = b"") -> None:
        """Answer `status` and close, unless another response is under way (then just close)."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.drop()
            return
        body = json.dumps({"detail": detail}).encode()
        head = [STATUS_LINE[status]]
        head += [b"%s: %s\r\n" % pair for pair in self.server_state.default_headers]
        head += [f"{key}: {text}\r\n".encode("latin-1") for key, text in self.bounds.headers]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
            extra_headers,
            b"\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def drop(self) -> None:
        """Close now; the app, if it is still reading the request, is told the client left."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()
