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

One timer per request, armed at its first byte and cancelled once it is received whole: the
deadline is computed when the timer fires, so a body's bytes only add to a counter.
"""

import asyncio
import json
import logging
import time
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
        # The request being received: its deadline timer, whether it has begun, which part is
        # arriving, since when, and how much of it.
        self.receipt: asyncio.TimerHandle | None = None
        self.request_begun = False
        self.in_body = False
        self.phase_started = 0.0
        self.body_received = 0
        # Header bytes: complete lines as the parser reports them, and the bytes of chunks that
        # arrived wholly inside the headers (which catches a line that never ends).
        self.header_bytes = 0
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
        self.start_receipt()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_receipt()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's, with the oversized headers answered 431 rather than 400 and the warnings
        # throttled.
        self._unset_keepalive_if_required()
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
            self.wire_header_bytes += len(data)
            if self.wire_header_bytes > self.bounds.max_header_bytes:
                self.refuse_headers()

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.request_begun = True
        self.began_in_chunk = True
        self.header_bytes = self.wire_header_bytes = 0
        if self.receipt is None:
            self.start_receipt()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.count_header_bytes(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.in_body = True
        self.phase_started = self.loop.time()
        self.body_received = 0
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.body_received += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self.stop_receipt()
        self.request_begun = self.in_body = False
        super().on_message_complete()

    def count_header_bytes(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > self.bounds.max_header_bytes:
            self.oversized = True
            raise HeadersTooLargeError

    # Deadlines

    def start_receipt(self) -> None:
        self.in_body = False
        self.phase_started = self.loop.time()
        deadline = self.phase_started + self.bounds.headers_timeout
        self.receipt = self.loop.call_at(deadline, self.check_receipt)

    def stop_receipt(self) -> None:
        if self.receipt is not None:
            self.receipt.cancel()
            self.receipt = None

    def check_receipt(self) -> None:
        self.receipt = None
        now = self.loop.time()
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
            self.receipt = self.loop.call_at(deadline, self.check_receipt)
            return
        part = "body" if self.in_body else "headers"
        throttled.warning(
            f"slow {part}", "dropped a client that sent its request %s too slowly", part
        )
        if self.in_body:
            self.drop()
        elif self.request_begun:
            self.refuse(408, "The request took too long to arrive")
        else:
            self.transport.close()  # a connection that never sent a byte

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
