"""Sentry's transport: while the app runs, envelopes are sent from its event loop.

The SDK's HttpTransport sends from a thread of its own, through urllib3. Under load, that thread
and the event loop took turns at the GIL for every envelope (a tenth of the requests send a
transaction): the server spent 0.25 ms more CPU per storefront request with Sentry on than off,
most of it there (bench/speed.py --only sentry, py-spy). While the app's lifespan has it bound
to the loop, this transport writes each envelope from the loop instead, on kept-alive
connections (an asyncio protocol: no task, stream or timeout object per envelope), at most
`MAX_CONNECTIONS`, and reads the answers in the protocol's callback. Envelopes leave in batches
(`SEND_BATCH`, `SEND_DELAY`), and a connection that has answered and stayed open takes up to
`PIPELINE_DEPTH` of them in one write, answered in order (HTTP/1.1 pipelining); one that has
not yet answered takes one at a time. If Sentry ever leaves pipelined envelopes unanswered
until the timeout, the transport sends one at a time from then on.

Everything else is the SDK's: which items a rate limit holds back, what a 429 or an
`X-Sentry-Rate-Limits` header disables, the lost-event records and client reports. For those
it calls `HttpTransportCore`'s methods as sentry-sdk 2.75 has them (pyproject.toml's lower
bound; tests/observability/test_sentry_transport.py fails if they change). Before the loop is
bound, after it is released, with a proxy or a client certificate, or when flushed from
the loop's own thread (which cannot wait for the loop), the SDK's thread sends, as before.
"""

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import re
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import certifi
import orjson
from sentry_sdk.consts import EndpointType
from sentry_sdk.envelope import Envelope, Item, PayloadRef
from sentry_sdk.transport import HttpTransport
from sentry_sdk.types import EventDataCategory
from sentry_sdk.utils import capture_internal_exceptions

logger = logging.getLogger(__name__)

# Connections to Sentry a worker opens at most, each sending one envelope at a time: a second
# and more only while envelopes queue up (a burst, or Sentry tens of milliseconds away). The
# SDK's thread sent on one. The queue behind them is the SDK's `transport_queue_size`.
MAX_CONNECTIONS = 4
# Envelopes wait up to SEND_DELAY seconds to leave together, or until SEND_BATCH wait; a traced
# request's transaction, and a request's message, wait unbuilt. Built and sent one at a time as
# requests ended, each ran cold, between requests: a transaction cost the server ~100 µs of CPU
# at a tenth traced, and a storefront view's message built at once ~110-160 µs at a hundredth
# of views where it cost ~35 µs at every view; sent together, the connections' answers come back
# together too (bench/speed.py --only sentry).
SEND_BATCH = 64
SEND_DELAY = 0.1
# Envelopes written at once on a connection that has answered and stayed open: a write, and a
# read of the answers, for a batch instead of one each (each woke the other end, and each
# answer's handling ran cold between requests).
PIPELINE_DEPTH = 64
# The largest response head read; Sentry's is a few hundred bytes.
MAX_HEAD_BYTES = 64 * 1024
# ASCII digits only (str.isdigit accepts "²").
_DIGITS = re.compile(r"[0-9]+")


class SentryResponseError(Exception):
    """Sentry's answer could not be read as HTTP/1.1."""


@dataclass(slots=True)
class _Response:
    """What the SDK's response handling reads of an answer."""

    status: int
    headers: dict[str, str]
    data: bytes


class EncodedEnvelope(Envelope):
    """An envelope of one JSON item the app built (an event or a transaction), encoded once, as
    it is made: `wire()` holds what `_serialized` would write. The SDK's item and payload objects
    are made only when something asks for them (a rate limit, a loss, the SDK's own thread, a
    test): made for every envelope and serialized again here, they cost as much as the rest of
    building a transaction. Its headers are never changed once it is made."""

    def __init__(self, headers: dict[str, Any], item_type: str, event: dict[str, Any]) -> None:
        payload = orjson.dumps(event)
        # A copy, as the SDK's envelope keeps one: the bytes below are made from it.
        self.headers = dict(headers)
        self._item_type = item_type
        self._event = event
        self._payload = payload
        self._items: list[Item] | None = None
        self._wire = b'%b\n{"type":"%b","content_type":"application/json","length":%d}\n%b\n' % (
            orjson.dumps(headers),
            item_type.encode(),
            len(payload),
            payload,
        )

    def wire(self) -> bytes | None:
        """The encoded envelope; None once its items were handed out (they may have changed)."""
        return self._wire if self._items is None else None

    @property
    def items(self) -> list[Item]:
        if self._items is None:
            payload = PayloadRef(bytes=self._payload, json=self._event)
            item = Item(payload=payload, type=self._item_type, content_type="application/json")
            self._items = [item]
        return self._items

    @items.setter
    def items(self, items: list[Item]) -> None:
        self._items = items


