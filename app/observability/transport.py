"""Sentry's transport: while the app runs, envelopes are sent from its event loop.

The SDK's HttpTransport sends from a thread of its own, through urllib3. Under load, that thread
and the event loop took turns at the GIL for every envelope (a tenth of the requests send a
transaction): the server spent 0.25 ms more CPU per storefront request with Sentry on than off,
most of it there (bench/speed.py --only sentry, py-spy). While the app's lifespan has it bound
to the loop, this transport writes each envelope from the loop instead, on a kept-alive
connection, one request at a time on each of at most `MAX_CONNECTIONS`, and reads the answer
without a thread.

Everything else is the SDK's: which items a rate limit holds back, what a 429 or an
`X-Sentry-Rate-Limits` header disables, the lost-event records and client reports. Before the
loop is bound, after it is released, with a proxy or a client certificate, or when flushed from
the loop's own thread (which cannot wait for the loop), the SDK's thread sends, as before.
"""

import asyncio
import contextlib
import contextvars
import logging
import os
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import orjson
from sentry_sdk.consts import EndpointType
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import HttpTransport

logger = logging.getLogger(__name__)

# Connections to Sentry a worker opens at most, each sending one envelope at a time: a second
# and more only while envelopes queue up (a burst, or Sentry tens of milliseconds away). The
# SDK's thread sent on one. The queue behind them is the SDK's `transport_queue_size`.
MAX_CONNECTIONS = 4
# The largest response head read; Sentry's is a few hundred bytes.
MAX_HEAD_BYTES = 64 * 1024


class SentryResponseError(Exception):
    """Sentry's answer could not be read as HTTP/1.1."""


@dataclass(slots=True)
class _Response:
    """What the SDK's response handling reads of an answer."""

    status: int
    headers: dict[str, str]
    data: bytes


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.writer.close()


