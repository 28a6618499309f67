"""The server every mode runs (`python -m app.serve`), over raw sockets: bounds on slow, large
and surplus clients, and a 500 that leaves its keep-alive connection usable.

Time bounds are short in these servers' settings so the tests are quick; the assertions on them
are generous upwards (a loaded machine fires timers late) and exact downwards (never early).
"""

import json
import logging
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.server.config import SPARE_FILES, open_files_for
from tests.servers import running_api, server_env

HEADERS_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MIN_RATE = 1024  # bytes per second
HEADER_LIMIT = 16 * 1024  # the default
CONNECTIONS = 4
HANG_BOUND = 20.0  # far past every timeout here: only a server that never drops fails it
EARLY_SLACK = 0.1  # the client starts its clock before the server accepts, never after


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def strict(database_url: str, logs: Path) -> Iterator[str]:
    env = server_env(
        database_url,
        REQUEST_HEADERS_TIMEOUT_SECONDS=str(HEADERS_TIMEOUT),
        REQUEST_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
        REQUEST_BODY_MIN_BYTES_PER_SECOND=str(MIN_RATE),
        LOG_LEVEL="INFO",
    )
    with running_api(env, logs / "strict.log") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def crowded(database_url: str, logs: Path) -> Iterator[str]:
    env = server_env(database_url, MAX_CONNECTIONS_PER_WORKER=str(CONNECTIONS))
    with running_api(env, logs / "crowded.log") as base_url:
        yield base_url


