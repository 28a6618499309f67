"""Real servers for tests that need them: the API as production runs it (`python -m app.serve`)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import FAST_HASHING, FRONTEND

ROOT = Path(__file__).resolve().parents[1]
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def free_port() -> int:
    """A port the kernel picked (bound to 0), so parallel runs never collide."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "FRONTEND_URL": FRONTEND,
        "CORS_ORIGINS": FRONTEND,
        "SENTRY_DSN": "",
        "REDIS_URL": "",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        **{key: str(value) for key, value in FAST_HASHING.items()},
    }
    env.update(overrides)
    return env


def wait_until_live(base_url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/api/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"server at {base_url} not live after {timeout}s")


@contextmanager
def running_api_process(
    env: dict[str, str], log_path: Path, *, workers: int = 1, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The server production runs (`python -m app.serve`); yields its base URL and the process
    (with one worker, the process that serves)."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    listen = {"HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    command = [sys.executable, "-m", "app.serve"]
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env={**env, **listen}, stdout=log, stderr=log
        )
    try:
        wait_until_live(base_url, process, timeout=60)
        yield base_url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_api(
    env: dict[str, str], log_path: Path, *, workers: int = 1, port: int | None = None
) -> Iterator[str]:
    """The server production runs (`python -m app.serve`); yields its base URL."""
    with running_api_process(env, log_path, workers=workers, port=port) as (base_url, _):
        yield base_url
