"""A stand-in for a Slack incoming webhook: a real HTTP server on a loopback port, in a thread of
the test process, that answers each post as the test scripted it (fail, hang, 429, recover).

A message counts as delivered when the stub answered it 200, as Slack's "ok" does; a post it
hung on (no answer before the client gave up) or refused is not delivered.
"""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What the stub does with one post.
OK = "ok"  # 200 "ok"
FAIL = "fail"  # 500
HANG = "hang"  # read the post, answer nothing for `hang_seconds`, then drop the connection
THROTTLE = "429"  # 429 with Retry-After: `retry_after`
GONE = "gone"  # 404 "no_service": the webhook was revoked


@dataclass
class Post:
    text: str
    answer: str
    at: float


@dataclass
class SlackStub:
    port: int = 0
    hang_seconds: float = 5.0
    # How long an "ok" takes to come back (a slow Slack).
    ok_after_seconds: float = 0.0
    retry_after: str = "1"
    # Answers for the next posts, in order; once used up, every post gets `then`.
    script: list[str] = field(default_factory=list)
    then: str = OK
    posts: list[Post] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/stub"

    def play(self, *answers: str, then: str = OK) -> None:
        with self._lock:
            self.script = list(answers)
            self.then = then

    def _next_answer(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else self.then

    def _record(self, text: str, answer: str) -> None:
        with self._lock:
            self.posts.append(Post(text, answer, time.monotonic()))
            self._lock.notify_all()

    def delivered(self) -> list[str]:
        with self._lock:
            return [post.text for post in self.posts if post.answer == OK]

    def answers(self) -> list[str]:
        with self._lock:
            return [post.answer for post in self.posts]

    def wait_for(self, count: int, timeout: float, answer: str = OK) -> list[str]:
        """Block until `count` posts got `answer` (or time out); the texts of those posts."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                texts = [post.text for post in self.posts if post.answer == answer]
                remaining = deadline - time.monotonic()
                if len(texts) >= count or remaining <= 0:
                    return texts
                self._lock.wait(remaining)


def _handler(stub: SlackStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            payload: dict[str, Any] = json.loads(body)
            text = str(payload.get("text", ""))
            answer = stub._next_answer()
            if answer == HANG:
                stub._record(text, answer)
                time.sleep(stub.hang_seconds)
                self.close_connection = True
                return
            if answer == OK:
                # Recorded before the answer leaves, as Slack posts before it says "ok".
                stub._record(text, answer)
                time.sleep(stub.ok_after_seconds)
                self._answer(200, b"ok")
                return
            stub._record(text, answer)
            if answer == THROTTLE:
                self._answer(429, b"rate_limited", {"Retry-After": stub.retry_after})
            elif answer == GONE:
                self._answer(404, b"no_service")
            else:
                self._answer(500, b"rollup_error")

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@contextmanager
def running_slack_stub(**options: Any) -> Iterator[SlackStub]:
    stub = SlackStub(**options)
    server = ThreadingHTTPServer(("127.0.0.1", stub.port), _handler(stub))
    server.daemon_threads = True
    stub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="slack-stub", daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