def address(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").split(":")
    return host, int(port)


def connect(base_url: str) -> socket.socket:
    sock = socket.create_connection(address(base_url), timeout=HANG_BOUND)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; a reset after its answer counts as closed."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def read_response(sock: socket.socket) -> bytes:
    """One complete response with a Content-Length body, leaving the connection open."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed inside the body"
        body += chunk
    return head + b"\r\n\r\n" + body


def trickle(sock: socket.socket, data: bytes, interval: float) -> tuple[float, bytes]:
    """Send `data` a byte every `interval` s until the server closes; (seconds, what it sent)."""
    started = time.monotonic()
    sock.settimeout(interval)
    received = b""
    position = 0
    while time.monotonic() - started < HANG_BOUND:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if position < len(data):
                sock.sendall(data[position : position + 1])
                position += 1
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return time.monotonic() - started, received


def get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_headers_sent_a_byte_at_a_time_are_dropped_with_408(strict: str, logs: Path) -> None:
    with connect(strict) as sock:
        sock.sendall(b"GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        elapsed, received = trickle(sock, b"a" * 1000, interval=0.25)
    assert HEADERS_TIMEOUT - EARLY_SLACK <= elapsed < HANG_BOUND
    assert status(received) == 408
    assert b"connection: close\r\n" in received.lower()
    assert b"x-content-type-options: nosniff\r\n" in received.lower()
    assert json.loads(received.partition(b"\r\n\r\n")[2]) == {
        "detail": "The request took too long to arrive"
    }
    assert "sent its request headers too slowly" in (logs / "strict.log").read_text()


def test_a_connection_that_sends_nothing_is_closed(strict: str) -> None:
    with connect(strict) as sock:
        started = time.monotonic()
        received = read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert received == b""
    assert HEADERS_TIMEOUT - EARLY_SLACK <= elapsed < HANG_BOUND


def test_a_body_sent_a_byte_at_a_time_is_dropped(strict: str, logs: Path) -> None:
    head = (
        "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with connect(strict) as sock:
        sock.sendall(head.encode())
        elapsed, received = trickle(sock, b" " * 1000, interval=0.25)
    # Two seconds, plus one for every MIN_RATE bytes sent (a handful here).
    assert BODY_TIMEOUT - EARLY_SLACK <= elapsed < HANG_BOUND
    assert received == b""
    log = (logs / "strict.log").read_text()
    assert "sent its request body too slowly" in log
    # The app was told the client left: that is not a server error.
    assert "unhandled" not in log
    assert "Exception in ASGI application" not in log


def test_a_slow_but_steady_upload_gets_the_time_it_needs(strict: str) -> None:
    credentials = json.dumps({"email": "nobody@example.com", "password": "wrong-password-1"})
    body = credentials.encode() + b" " * (8 * 1024)
    head = (
        "POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with connect(strict) as sock:
        sock.sendall(head.encode())
        started = time.monotonic()
        # 512 bytes every 0.25 s: four times the minimum rate, twice the body timeout in all.
        for offset in range(0, len(body), 512):
            sock.sendall(body[offset : offset + 512])
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        response = read_response(sock)
    assert elapsed > BODY_TIMEOUT
    # Read whole, then answered: an unknown account.
    assert status(response) == 401, response


def test_headers_just_under_the_limit_are_served(strict: str) -> None:
    with connect(strict) as sock:
        sock.sendall(get("/api/health/live", "X-Padding: " + "a" * (HEADER_LIMIT - 1024)))
        assert status(read_response(sock)) == 200


@pytest.mark.parametrize(
    "headers",
    [
        ["X-Big: " + "a" * (HEADER_LIMIT + 1)],
        [f"X-Many-{n}: value" for n in range(2000)],
        ["X-Huge: " + "a" * (1024 * 1024)],
    ],
    ids=["one-long-header", "many-headers", "one-megabyte"],
)
def test_oversized_headers_are_refused_with_431(strict: str, headers: list[str]) -> None:
    with connect(strict) as sock:
        try:
            sock.sendall(get("/api/health/live", *headers))
        except (BrokenPipeError, ConnectionResetError):
            return  # closed while the headers were still coming: refused as well
        received = read_until_closed(sock)
    assert received == b"" or status(received) == 431, received[:200]


def test_a_header_line_that_never_ends_is_refused(strict: str) -> None:
    with connect(strict) as sock:
        sock.sendall(b"GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        sent = 0
        try:
            while sent < 4 * HEADER_LIMIT:
                sock.sendall(b"a" * 1024)
                sent += 1024
        except (BrokenPipeError, ConnectionResetError):
            return
        started = time.monotonic()
        received = read_until_closed(sock)
    assert status(received) == 431
    # Refused for its size, not for taking too long.
    assert time.monotonic() - started < HEADERS_TIMEOUT


def test_an_upgrade_request_is_served_as_plain_http(strict: str) -> None:
    # No WebSocket: an upgraded connection would leave the server's bounds.
    upgrade = get(
        "/api/health/live",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    )
    with connect(strict) as sock:
        sock.sendall(upgrade)
        assert status(read_response(sock)) == 200


def probe(base_url: str) -> int | None:
    """The status a new connection's GET gets; None when the connection is closed unanswered."""
    with connect(base_url) as sock:
        try:
            sock.sendall(get("/api/health/live", "Connection: close"))
        except (BrokenPipeError, ConnectionResetError):
            return None
        received = read_until_closed(sock)
    return status(received) if received else None


def test_connections_past_the_limit_are_refused_until_one_closes(crowded: str) -> None:
    assert probe(crowded) == 200
    # Requests begun and not finished hold their connections (the headers timeout is 30 s).
    held = [connect(crowded) for _ in range(CONNECTIONS)]
    try:
        for sock in held:
            sock.sendall(b"GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # One more is answered as soon as it is accepted, before it sends anything.
        with connect(crowded) as sock:
            refused = read_until_closed(sock)
        assert status(refused) == 503
        assert b"retry-after: 1\r\n" in refused.lower()
        assert b"connection: close\r\n" in refused.lower()
        assert b"x-frame-options: deny\r\n" in refused.lower()
        assert json.loads(refused.partition(b"\r\n\r\n")[2])["detail"]
        held.pop().close()
        deadline = time.monotonic() + HANG_BOUND
        while probe(crowded) != 200:
            assert time.monotonic() < deadline, "the freed connection was never given out"
        # The connections held all along are still served.
        held[0].sendall(b"\r\n")
        assert status(read_response(held[0])) == 200
    finally:
        for sock in held:
            sock.close()


def test_a_500_leaves_its_keep_alive_connection_usable(strict: str) -> None:
    with httpx.Client(base_url=strict, timeout=HANG_BOUND) as http:
        failed = http.get("/api/sentry/test-error")
        assert failed.status_code == 500
        assert failed.json()["detail"] == "Internal server error"
        first = failed.extensions["network_stream"].get_extra_info("client_addr")
        # Before the fix: ReadError, the connection was closed behind the complete 500.
        after = http.get("/api/health/live")
        assert after.status_code == 200
        assert after.extensions["network_stream"].get_extra_info("client_addr") == first
    assert "connection" not in failed.headers


def test_the_open_files_limit_is_raised_to_fit_the_connections(
    caplog: pytest.LogCaptureFixture,
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    try:
        if soft != unlimited and (hard == unlimited or hard >= soft + 2 * SPARE_FILES):
            # Connections the soft limit has no room for: it is raised to fit them.
            assert open_files_for(soft) == soft
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft + SPARE_FILES
        if hard != unlimited:
            # More than the hard limit fits: the bound is lowered, and a warning says so.
            with caplog.at_level(logging.WARNING, logger="app.server"):
                assert open_files_for(hard) == hard - SPARE_FILES
            assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
            assert f"allows {hard - SPARE_FILES} connections per worker, not {hard}" in caplog.text
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