class LoopTransport(HttpTransport):
    """The SDK's HTTP transport, sending from the event loop it is bound to."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        url = urlsplit(self._auth.get_api_url(EndpointType.ENVELOPE))
        secure = url.scheme == "https"
        self._address = (url.hostname or "", url.port or (443 if secure else 80))
        self._tls = self._tls_context() if secure else None
        target = url.path + (f"?{url.query}" if url.query else "")
        self._request_head = (
            f"POST {target} HTTP/1.1\r\n"
            f"Host: {url.netloc}\r\n"
            f"User-Agent: {self._auth.client}\r\n"
            f"X-Sentry-Auth: {self._auth.to_header()}\r\n"
            "Content-Type: application/x-sentry-envelope\r\n"
        ).encode("latin-1")
        # A proxy or a client certificate: the SDK's own pool knows how.
        self._loop_capable = not (
            self._resolve_proxy() or options.get("cert_file") or os.environ.get("CLIENT_CERT_FILE")
        )
        self._queue_size: int = options["transport_queue_size"]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._pending: deque[Envelope] = deque()
        self._idle: list[_Connection] = []
        self._senders: set[asyncio.Task[None]] = set()
        self._reachable = True

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(
            cafile=self.options["ca_certs"]
            or os.environ.get("SSL_CERT_FILE")
            or os.environ.get("REQUESTS_CA_BUNDLE")
            or certifi.where()
        )

    @property
    def bound(self) -> bool:
        return self._loop is not None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send from `loop` from now on (called on it, by the app's lifespan)."""
        if self._loop_capable:
            self._loop = loop
            self._loop_thread = threading.get_ident()

    async def release(self) -> None:
        """Stop sending from the loop (after a flush): what is still queued goes by the thread,
        what is still unanswered is given up with its connection."""
        self._loop = None
        self._hand_over_pending()
        senders = list(self._senders)
        self._stop_sending()
        for task in senders:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def capture_envelope(self, envelope: Envelope) -> None:
        loop = self._loop
        if loop is None:
            super().capture_envelope(envelope)
        elif threading.get_ident() == self._loop_thread:
            self._enqueue(envelope)
        else:
            try:
                loop.call_soon_threadsafe(self._enqueue, envelope)
            except RuntimeError:
                # The loop has closed without releasing this transport.
                super().capture_envelope(envelope)

    def flush(self, timeout: float, callback: Callable[[int, float], None] | None = None) -> None:
        loop = self._loop
        if loop is None or timeout <= 0:
            super().flush(timeout, callback)
            return
        deadline = time.monotonic() + timeout
        if threading.get_ident() == self._loop_thread:
            # The caller holds the loop: what has not been written yet goes by the thread.
            self._hand_over_pending()
        else:
            drained = asyncio.run_coroutine_threadsafe(self._drained(), loop)
            with contextlib.suppress(TimeoutError):
                drained.result(timeout)
            drained.cancel()
        # The SDK's thread, if it has sent anything (before the loop was bound, or handed over).
        if self._worker.is_alive:
            super().flush(max(deadline - time.monotonic(), 0.0), callback)

    def kill(self) -> None:
        loop, self._loop = self._loop, None
        self._pending.clear()
        if loop is not None and threading.get_ident() == self._loop_thread:
            self._stop_sending()
        elif loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stop_sending)
        super().kill()

    def _stop_sending(self) -> None:
        for task in list(self._senders):
            task.cancel()
        while self._idle:
            self._idle.pop().close()

    def _hand_over_pending(self) -> None:
        while self._pending:
            super().capture_envelope(self._pending.popleft())

    async def _drained(self) -> None:
        report = self._fetch_pending_client_report(force=True)
        if report is not None:
            self._enqueue(Envelope(items=[report]))
        # A queued envelope always has a sender (`_enqueue` starts one, and each sends until
        # the queue is empty).
        while self._senders:
            await asyncio.wait(list(self._senders))

    def _enqueue(self, envelope: Envelope) -> None:
        if self._loop is None:
            super().capture_envelope(envelope)
            return
        if len(self._pending) >= self._queue_size:
            self.on_dropped_event("full_queue")
            for item in envelope.items:
                self.record_lost_event("queue_overflow", item=item)
            return
        self._pending.append(envelope)
        if len(self._senders) < MAX_CONNECTIONS:
            # A context of its own: the request that queued the envelope is not the sender's.
            task = self._loop.create_task(self._send_pending(), context=contextvars.Context())
            self._senders.add(task)
            task.add_done_callback(self._senders.discard)

    async def _send_pending(self) -> None:
        while self._pending:
            connection = self._idle.pop() if self._idle else None
            reused = connection is not None
            if connection is None:
                connection = await self._connect()
                if connection is None:
                    return
            if not self._pending:
                self._idle.append(connection)
                return
            # Taken only once a connection is ready, so a flush from the loop's thread (which
            # hands the queue to the SDK's thread) never races a send.
            envelope = self._pending.popleft()
            if await self._send(connection, envelope, reused):
                self._idle.append(connection)
            else:
                connection.close()

    async def _connect(self) -> _Connection | None:
        host, port = self._address
        try:
            async with asyncio.timeout(self.TIMEOUT):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._tls, limit=MAX_HEAD_BYTES
                )
        except (OSError, TimeoutError) as exc:
            self._unreachable(exc)
            # Nothing can be sent now: the queue is dropped as the SDK drops a failed send.
            while self._pending:
                self._handle_request_error(envelope=self._pending.popleft(), loss_reason="network")
            return None
        return _Connection(reader, writer)

    async def _send(self, connection: _Connection, envelope: Envelope, reused: bool) -> bool:
        """Send one envelope and read Sentry's answer; whether the connection can be reused."""
        sent = self._without_limited(envelope)
        if sent is None:
            return True
        payload = _serialized(sent)
        connection.writer.write(
            b"%bContent-Length: %d\r\n\r\n%b" % (self._request_head, len(payload), payload)
        )
        try:
            async with asyncio.timeout(self.TIMEOUT):
                response, keep = await _read_response(connection.reader)
        except (OSError, TimeoutError, EOFError, SentryResponseError) as exc:
            if reused and isinstance(exc, asyncio.IncompleteReadError) and not exc.partial:
                # Sentry closed the kept connection while it was idle: nothing was read, so the
                # envelope is sent again, once, on a new connection.
                self._pending.appendleft(sent)
                return False
            self._unreachable(exc)
            self._handle_request_error(envelope=sent, loss_reason="network")
            return False
        if not self._reachable:
            self._reachable = True
            logger.info("sentry reachable again")
        self._handle_response(response=response, envelope=sent)  # type: ignore[arg-type]
        return keep

    def _without_limited(self, envelope: Envelope) -> Envelope | None:
        """The envelope without the items a rate limit holds back (recorded as lost), with a
        pending client report; None when nothing is left. `_prepare_envelope` without its
        serializer and its debug line (which described every envelope), a third of a send."""
        items = []
        for item in envelope.items:
            if self._check_disabled(item.data_category):
                if item.data_category in ("transaction", "error", "default", "statsd"):
                    self.on_dropped_event("self_rate_limits")
                self.record_lost_event("ratelimit_backoff", item=item)
            else:
                items.append(item)
        if not items:
            return None
        report = self._fetch_pending_client_report(interval=30)
        if report is not None:
            items.append(report)
        return Envelope(headers=envelope.headers, items=items)

    def _get_header_value(self, response: Any, header: str) -> str | None:
        if isinstance(response, _Response):
            return response.headers.get(header.lower())
        value: str | None = super()._get_header_value(response, header)
        return value

    def _unreachable(self, exc: BaseException) -> None:
        # Once per outage: during one every envelope fails, and each would say the same.
        if self._reachable:
            self._reachable = False
            logger.warning(
                "sentry unreachable; events are dropped until it answers",
                extra={"error": type(exc).__name__},
            )


def _serialized(envelope: Envelope) -> bytes:
    """The envelope as Sentry reads it (as `Envelope.serialize` writes it, uncompressed, as the
    SDK is configured), encoded by orjson."""
    parts = [orjson.dumps(envelope.headers, default=str), b"\n"]
    for item in envelope.items:
        payload = item.get_bytes()
        parts += [orjson.dumps({**item.headers, "length": len(payload)}), b"\n", payload, b"\n"]
    return b"".join(parts)


async def _read_response(reader: asyncio.StreamReader) -> tuple[_Response, bool]:
    """An HTTP/1.1 answer, its body read whole; and whether the connection stays open."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise SentryResponseError("response head too long") from exc
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise SentryResponseError("not an HTTP/1.x response")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        data = await _read_chunked(reader)
    elif "content-length" in headers:
        length = headers["content-length"]
        if not length.isdigit():
            raise SentryResponseError("bad Content-Length")
        data = await reader.readexactly(int(length))
    else:
        data = await reader.read()
        keep = False
    return _Response(int(code), headers, data), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError as exc:
            raise SentryResponseError("bad chunk size") from exc
        if size == 0:
            # Trailers, then the blank line.
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
