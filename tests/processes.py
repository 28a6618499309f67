"""Start the app's own processes (pre-start, server) as the Docker image does, and stop them."""

import asyncio
import gzip
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx

from tests.deploy_files import ROOT, blueprint_environment, image_env
from tests.migration_helpers import libpq_url

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def container_environment(database_url: str, **overrides: str) -> dict[str, str]:
    """The image's ENV plus what the Blueprint sets, and nothing from this machine.

    The image's PATH leads to its virtual environment; here that is the project's own.
    """
    env = image_env()
    env["PATH"] = f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin"
    # The image ships compiled bytecode (UV_COMPILE_BYTECODE, compileall); here the first
    # process writes it, or every start would compile SQLAlchemy and FastAPI from source again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(blueprint_environment())
    # Render hands out `postgres://` URLs; the app must take them as they are.
    env["DATABASE_URL"] = libpq_url(database_url).replace("postgresql://", "postgres://", 1)
    env["SENTRY_DSN"] = ""
    env.update(overrides)
    return env


@dataclass
class Processes:
    """Processes started by a test, each in its own session, all stopped afterwards."""

    log_dir: Path
    started: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, command: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.log_dir / f"process-{len(self.started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                list(command),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((process, log))
        return process

    def output(self, process: subprocess.Popen[bytes]) -> str:
        [log] = [log for started, log in self.started if started is process]
        return log.read_text(errors="replace")

    async def wait(self, process: subprocess.Popen[bytes], limit: float = 60) -> int:
        return await anyio.to_thread.run_sync(lambda: process.wait(timeout=limit))

    def stop_all(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process, _ in self.started:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def managed(log_dir: Path) -> Iterator[Processes]:
    processes = Processes(log_dir)
    try:
        yield processes
    finally:
        processes.stop_all()


async def wait_until_live(
    processes: Processes, process: subprocess.Popen[bytes], port: int
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"server exited early:\n{processes.output(process)}")
            try:
                response = await http.get(f"http://127.0.0.1:{port}/api/health/live")
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await anyio.sleep(0.2)
    raise AssertionError(f"server not live in {START_TIMEOUT} s:\n{processes.output(process)}")


def worker_count(pid: int) -> int:
    """uvicorn's worker processes: children of the server started through multiprocessing."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in status and b"spawn_main" in cmdline:
            count += 1
    return count


@dataclass
class FakeSentry:
    """An HTTP endpoint standing in for Sentry's ingest: it records each envelope it is sent."""

    port: int = 0
    envelopes: list[bytes] = field(default_factory=list)
    # A slow ingest: envelopes captured meanwhile wait in the SDK's queue.
    answer_after: float = 1.0

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.port}/1"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ": " in line
        )
        lowered = {key.lower(): value for key, value in headers.items()}
        body = await reader.readexactly(int(lowered.get("content-length", "0")))
        if lowered.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        self.envelopes.append(body)
        await asyncio.sleep(self.answer_after)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        await writer.drain()
        writer.close()
