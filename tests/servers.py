"""Real servers for tests that need them: the API as production runs it (`python -m app.serve`)."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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


@dataclass
class ApiServer:
    """The server production runs (`python -m app.serve`) on a fixed port, so it can be stopped,
    gracefully or by a crash, and started again at the same address."""

    env: dict[str, str]
    log_path: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listen = {"HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": str(self.workers)}
        command = [sys.executable, "-m", "app.serve"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                command,
                cwd=ROOT,
                env={**self.env, **listen},
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_until_live(self.base_url, self.process, timeout=60)

    def stop(self, *, crash: bool = False) -> None:
        """SIGTERM (uvicorn's graceful shutdown, then the app's lifespan), or SIGKILL to every
        process of the server at once (a crash: nothing runs after it)."""
        process, self.process = self.process, None
        if process is None:
            return
        if crash:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def running_api(
    env: dict[str, str], log_path: Path, *, workers: int = 1, port: int | None = None
) -> Iterator[str]:
    """The server production runs (`python -m app.serve`); yields its base URL."""
    server = ApiServer(env, log_path, workers=workers, port=port or free_port())
    try:
        server.start()
        yield server.base_url
    finally:
        server.stop()
