"""Request latency with Sentry off, up, silent (accepts, never answers) and refused.

    PYTHONPATH=. uv run python bench/sentry_outage.py [requests]

Each mode serves the same mix (a 200, a 404 and a 500 that is reported) through the ASGI app and
prints the median and 95th percentile per request. "up" minus "off" is the SDK's own cost (the
event is built inline); "silent" and "refused" should match "up": sending happens on a background
thread, never inline.
"""

import asyncio
import logging
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import sentry_sdk

from app.main import create_app
from app.settings import Settings

KEY = "0123456789abcdef0123456789abcdef"
PATHS = ("/", "/api/no-such-route", "/api/sentry/test-error")


class _Accept(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def sentry_up() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def listener(answer: bool) -> Iterator[int]:
    """A port that accepts connections and never answers, or one that refuses them."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        if answer:
            sock.listen(128)
            yield port
            return
    yield port


async def measure(dsn: str | None, requests: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            DATABASE_URL=f"sqlite+aiosqlite:///{folder}/bench.db",
            SENTRY_DSN=dsn,
            SENTRY_TRACES_SAMPLE_RATE=0.0,
            LOG_LEVEL="WARNING",
        )
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        timings = []
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for n in range(requests):
                started = time.perf_counter()
                await client.get(PATHS[n % len(PATHS)])
                timings.append(time.perf_counter() - started)
        await app.state.engine.dispose()
        sentry_sdk.get_client().close(timeout=0.5)
        sentry_sdk.init(dsn=None)
        return timings


def report(name: str, timings: list[float]) -> None:
    ms = sorted(t * 1000 for t in timings)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"{name:<14} median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms   n={len(ms)}")


async def main(requests: int) -> None:
    logging.disable(logging.CRITICAL)  # the numbers, not the app's (or urllib3's) log lines
    report("off", await measure(None, requests))
    with sentry_up() as port:
        report("up", await measure(f"http://{KEY}@127.0.0.1:{port}/1", requests))
    with listener(answer=True) as port:
        report("silent", await measure(f"http://{KEY}@127.0.0.1:{port}/1", requests))
    with listener(answer=False) as port:
        report("refused", await measure(f"http://{KEY}@127.0.0.1:{port}/1", requests))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