class _Connection(asyncio.Protocol):
    """A kept-alive connection to Sentry, with the envelopes written on it and not yet answered."""

    def __init__(self, owner: "LoopTransport") -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        # Oldest first (answered in that order), each with when it is given up (the loop's
        # clock), checked by the transport's one timer: a timer per envelope (a libuv handle
        # made, stopped and closed) cost each envelope more than its answer's parsing.
        self.in_flight: deque[tuple[Envelope, float]] = deque()
        # Whether it has answered: while it stays open, it may be pipelined; when it closes,
        # what it had not answered was never refused (Sentry closed a kept connection as they
        # were written, or after an answer that said it would).
        self.answered = False
        # Whether the oldest envelope in flight waited out the timeout (none of them is sent
        # again: Sentry may have them).
        self.timed_out = False
        # Closed or aborted by us, or lost: never written to again.
        self.closing = False
        # The last plain answer's head (blank line included) and body length: an answer that
        # starts with the same head is read without parsing it (`LoopTransport._plain_answers`).
        self.plain: tuple[bytes, int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.owner._answered(self, eof=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(self, exc)

    def send(self, data: bytes, envelopes: list[Envelope], deadline: float) -> None:
        # Only an open connection sends: `transport` was set as it opened.
        self.in_flight.extend((envelope, deadline) for envelope in envelopes)
        self.owner._sending += len(envelopes)
        cast(asyncio.Transport, self.transport).write(data)

    @property
    def deadline(self) -> float | None:
        return self.in_flight[0][1] if self.in_flight else None

    def done(self) -> Envelope | None:
        """The oldest envelope in flight, now answered or given up."""
        if not self.in_flight:
            return None
        self.owner._sending -= 1
        return self.in_flight.popleft()[0]

    def time_out(self) -> None:
        self.timed_out = True
        self.abort()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            # The loop may have closed without the transport being released.
            with contextlib.suppress(RuntimeError):
                self.transport.abort()


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
        self._open: set[_Connection] = set()
        # Until Sentry leaves pipelined envelopes unanswered past the timeout.
        self._pipelining = True
        # Envelopes written and not yet answered or given up, over all connections.
        self._sending = 0
        self._connecting: set[asyncio.Task[None]] = set()
        # Armed for the earliest deadline of an envelope in flight, while there is one.
        self._watchdog: asyncio.TimerHandle | None = None
        # Events to build when the batch leaves (`capture_later`), each with its data category,
        # and the timer that sends the batch.
        self._unbuilt: list[tuple[Callable[[], None], EventDataCategory]] = []
        self._batch_timer: asyncio.TimerHandle | None = None
        self._quiet: asyncio.Event | None = None
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
            self._quiet = asyncio.Event()
            self._quiet.set()

    async def release(self) -> None:
        """Stop sending from the loop (after a flush): what is still queued goes by the thread,
        what is still unanswered is given up with its connection."""
        self._loop = None
        # Built now, they go by the thread too.
        self._build_waiting()
        self._hand_over_pending()
        connecting = list(self._connecting)
        self._stop_sending()
        for task in connecting:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # The connections' `connection_lost`, called by the loop in a turn or two (TLS's).
        for _ in range(5):
            if not self._open:
                break
            await asyncio.sleep(0)

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

    def capture_later(self, build: Callable[[], None], category: EventDataCategory) -> bool:
        """Have `build` (which builds the envelope of an event of `category` and captures it)
        run when the next batch leaves; False when it cannot wait (not sending from this
        thread's loop): the caller builds it now."""
        if self._loop is None or threading.get_ident() != self._loop_thread:
            return False
        self._unbuilt.append((build, category))
        self._batch()
        return True

    def flush(self, timeout: float, callback: Callable[[int, float], None] | None = None) -> None:
        loop = self._loop
        if loop is None or timeout <= 0:
            super().flush(timeout, callback)
            return
        deadline = time.monotonic() + timeout
        if threading.get_ident() == self._loop_thread:
            # The caller holds the loop: what has not been written yet goes by the thread.
            self._build_waiting()
            self._hand_over_pending()
        else:
            with contextlib.suppress(RuntimeError):
                # RuntimeError: the loop has closed without releasing this transport.
                drained = asyncio.run_coroutine_threadsafe(self.drained(), loop)
                with contextlib.suppress(TimeoutError):
                    drained.result(timeout)
                drained.cancel()
        # The SDK's thread, if it has sent anything (before the loop was bound, or handed over).
        if self._worker.is_alive:
            super().flush(max(deadline - time.monotonic(), 0.0), callback)

    def kill(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and threading.get_ident() == self._loop_thread:
            self._stop_sending()
        elif loop is not None:
            try:
                loop.call_soon_threadsafe(self._stop_sending)
            except RuntimeError:
                # The loop has closed: nothing of it runs any more.
                self._stop_sending()
        super().kill()

    def _stop_sending(self) -> None:
        """Give up what is queued and in flight (recorded as lost, as the SDK's kill does)."""
        while self._pending:
            for item in self._pending.popleft().items:
                self.record_lost_event("queue_overflow", item=item)
        for _, category in self._unbuilt:
            self.record_lost_event("queue_overflow", data_category=category)
        self._unbuilt.clear()
        for task in list(self._connecting):
            with contextlib.suppress(RuntimeError):
                task.cancel()
        for connection in list(self._open):
            connection.abort()
        for timer in (self._watchdog, self._batch_timer):
            if timer is not None:
                timer.cancel()
        self._watchdog = self._batch_timer = None

    def _hand_over_pending(self) -> None:
        while self._pending:
            super().capture_envelope(self._pending.popleft())

    async def drained(self) -> None:
        """Send what waits now (not at the batch's time), and wait until nothing is left
        unanswered (on the loop)."""
        report = self._fetch_pending_client_report(force=True)
        if report is not None:
            self._enqueue(Envelope(items=[report]))
        # Not waiting for the batch's timer.
        self._send_batch()
        if self._quiet is not None:
            await self._quiet.wait()

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
        self._batch()

    def _batch(self) -> None:
        """Send the batch once it is full; otherwise, when it has waited SEND_DELAY."""
        if len(self._pending) + len(self._unbuilt) >= SEND_BATCH:
            self._send_batch()
        elif self._batch_timer is None and self._loop is not None:
            self._batch_timer = self._loop.call_later(SEND_DELAY, self._send_batch)
            self._note_quiet()

    def _send_batch(self) -> None:
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
        self._build_waiting()
        self._pump()

    def _build_waiting(self) -> None:
        """Build the events waiting for the batch (each captures its envelope)."""
        unbuilt, self._unbuilt = self._unbuilt, []
        for build, _ in unbuilt:
            # The SDK's context manager only where a build failed: entered for every one, it
            # was three calls a transaction.
            try:
                build()
            except BaseException:
                # Swallowed, as the SDK's context manager swallows whatever it catches: the
                # rest of the batch still goes.
                with capture_internal_exceptions():
                    raise

    def _room(self, connection: _Connection) -> int:
        """How many more envelopes `connection` may have in flight now."""
        if connection.closing or connection.transport is None:
            return 0
        depth = PIPELINE_DEPTH if connection.answered and self._pipelining else 1
        return depth - len(connection.in_flight)

    def _pump(self) -> None:
        """Send what is queued on the connections with room; open another while it waits."""
        loop = self._loop
        if loop is None:
            return
        while self._pending:
            connection = max(self._open, key=self._room, default=None)
            room = 0 if connection is None else self._room(connection)
            if connection is None or room <= 0:
                break
            parts: list[bytes] = []
            written: list[Envelope] = []
            while self._pending and len(written) < room:
                sent = self._without_limited(self._pending.popleft())
                if sent is None:
                    # As the SDK's thread does: the outcomes of what the limits hold back are
                    # still reported, once a minute.
                    report = self._fetch_pending_client_report(interval=60)
                    if report is not None:
                        self._pending.append(Envelope(items=[report]))
                    continue
                try:
                    payload = _serialized(sent)
                except (TypeError, ValueError, OSError):
                    # An item that cannot be encoded (or an attachment that cannot be read):
                    # lost, as the SDK's thread loses it, never raised into the request that
                    # captured it.
                    self._handle_request_error(envelope=sent, loss_reason="send_error")
                    continue
                parts += (
                    b"%bContent-Length: %d\r\n\r\n" % (self._request_head, len(payload)),
                    payload,
                )
                written.append(sent)
            if written:
                deadline = loop.time() + self.TIMEOUT
                connection.send(b"".join(parts), written, deadline)
                if self._watchdog is None:
                    self._watchdog = loop.call_at(deadline, self._give_up_overdue)
        if self._pending and len(self._open) + len(self._connecting) < MAX_CONNECTIONS:
            # A context of its own: the request that queued the envelope is not the sender's.
            task = loop.create_task(self._connect(), context=contextvars.Context())
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)
        self._note_quiet()

    def _give_up_overdue(self) -> None:
        """Abort the connections whose oldest envelope waited out the timeout (handled as they
        close); watch for the next deadline."""
        self._watchdog = None
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        upcoming = []
        for connection in list(self._open):
            deadline = connection.deadline
            if deadline is None:
                continue
            if deadline > now:
                upcoming.append(deadline)
                continue
            if len(connection.in_flight) > 1 and self._pipelining:
                self._pipelining = False
                logger.warning("sentry left pipelined envelopes unanswered; sending one at a time")
            connection.time_out()
        if upcoming:
            self._watchdog = loop.call_at(min(upcoming), self._give_up_overdue)

    def _note_quiet(self) -> None:
        quiet = self._quiet
        if quiet is None:
            return
        if self._pending or self._unbuilt or self._connecting or self._sending:
            quiet.clear()
        else:
            quiet.set()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self._address
        try:
            async with asyncio.timeout(self.TIMEOUT):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self), host, port, ssl=self._tls
                )
        except (OSError, TimeoutError) as exc:
            self._unreachable(exc)
            if not self._open:
                # Nothing can be sent now: the queue is dropped as the SDK drops a failed send.
                while self._pending:
                    envelope = self._pending.popleft()
                    self._handle_request_error(envelope=envelope, loss_reason="network")
            self._connecting.discard(asyncio.current_task())
            self._note_quiet()
            return
        self._connecting.discard(asyncio.current_task())
        self._open.add(connection)
        self._pump()

    def _answered(self, connection: _Connection, *, eof: bool) -> None:
        """Bytes from Sentry: each complete answer is handled, for the oldest envelope in flight;
        then what is queued is sent."""
        while True:
            if (
                connection.plain is not None
                and self._plain_answers(connection)
                and not connection.buffer
            ):
                break
            try:
                parsed = _parse_response(connection.buffer, eof=eof)
            except SentryResponseError:
                connection.abort()
                return
            if parsed is None:
                break
            response, keep, used = parsed
            connection.plain = _plain(connection.buffer, response, keep, used)
            del connection.buffer[:used]
            sent = connection.done()
            if sent is None:
                # An answer to nothing: the connection cannot be trusted with the next envelope.
                connection.abort()
                return
            self._note_answered(connection)
            if not 200 <= response.status < 300 or "x-sentry-rate-limits" in response.headers:
                # An accepted envelope with no limit to note (almost every answer) leaves the
                # SDK's handling nothing to do.
                with capture_internal_exceptions():
                    # As in the SDK's thread: a header it cannot read (a bad Retry-After) is its
                    # problem, not the loop's.
                    self._handle_response(response=response, envelope=sent)  # type: ignore[arg-type]
            if not keep:
                # What else is in flight goes again when it has closed (`_lost`).
                connection.close()
                break
            if not connection.buffer:
                break
        self._pump()

    def _plain_answers(self, connection: _Connection) -> bool:
        """Read the answers at the start of the buffer that repeat the last plain one (each
        accepts the oldest envelope in flight, with nothing for the SDK to note), as many as are
        in flight; whether there was any. Almost every answer is one: a batch's answers share
        their head, and parsing each was most of an envelope's handling."""
        head, length = cast(tuple[bytes, int], connection.plain)
        buffer = connection.buffer
        step = len(head) + length
        end = 0
        for _ in range(len(connection.in_flight)):
            if len(buffer) < end + step or not buffer.startswith(head, end):
                break
            end += step
            connection.done()
        if not end:
            return False
        del buffer[:end]
        self._note_answered(connection)
        return True

    def _note_answered(self, connection: _Connection) -> None:
        connection.answered = True
        if not self._reachable:
            self._reachable = True
            logger.info("sentry reachable again")

    def _lost(self, connection: _Connection, exc: Exception | None) -> None:
        self._open.discard(connection)
        connection.closing = True
        if connection.in_flight:
            # An answer that ends with the connection (no length given) is complete now.
            self._answered(connection, eof=True)
        unanswered = []
        while (sent := connection.done()) is not None:
            unanswered.append(sent)
        if not unanswered:
            self._pump()
            return
        if self._loop is None:
            # Released or killed: given up, not a sign of Sentry's health.
            for sent in unanswered:
                self._handle_request_error(envelope=sent, loss_reason="network")
        elif connection.answered and not connection.buffer and not connection.timed_out:
            # Sentry closed the kept connection before answering these (as they were sent, or
            # after an answer that said so): they go again, first, on another connection.
            self._pending.extendleft(reversed(unanswered))
        else:
            self._unreachable(TimeoutError() if connection.timed_out else exc or EOFError())
            for sent in unanswered:
                self._handle_request_error(envelope=sent, loss_reason="network")
        self._pump()

    def _without_limited(self, envelope: Envelope) -> Envelope | None:
        """The envelope without the items a rate limit holds back (recorded as lost), with a
        pending client report; None when nothing is left. `_prepare_envelope` without its
        serializer and its debug line (which described every envelope), a third of a send."""
        # The items kept when a limit in force holds some back; None when all are. No limit in
        # force (almost always): nothing to check (the SDK's check asks the clock for every
        # item), and an encoded envelope's items are never made.
        kept: list[Item] | None = None
        if self._disabled_until:
            kept = []
            for item in envelope.items:
                if self._check_disabled(item.data_category):
                    if item.data_category in ("transaction", "error", "default", "statsd"):
                        self.on_dropped_event("self_rate_limits")
                    self.record_lost_event("ratelimit_backoff", item=item)
                else:
                    kept.append(item)
            if not kept:
                return None
            if len(kept) == len(envelope.items):
                kept = None
        report = self._fetch_pending_client_report(interval=30)
        if report is None and kept is None:
            return envelope
        items = list(envelope.items) if kept is None else kept
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
    if isinstance(envelope, EncodedEnvelope):
        wire = envelope.wire()
        if wire is not None:
            return wire
    parts = [orjson.dumps(envelope.headers, default=str), b"\n"]
    for item in envelope.items:
        payload = item.get_bytes()
        parts += [orjson.dumps({**item.headers, "length": len(payload)}), b"\n", payload, b"\n"]
    return b"".join(parts)


