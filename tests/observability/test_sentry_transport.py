"""Sentry's transport while bound to the app's loop (app/observability/transport.py), against a
real HTTP server standing in for Sentry: what it answers is up to each test (a 429, a closed
connection, a chunked body), which Bugsink cannot be made to do."""

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
import sentry_sdk

from app.observability.context import request_context
from app.observability.sentry import (
    add_breadcrumb,
    capture_custom_error,
    capture_message_with_context,
    init_sentry,
    loop_transport,
    request_context_for,
)
from app.observability.transport import (
    MAX_CONNECTIONS,
    PIPELINE_DEPTH,
    SEND_DELAY,
    EncodedEnvelope,
    LoopTransport,
    _serialized,
)
from app.settings import Settings

KEY = "0123456789abcdef0123456789abcdef"
WAIT = 10.0


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"
    chunked: bool = False
    close: bool = False
    # Written as is instead (in parts, a pause between them), then the connection kept open.
    raw: tuple[bytes, ...] = ()
    # Never answered: the handler waits this long, then closes the connection.
    silence: float = 0.0


@dataclass
class Received:
    client_port: int
    path: str
    auth: str
    body: bytes


class FakeSentry(ThreadingHTTPServer):
    """Records every envelope and answers what `answer` says, keeping connections alive."""

    def __init__(self, answer: Callable[[Received], Answer], port: int = 0) -> None:
        self.answer = answer
        self.received: list[Received] = []
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def dsn(self) -> str:
        return f"http://{KEY}@127.0.0.1:{self.server_address[1]}/7"

    def items(self, kind: str) -> list[Received]:
        return [r for r in self.received if f'"type":"{kind}"'.encode() in r.body]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeSentry

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received = Received(
            self.client_address[1], self.path, self.headers.get("X-Sentry-Auth", ""), body
        )
        self.server.received.append(received)
        answer = self.server.answer(received)
        if answer.silence:
            time.sleep(answer.silence)
            self.close_connection = True
            return
        if answer.raw:
            for part in answer.raw:
                self.wfile.write(part)
                self.wfile.flush()
                time.sleep(0.05)
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        if answer.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(answer.body) // 2
            for part in (answer.body[:half], answer.body[half:], b""):
                self.wfile.write(b"%x\r\n%b\r\n" % (len(part), part))
        else:
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def fake_sentry(
    answer: Callable[[Received], Answer] = lambda _: Answer(), port: int = 0
) -> Iterator[FakeSentry]:
    server = FakeSentry(answer, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def bound() -> AsyncIterator[Callable[[str], LoopTransport]]:
    """Start the SDK at `dsn` with its transport bound to this test's loop, as the lifespan
    binds it; released and switched off afterwards."""
    started: list[LoopTransport] = []

    def start(dsn: str) -> LoopTransport:
        assert init_sentry(Settings(_env_file=None, SENTRY_DSN=dsn, SENTRY_RELEASE="qv@test"))
        transport = loop_transport()
        assert transport is not None
        transport.bind(asyncio.get_running_loop())
        started.append(transport)
        return transport

    yield start
    for transport in started:
        await transport.release()
    sentry_sdk.init(dsn=None)


async def flushed() -> None:
    """A flush from another thread, as the lifespan's: it waits for the loop's sends."""
    await asyncio.to_thread(sentry_sdk.flush, WAIT)


def sdk_senders() -> set[threading.Thread]:
    """The SDK's sending threads alive now (an earlier test's client may have left one)."""
    return {t for t in threading.enumerate() if t.name == "sentry-sdk.BackgroundWorker"}


async def test_envelopes_leave_from_the_loop_on_kept_connections(
    bound: Callable[[str], LoopTransport],
) -> None:
    earlier = sdk_senders()
    with fake_sentry() as sentry:
        transport = bound(sentry.dsn)
        for n in range(30):
            capture_message_with_context("hello", {"n": n})
            capture_custom_error(RuntimeError(n))
            if n % 10 == 0:
                await asyncio.sleep(0.01)
        await flushed()

    assert len(sentry.items("event")) == 60
    assert all(r.path == "/api/7/envelope/" for r in sentry.received)
    assert all(f"sentry_key={KEY}" in r.auth for r in sentry.received)
    # Kept alive: 60 envelopes on a few connections, and never through the SDK's thread.
    assert len({r.client_port for r in sentry.received}) <= MAX_CONNECTIONS
    assert transport.bound
    assert sdk_senders() <= earlier


async def test_envelopes_wait_for_their_batch_which_leaves_after_its_delay(
    bound: Callable[[str], LoopTransport],
) -> None:
    with fake_sentry() as sentry:
        bound(sentry.dsn)
        for n in range(3):
            capture_message_with_context("waiting", {"n": n})
        # Unbatched, the three would be answered well within this on one machine.
        await asyncio.sleep(SEND_DELAY / 2)
        assert sentry.items("event") == []
        # No flush: the batch's timer sends them.
        deadline = time.monotonic() + WAIT
        # Polled: the server answers from a thread of its own.
        while len(sentry.items("event")) < 3 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert len(sentry.items("event")) == 3


async def test_a_connection_that_answered_carries_a_batch_pipelined(
    bound: Callable[[str], LoopTransport],
) -> None:
    with fake_sentry() as sentry:
        bound(sentry.dsn)
        capture_message_with_context("first")
        await flushed()
        for n in range(PIPELINE_DEPTH):
            capture_message_with_context("batch", {"n": n})
        await flushed()

    assert len(sentry.items("event")) == 1 + PIPELINE_DEPTH
    # All on the connection that answered the first: one at a time, the batch would have
    # opened the other connections while it waited.
    assert len({r.client_port for r in sentry.received}) == 1


async def test_pipelined_envelopes_a_closing_answer_left_unanswered_go_again(
    bound: Callable[[str], LoopTransport],
) -> None:
    answers = iter([Answer(), Answer(close=True)])
    with fake_sentry(lambda _: next(answers, Answer())) as sentry:
        bound(sentry.dsn)
        capture_message_with_context("first")
        await flushed()
        for n in range(5):
            capture_message_with_context("batch", {"n": n})
        await flushed()

    # Each arrives (the one answered with the close may arrive twice: the server's close may
    # cut its answer short, and Sentry drops a second copy of an event id).
    bodies = [r.body for r in sentry.items("event")]
    for n in range(5):
        assert any(b'"n":%d' % n in body for body in bodies)


# Sentry sends its limits with a 429, and also with an envelope it accepted.
@pytest.mark.parametrize("status", [429, 200])
async def test_a_rate_limit_holds_back_what_sentry_limits(
    bound: Callable[[str], LoopTransport], status: int
) -> None:
    def answer(received: Received) -> Answer:
        # The first error is answered with a limit on errors for a minute.
        if received is sentry.items("event")[0]:
            return Answer(status, {"X-Sentry-Rate-Limits": "60:error:key", "Retry-After": "60"})
        return Answer()

    with fake_sentry(answer) as sentry:
        transport = bound(sentry.dsn)
        capture_custom_error(RuntimeError("first"))
        await flushed()
        for n in range(5):
            capture_custom_error(RuntimeError(n))
        transport.capture_envelope(_transaction_envelope())
        await flushed()

    # One error sent; the next five held back by the limit; the transaction still went.
    assert len(sentry.items("event")) == 1
    assert len(sentry.items("transaction")) == 1


async def test_a_limit_among_pipelined_answers_like_the_last_is_noted(
    bound: Callable[[str], LoopTransport], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers that repeat the last accepted one are read without parsing them: one in their
    midst that differs (a rate limit) is still read, and those after it still count."""

    def answer(received: Received) -> Answer:
        if b"limited" in received.body:
            return Answer(200, {"X-Sentry-Rate-Limits": "60:error:key"})
        return Answer()

    with fake_sentry(answer) as sentry:
        transport = bound(sentry.dsn)
        # Watched, not changed: answers read without parsing, so the test is of that path.
        read_plain: list[bool] = []
        plain_answers = transport._plain_answers

        def watched(connection: Any) -> bool:
            read = plain_answers(connection)
            read_plain.append(read)
            return read

        monkeypatch.setattr(transport, "_plain_answers", watched)
        capture_message_with_context("first")
        await flushed()
        for n in range(6):
            capture_message_with_context("limited" if n == 3 else "batch", {"n": n})
        await flushed()
        # Every one answered in turn on the kept connection (a misread answer would stall it
        # until the timeout, and the flush would give up first).
        assert transport._sending == 0
        assert True in read_plain
        capture_message_with_context("after the limit")
        transport.capture_envelope(_transaction_envelope())
        await flushed()

    bodies = [r.body for r in sentry.items("event")]
    assert len(bodies) == 7
    assert not any(b"after the limit" in body for body in bodies)
    assert len(sentry.items("transaction")) == 1
    assert len({r.client_port for r in sentry.received}) == 1


async def test_a_transaction_that_fails_to_build_leaves_the_batch_to_go(
    bound: Callable[[str], LoopTransport],
) -> None:
    """A transaction is built as its batch leaves, away from its request: one that fails to
    build is the SDK's internal error, never raised into the loop, and the rest still go."""
    with fake_sentry() as sentry:
        transport = bound(sentry.dsn)

        def broken() -> None:
            raise RuntimeError("cannot build")

        def built() -> None:
            transport.capture_envelope(_transaction_envelope())

        assert transport.capture_later(broken, "transaction")
        assert transport.capture_later(built, "transaction")
        capture_message_with_context("after it")
        await flushed()

    assert len(sentry.items("transaction")) == 1
    assert len(sentry.items("event")) == 1


async def test_a_request_s_message_says_what_the_request_had_when_it_was_captured(
    bound: Callable[[str], LoopTransport],
) -> None:
    """A request's message is built when its batch leaves, as a transaction is: it arrives
    under the id it was captured with, with the breadcrumbs and details of that moment, in the
    request's trace."""
    with fake_sentry() as sentry:
        transport = bound(sentry.dsn)
        scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/api/store/ada"}
        ctx = request_context_for("message-request", scope)
        # As the request layer sets it: the method of the request's `started` breadcrumb.
        ctx.method = "GET"
        ctx.user_id = "user-at-capture"
        token = request_context.set(ctx)
        try:
            add_breadcrumb("before the message")
            details = {"vendor_id": "vendor-1"}
            event_id = capture_message_with_context("Storefront viewed", details)
            captured_by = time.time()
            # Not built yet: it waits for the batch, lost as an error event if given up.
            assert [category for _, category in transport._unbuilt] == ["error"]
            details["vendor_id"] = "changed after"
            ctx.user_id = "user-after"
            add_breadcrumb("after the message")
            ctx.complete({"method": "GET", "route": None, "status": 200})
        finally:
            request_context.reset(token)
        await flushed()

    [received] = sentry.items("event")
    event = orjson.loads(received.body.split(b"\n")[2])
    assert event["event_id"] == event_id
    assert event["timestamp"] <= captured_by
    assert event["user"] == {"id": "user-at-capture"}
    assert event["message"] == "Storefront viewed"
    assert event["contexts"]["details"] == {"vendor_id": "vendor-1"}
    crumbs = [crumb["message"] for crumb in event["breadcrumbs"]["values"]]
    assert crumbs == ["GET /api/store/ada", "before the message"]
    # The trace the request's later events (an error after it) share.
    assert ctx.trace_id is not None
    assert event["contexts"]["trace"]["trace_id"] == ctx.trace_id
    assert event["tags"]["request_id"] == "message-request"


def test_an_encoded_envelope_is_written_as_the_sdk_s_envelope_would_be() -> None:
    """The bytes made once for an event the app built are what the envelope's items would be
    written as; once its items were handed out (and may have changed), those are written."""
    headers = {"event_id": "b" * 32, "trace": {"trace_id": "c" * 32, "transaction": "/s/{slug}"}}
    event = {"event_id": "b" * 32, "message": "Ọjà Ṣàngó viewed", "contexts": {"n": [1, 2.5]}}
    encoded = EncodedEnvelope(headers, "event", event)
    plain = sentry_sdk.envelope.Envelope(headers=headers)
    plain.add_item(
        sentry_sdk.envelope.Item(
            payload=orjson.dumps(event), type="event", content_type="application/json"
        )
    )
    assert _serialized(encoded) == _serialized(plain)
    sdk_written = sentry_sdk.envelope.Envelope.deserialize(encoded.serialize())
    assert sdk_written.headers == headers
    assert [item.payload.json for item in sdk_written.items] == [event]

    encoded.add_item(sentry_sdk.envelope.Item(payload=b"{}", type="client_report"))
    assert _serialized(encoded).count(b'"type":') == 2


def _transaction_envelope() -> sentry_sdk.envelope.Envelope:
    envelope = sentry_sdk.envelope.Envelope(headers={"event_id": "a" * 32})
    envelope.add_transaction({"type": "transaction", "event_id": "a" * 32, "transaction": "/t"})
    return envelope


@pytest.mark.parametrize(
    "answer",
    [Answer(close=True), Answer(chunked=True, body=b'{"id":"x"}')],
    ids=["connection-close", "chunked"],
)
async def test_answers_closed_or_chunked_are_read(
    bound: Callable[[str], LoopTransport], answer: Answer
) -> None:
    with fake_sentry(lambda _: answer) as sentry:
        bound(sentry.dsn)
        for n in range(5):
            capture_custom_error(RuntimeError(n))
            # Each answered before the next, so a kept connection is free for it.
            await flushed()

    assert len(sentry.items("event")) == 5
    ports = {r.client_port for r in sentry.received}
    assert len(ports) == (5 if answer.close else 1)


async def test_a_flush_on_the_loops_thread_sends_by_the_sdk_thread(
    bound: Callable[[str], LoopTransport],
) -> None:
    """The caller holds the loop, so what is still queued cannot wait for it."""
    with fake_sentry() as sentry:
        bound(sentry.dsn)
        for n in range(10):
            capture_custom_error(RuntimeError(n))
        sentry_sdk.flush(timeout=WAIT)
        await flushed()

    assert len(sentry.items("event")) == 10


async def test_an_unreachable_sentry_is_logged_once_and_sending_resumes(
    bound: Callable[[str], LoopTransport], caplog: pytest.LogCaptureFixture
) -> None:
    with fake_sentry() as sentry:
        port = sentry.server_address[1]
        dsn = sentry.dsn
    caplog.set_level(logging.INFO, logger="app.observability.transport")
    bound(dsn)
    for n in range(5):
        capture_custom_error(RuntimeError(n))
        await asyncio.sleep(0.01)
    await flushed()
    unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(unreachable) == 1
    assert unreachable[0].levelno == logging.WARNING

    # The same port answers again: the next envelope goes.
    with fake_sentry(port=port) as sentry:
        capture_custom_error(RuntimeError("after"))
        await flushed()
    assert len(sentry.items("event")) == 1
    assert any("reachable again" in r.getMessage() for r in caplog.records)


async def test_after_release_the_sdk_thread_sends(bound: Callable[[str], LoopTransport]) -> None:
    earlier = sdk_senders()
    with fake_sentry() as sentry:
        transport = bound(sentry.dsn)
        capture_custom_error(RuntimeError("bound"))
        await flushed()
        await transport.release()
        assert not transport.bound
        capture_custom_error(RuntimeError("released"))
        sentry_sdk.flush(timeout=WAIT)
        assert sdk_senders() - earlier

    assert len(sentry.items("event")) == 2


@pytest.mark.parametrize(
    "raw",
    [
        (b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
        (b"HTTP/1.1 204 No Content\r\n\r\n",),
        (b"HTTP/1.1 200 OK\r\nContent-Le", b'ngth: 10\r\n\r\n{"id":', b'"x"}'),
    ],
    ids=["interim-100", "no-content", "in-pieces"],
)
async def test_answers_with_no_body_or_in_pieces_are_read(
    bound: Callable[[str], LoopTransport], raw: tuple[bytes, ...]
) -> None:
    with fake_sentry(lambda _: Answer(raw=raw)) as sentry:
        bound(sentry.dsn)
        for n in range(3):
            capture_custom_error(RuntimeError(n))
            await flushed()

    # Each answered in turn on the one kept connection (a misread answer would stall it until
    # the timeout, and the flush would give up first).
    assert len(sentry.items("event")) == 3
    assert len({r.client_port for r in sentry.received}) == 1


async def test_an_envelope_unanswered_past_the_timeout_is_not_sent_again(
    bound: Callable[[str], LoopTransport], caplog: pytest.LogCaptureFixture
) -> None:
    """On a kept connection that answered before: Sentry may have stored it, so giving up (and
    saying so) is safer than a duplicate."""
    answers = iter([Answer(), Answer(silence=2.0)])
    with fake_sentry(lambda _: next(answers, Answer())) as sentry:
        transport = bound(sentry.dsn)
        transport.TIMEOUT = 0.5
        capture_custom_error(RuntimeError("first"))
        await flushed()
        capture_custom_error(RuntimeError("unanswered"))
        await flushed()
        assert any("unreachable" in r.getMessage() for r in caplog.records)
        capture_custom_error(RuntimeError("next"))
        await flushed()

    bodies = [r.body for r in sentry.items("event")]
    assert [b"unanswered" in body for body in bodies] == [False, True, False]