def _plain(
    buffer: bytearray, response: _Response, keep: bool, used: int
) -> tuple[bytes, int] | None:
    """The head and body length of an answer taking `used` bytes of `buffer` when answers that
    repeat it may be read without parsing: it accepted its envelope, noted no rate limit, kept
    the connection open and gave its body's length (and came alone, not after a 100 Continue)."""
    if not (200 <= response.status < 300 and keep) or "x-sentry-rate-limits" in response.headers:
        return None
    length = response.headers.get("content-length")
    head_end = buffer.find(b"\r\n\r\n") + 4
    if length is None or head_end + len(response.data) != used:
        return None
    return bytes(buffer[:head_end]), len(response.data)


def _parse_response(buffer: bytearray, *, eof: bool) -> tuple[_Response, bool, int] | None:
    """An HTTP/1.1 answer at the start of `buffer`: the response, whether the connection stays
    open, and how many bytes it took; None while it is incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD_BYTES:
            raise SentryResponseError("response head too long")
        if eof and buffer:
            raise SentryResponseError("response cut short")
        return None
    status, headers, keep = _parse_head(bytes(buffer[:end]))
    if 100 <= status < 200:
        # An interim answer (100 Continue): the real one follows.
        rest_parsed = _parse_response(buffer[end + 4 :], eof=eof)
        if rest_parsed is None:
            return None
        response, keep, used = rest_parsed
        return response, keep, end + 4 + used
    start = end + 4
    if status in (204, 304):
        data, used = b"", start
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = _chunked_body(buffer, start)
        if body is None:
            return None
        data, used = body
    elif "content-length" in headers:
        length = headers["content-length"]
        if not _DIGITS.fullmatch(length):
            raise SentryResponseError("bad Content-Length")
        used = start + int(length)
        if len(buffer) < used:
            return None
        data = bytes(buffer[start:used])
    elif eof:
        data, used, keep = bytes(buffer[start:]), len(buffer), False
    else:
        return None
    return _Response(status, headers, data), keep, used


# Sentry's answers to a batch share their head (the Date changes once a second): each one read
# anew was most of an envelope's handling. The headers are shared, so never changed.
@functools.lru_cache(maxsize=16)
def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    """A response head (up to its blank line): the status, the headers (names lower-cased) and
    whether the connection stays open."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not _DIGITS.fullmatch(code):
        raise SentryResponseError("not an HTTP/1.x response")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return int(code), headers, keep


def _chunked_body(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body from `start`, and where it ends; None while it is incomplete."""
    chunks: list[bytes] = []
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = bytes(buffer[position:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise SentryResponseError("bad chunk size") from exc
        position = line_end + 2
        if size == 0:
            # Trailers, up to the blank line.
            trailers_end = buffer.find(b"\r\n\r\n", position - 2)
            if trailers_end < 0:
                return None
            return b"".join(chunks), trailers_end + 4
        if len(buffer) < position + size + 2:
            return None
        chunks.append(bytes(buffer[position : position + size]))
        position += size + 2
