"""Speed benchmark: QuickVendor's hot paths next to a bare Starlette + asyncpg app, same data.

Seeds its own PostgreSQL database (20 vendors x 50 products), starts the real server as
production runs it (`python -m app.serve`: uvicorn, uvloop, httptools with the bounds on clients,
ENVIRONMENT=production, JSON logs) and the bare app from bench/baseline/ under plain uvicorn,
pins both to the server cores and wrk to the load cores, and prints one line per endpoint and run
(requests/s, p50, p99, errors, ratio to the bare storefront), then a Markdown table. Run it
through bench/speed.sh.
"""

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy import make_url

from app.security.passwords import PasswordHasher
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "wrk" / "report.lua"
APP_PORT, BASELINE_PORT, SINK_PORT = 18710, 18711, 18712
# The Sentry comparison's processes: off on 18720, 18721, ..., on on 18730, 18731, ...
SENTRY_OFF_PORT, SENTRY_ON_PORT = 18720, 18730
SINK_DSN = f"http://public@127.0.0.1:{SINK_PORT}/1"
VENDORS, PRODUCTS = 20, 50
PASSWORD = "bench-password-42"
EMAIL = "vendor01@bench.example"
# The rate limits (issue 6's settings, named in .env.example) raised rather than switched off,
# so their cost is measured but they never refuse the benchmark; unknown names are ignored.
GENEROUS_LIMITS = {
    "LOGIN_IP_LIMIT": "100000000",
    "LOGIN_ACCOUNT_LIMIT": "100000000",
    "REGISTER_IP_LIMIT": "100000000",
    "ORDER_RATE_LIMIT_PER_CLIENT": "100000000",
    "ORDER_RATE_LIMIT_PER_STORE_CLIENT": "100000000",
}


@dataclass
class Result:
    label: str
    endpoint: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    refused: int = 0
    cpu_ms: float | None = None
    ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        cpu = f"  cpu={self.cpu_ms:.3f}ms/req" if self.cpu_ms is not None else ""
        refused = f"  refused(503)={self.refused}" if self.refused else ""
        return (
            f"{self.label:<12} c={self.connections:<4} {self.endpoint:<26}"
            f" rps={self.rps:>8.1f}  p50={self.p50_ms:>7.2f}ms  p99={self.p99_ms:>7.2f}ms"
            f"  max={self.max_ms:>8.1f}ms  errors={self.errors}{refused}{cpu}"
        )


@dataclass
class Comparison:
    """`subject` measured against `reference` in alternating runs; `target` is the issue's
    lowest acceptable requests/s ratio (None: reported only)."""

    subject: str
    url: str
    reference: str
    reference_url: str
    target: float | None
    env: dict[str, str] = field(default_factory=dict)
    reference_env: dict[str, str] | None = None


@dataclass
class Verdict:
    """The median of alternating pairs: one line of the summary."""

    name: str
    connections: int
    rps_ratio: float
    p99_ratio: float
    errors: int
    target: float | None
    pairs: list[tuple[Result, Result]]
    p99_limit: float | None = 2.0

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        p99_ok = self.p99_limit is None or self.p99_ratio < self.p99_limit
        return self.rps_ratio >= self.target and p99_ok and self.errors == 0

    def line(self) -> str:
        verdict = {True: "MET", False: "MISSED", None: ""}[self.met]
        target = f" (target >= {self.target:.2f}x" if self.target is not None else ""
        if target:
            limit = f", p99 < {self.p99_limit:.1f}x" if self.p99_limit is not None else ""
            target += f"{limit}, 0 errors)"
        each = ", ".join(f"{subject.rps / reference.rps:.2f}" for reference, subject in self.pairs)
        return (
            f"{self.name:<52} c={self.connections:<4} req/s ratio {self.rps_ratio:5.2f}x"
            f"  p99 ratio {self.p99_ratio:5.2f}x  errors {self.errors}  pairs [{each}]"
            f"{target} {verdict}"
        )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def process_group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in the group (the server and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        # After the command: state, ppid, pgrp (index 2), ... utime (11), stime (12).
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def admin_dsn(dsn: str, database: str) -> str:
    return make_url(dsn).set(drivername="postgresql", database=database).render_as_string(False)


async def seed(dsn: str) -> dict[str, str]:
    """A fresh database with VENDORS x PRODUCTS; returns a few ids the endpoints need."""
    name = make_url(dsn).database
    admin = await asyncpg.connect(admin_dsn(dsn, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = dsn
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.upgrade, config, "head")
    # The production Argon2 cost, so the login figures are the real ones.
    hashed = PasswordHasher(Settings(_env_file=None)).hash_sync(PASSWORD)  # type: ignore[call-arg]
    now = datetime.now(UTC)
    users, products = [], []
    for v in range(1, VENDORS + 1):
        user_id = f"user_{secrets.token_hex(16)}"
        users.append(
            (user_id, f"vendor{v:02d}@bench.example", hashed, f"+23480{v:08d}",
             f"Vendor {v} Fabrics", f"vendor-{v:02d}", None, now)
        )  # fmt: skip
        for p in range(PRODUCTS):
            products.append(
                (f"product_{secrets.token_hex(16)}", f"Ankara dress {p}",
                 f"Hand-made ankara dress number {p}, cotton, sizes S to XL.",
                 Decimal(15000 + p * 250) + (Decimal("0.50") if p % 3 else 0),
                 f"https://cdn.example.com/p/{v}/{p}/1.jpg", f"https://cdn.example.com/p/{v}/{p}/2.jpg",
                 True, p, user_id, now - timedelta(minutes=p))
            )  # fmt: skip
    conn = await asyncpg.connect(admin_dsn(dsn, name))
    try:
        await conn.executemany(
            "INSERT INTO users (id, email, hashed_password, whatsapp_number, store_name,"
            " store_slug, banner_url, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
            users,
        )
        await conn.executemany(
            "INSERT INTO products (id, name, description, price, image_url_1, image_url_2,"
            " is_available, click_count, user_id, created_at)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
            products,
        )
        await conn.execute("ANALYZE")
        product_id = await conn.fetchval(
            "SELECT p.id FROM products p JOIN users u ON u.id = p.user_id"
            " WHERE u.store_slug = 'vendor-01' ORDER BY p.created_at LIMIT 1"
        )
    finally:
        await conn.close()
    return {"product_id": product_id}


SINK_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class Sink(asyncio.Protocol):
    """Stands in for Sentry: reads each envelope and answers 200, keeping the connection open as
    Sentry does; on asyncio, so it keeps up with the server while sharing the load's core."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(SINK_ANSWER)


def serve_sink(port: int) -> None:
    """The sink as a process of its own (its work is not the app's)."""

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(serve())


def plain_uvicorn(target: str, port: int) -> list[str]:
    """uvicorn as the bare app runs (and as QuickVendor ran before app/server/)."""
    return [
        sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--no-proxy-headers",
        "--timeout-graceful-shutdown", "2",
    ]  # fmt: skip


def production_server(port: int) -> tuple[list[str], dict[str, str]]:
    """The command and settings of the server production runs, on `port`."""
    env = {"HOST": "127.0.0.1", "PORT": str(port), "GRACEFUL_SHUTDOWN_SECONDS": "2"}
    return [sys.executable, "-m", "app.serve"], env


def production_env(dsn: str) -> dict[str, str]:
    """Production settings on the benchmark's database: one worker, JSON logs, no Sentry."""
    return {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": dsn,
        "CORS_ORIGINS": "https://bench.example",
        "SHARE_BASE_URL": "https://bench.example",
        "LOG_LEVEL": "INFO",
        "SENTRY_DSN": "",
        "WEB_CONCURRENCY": "1",
    }


class Server:
    """A server process pinned to `cpus`; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(
        self,
        command: list[str],
        port: int,
        cpus: str,
        env: dict[str, str],
        log: Path,
        cwd: Path = ROOT,
    ) -> None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"port {port} is taken: is another benchmark running?")
        self.url = f"http://127.0.0.1:{port}"
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            ["taskset", "-c", cpus, *command],
            cwd=cwd, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, path: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}; see {self.log.name}"
                )
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status < 500:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def wrk(
    url: str, connections: int, seconds: int, cpus: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    completed = subprocess.run(
        ["taskset", "-c", cpus, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
         "--timeout", "10s", "-s", str(LUA), url],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = [text for text in completed.stdout.splitlines() if text.startswith("{")][-1]
    stats: dict[str, Any] = json.loads(line)
    return stats


def to_result(label: str, endpoint: str, connections: int, stats: dict[str, Any]) -> Result:
    errors = sum(stats[key] for key in ("connect", "read", "write", "status", "timeout"))
    return Result(
        label=label,
        endpoint=endpoint,
        connections=connections,
        rps=stats["requests"] / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        max_ms=stats["max_us"] / 1000,
        errors=errors,
        refused=stats.get("refused", 0),
    )


def get_bytes(url: str, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        body: bytes = response.read()
        return body


def login_token(base: str) -> str:
    request = urllib.request.Request(
        base + "/api/auth/login",
        data=json.dumps({"email": EMAIL, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        token: str = json.loads(response.read())["access_token"]
        return token


STORE = "/api/store/vendor-01"
PAGE = "/s/vendor-01"


def comparisons(app: str, bare: str, ids: dict[str, str], token: str) -> list[Comparison]:
    """What the issue compares, each endpoint with its reference and target ratio."""
    auth = {"BENCH_TOKEN": token}
    return [
        Comparison("storefront / baseline", app + STORE, "baseline", bare + STORE, 0.8),
        Comparison(
            "own product list / baseline",
            app + "/api/products",
            "baseline",
            bare + "/api/products",
            0.8,
            env=auth,
            reference_env=auth,
        ),
        Comparison(
            "store product / baseline storefront",
            f"{app}{STORE}/products/{ids['product_id']}",
            "baseline",
            bare + STORE,
            None,
        ),
        # The store's HTML page against its own JSON storefront (the issue: at least 0.7x).
        Comparison(
            "store page (HTML) / storefront JSON", app + PAGE, "storefront", app + STORE, 0.7
        ),
    ]


class Bench:
    def __init__(self, args: argparse.Namespace, ids: dict[str, str]) -> None:
        self.args = args
        self.ids = ids
        self.results: list[Result] = []
        self.verdicts: list[Verdict] = []
        self.notes: list[str] = []
        self.logs = Path(args.logs)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.app_env = {**production_env(args.dsn), **GENEROUS_LIMITS}
        self.servers: dict[str, Server] = {}

    def record(self, result: Result) -> Result:
        self.results.append(result)
        print(result.line(), flush=True)
        return result

    def measure(
        self,
        label: str,
        endpoint: str,
        url: str,
        connections: int,
        env: dict[str, str] | None = None,
    ) -> Result:
        """One wrk run; the CPU time the server spent on it, per request, from /proc."""
        server = next((s for s in self.servers.values() if url.startswith(s.url)), None)
        before = process_group_cpu_seconds(server.proc.pid) if server else None
        stats = wrk(url, connections, self.args.duration, self.args.load_cpus, env)
        result = to_result(label, endpoint, connections, stats)
        if server is not None and before is not None and stats["requests"]:
            spent = process_group_cpu_seconds(server.proc.pid) - before
            result.cpu_ms = spent / stats["requests"] * 1000
        return self.record(result)

    def compare(
        self,
        comparisons: list[Comparison],
        connections: int,
        label: str,
        pairs_wanted: int | None = None,
    ) -> Verdict:
        """Alternating reference and subject runs (the order swapped every pair), medians of
        `pairs_wanted` pairs (`--pairs` unless given); pairs N and N + 1 (N even) measure
        comparisons[N // 2 % len(comparisons)] (the same servers, several processes), one in
        each order."""
        pairs = []
        for number in range(self.args.pairs if pairs_wanted is None else pairs_wanted):
            comparison = comparisons[number // 2 % len(comparisons)]
            runs = [
                (comparison.reference, comparison.reference_url, comparison.reference_env),
                (comparison.subject, comparison.url, comparison.env),
            ]
            if number % 2:
                runs.reverse()
            measured = {
                name: self.measure(label, name.split(" / ")[0], url, connections, env)
                for name, url, env in runs
            }
            pairs.append((measured[comparison.reference], measured[comparison.subject]))
        verdict = Verdict(
            name=f"{label}: {comparisons[0].subject}",
            connections=connections,
            rps_ratio=median([subject.rps / ref.rps for ref, subject in pairs]),
            p99_ratio=median([subject.p99_ms / max(ref.p99_ms, 1e-3) for ref, subject in pairs]),
            errors=sum(subject.errors for _, subject in pairs),
            target=comparisons[0].target,
            pairs=pairs,
        )
        self.verdicts.append(verdict)
        print(verdict.line(), flush=True)
        return verdict

    def start(self, name: str, server: Server, ready: str) -> Server:
        server.wait_ready(ready)
        self.servers[name] = server
        return server

    def stop_all(self) -> None:
        for server in self.servers.values():
            server.__exit__()
        self.servers.clear()

    def app(self, name: str, port: int, workers: int = 1, **env: str) -> Server:
        command, listen = production_server(port)
        merged = {**self.app_env, "WEB_CONCURRENCY": str(workers), **listen, **env}
        log = self.logs / f"{name.replace(' ', '-')}.log"
        server = Server(command, port, self.args.server_cpus, merged, log)
        return self.start(name, server, "/api/health/live")

    def baseline(self) -> Server:
        env = {
            "BASELINE_DSN": admin_dsn(self.args.dsn, make_url(self.args.dsn).database or ""),
            "BASELINE_SECRET_KEY": self.app_env["SECRET_KEY"],
        }
        command = plain_uvicorn("bench.baseline.app:app", BASELINE_PORT)
        server = Server(
            command, BASELINE_PORT, self.args.server_cpus, env, self.logs / "baseline.log"
        )
        return self.start("baseline", server, STORE)

    def ratios(self) -> None:
        """Each hot path against the plain baseline, then the stall check up to 256."""
        try:
            bare = self.baseline()
            app = self.app("quickvendor", APP_PORT, self.args.workers)
            token = login_token(app.url)
            headers = {"Authorization": f"Bearer {token}"}
            if get_bytes(app.url + STORE) != get_bytes(bare.url + STORE):
                raise SystemExit("the baseline and QuickVendor disagree on the storefront JSON")
            if get_bytes(app.url + "/api/products", headers) != get_bytes(
                bare.url + "/api/products", headers
            ):
                raise SystemExit("the baseline and QuickVendor disagree on the product list")
            label = f"{self.args.workers} worker" + ("s" if self.args.workers > 1 else "")
            found = comparisons(app.url, bare.url, self.ids, token)
            for comparison in found:  # warm-up
                wrk(comparison.url, 8, 1, self.args.load_cpus, comparison.env)
                wrk(comparison.reference_url, 8, 1, self.args.load_cpus, comparison.reference_env)
            for connections in self.args.connections:
                for comparison in found:
                    self.compare([comparison], connections, label)
            for endpoint, path in (
                ("health (live)", "/api/health/live"),
                ("health (db)", "/api/health"),
            ):
                self.measure(label, endpoint, app.url + path, 8)
            body = json.dumps({"email": EMAIL, "password": PASSWORD})
            self.measure(label, "login", app.url + "/api/auth/login", 8, {"BENCH_BODY": body})
            order = {"items": [{"product_id": self.ids["product_id"], "quantity": 1}]}
            orders = app.url + STORE + "/orders"
            self.measure(label, "order", orders, 8, {"BENCH_BODY": json.dumps(order)})
            self.stall_check(app, bare)
        finally:
            self.stop_all()

    def stall_check(self, app: Server, bare: Server) -> None:
        """No stall: every request answered (no timeout, no error) at each concurrency."""
        stalled = []
        for connections in self.args.stall:
            reference = self.measure("stall", "baseline", bare.url + STORE, connections)
            ours = self.measure("stall", "storefront", app.url + STORE, connections)
            if ours.errors or ours.max_ms >= 10_000:
                stalled.append(connections)
            self.notes.append(
                f"stall check c={connections}: storefront {ours.rps:.0f} req/s"
                f" ({ours.rps / reference.rps:.2f}x baseline), p99 {ours.p99_ms:.0f} ms"
                f" ({ours.p99_ms / max(reference.p99_ms, 1e-3):.2f}x), max {ours.max_ms:.0f} ms,"
                f" errors {ours.errors}"
            )
        verdict = "MISSED: stalled at c=" + ",".join(map(str, stalled)) if stalled else "MET"
        self.notes.append(f"no stall up to c={max(self.args.stall, default=0)}: {verdict}")

    def login_storm(self) -> None:
        """/api/health/live and the storefront while 16 connections log in, against idle."""
        body = json.dumps({"email": EMAIL, "password": PASSWORD})
        try:
            app = self.app("storm", APP_PORT)
            live, store = app.url + "/api/health/live", app.url + STORE
            wrk(store, 8, 1, self.args.load_cpus)
            live_ratios, store_ratios, logins = [], [], []
            for _ in range(self.args.pairs):
                idle = self.measure("storm", "live, idle", live, 4)
                store_idle = self.measure("storm", "storefront, idle", store, 8)
                storm = subprocess.Popen(
                    ["taskset", "-c", self.args.load_cpus, "wrk", "-t1", "-c16",
                     f"-d{2 * self.args.duration + 2}s", "--timeout", "10s", "-s", str(LUA),
                     app.url + "/api/auth/login"],
                    env={**os.environ, "BENCH_BODY": body, "BENCH_COUNT_REFUSED": "1"},
                    stdout=subprocess.PIPE, text=True,
                )  # fmt: skip
                time.sleep(1)
                during = self.measure("storm", "live, login storm", live, 4)
                store_during = self.measure("storm", "storefront, login storm", store, 8)
                out, _ = storm.communicate()
                stats = json.loads(out.splitlines()[-1])
                logins.append(self.record(to_result("storm", "logins (16 conns)", 16, stats)))
                live_ratios.append(during.p99_ms / max(idle.p99_ms, 1e-3))
                store_ratios.append(store_during.rps / store_idle.rps)
            live_ratio, store_ratio = median(live_ratios), median(store_ratios)
            answered = sum(r.rps for r in logins) / len(logins)
            refused = sum(r.refused for r in logins)
            requests = sum(r.rps * (2 * self.args.duration + 2) for r in logins)
            self.notes.append(
                f"login storm: /api/health/live p99 storm/idle {live_ratio:.2f}x"
                f" (target < 2.00x) {'MET' if live_ratio < 2 else 'MISSED'};"
                f" pairs {[round(r, 2) for r in live_ratios]}"
            )
            self.notes.append(
                f"login storm: storefront req/s storm/idle {store_ratio:.2f}x"
                f" (target >= 0.80x) {'MET' if store_ratio >= 0.8 else 'MISSED'};"
                f" pairs {[round(r, 2) for r in store_ratios]}"
            )
            self.notes.append(
                f"login storm: {answered:.1f} login answers/s; refused with 503:"
                f" {refused} of ~{requests:.0f} ({refused / max(requests, 1):.1%})"
            )
        finally:
            self.stop_all()

    def sentry(self) -> None:
        """The storefront with Sentry off and on (a local sink standing in), alternating."""
        # A process of its own on the load's cores: Sentry's work is not the server's.
        sink = subprocess.Popen(
            ["taskset", "-c", self.args.load_cpus, sys.executable, "-c",
             f"import bench.speed as s; s.serve_sink({SINK_PORT})"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        try:
            # Processes of the same code and settings differ by a few percent (their memory
            # layouts, their hash seeds): the pairs go round several of each, two pairs (one of
            # each order) a process, as many processes as the pairs reach.
            name = "storefront, Sentry on / off"
            pairs = self.args.sentry_pairs
            comparisons = []
            for number in range(min(self.args.sentry_processes, (pairs + 1) // 2)):
                off = self.app(f"sentry off {number}", SENTRY_OFF_PORT + number)
                on = self.app(f"sentry on {number}", SENTRY_ON_PORT + number, SENTRY_DSN=SINK_DSN)
                wrk(off.url + STORE, 8, 1, self.args.load_cpus)
                wrk(on.url + STORE, 8, 1, self.args.load_cpus)
                comparisons.append(
                    Comparison(name, on.url + STORE, "sentry off", off.url + STORE, 0.95)
                )
            for connections in self.args.sentry_connections:
                verdict = self.compare(comparisons, connections, "sentry", pairs)
                cpu_off = median([r.cpu_ms or 0 for r, _ in verdict.pairs])
                cpu_on = median([r.cpu_ms or 0 for _, r in verdict.pairs])
                self.notes.append(
                    f"sentry c={connections}: server CPU per storefront request off"
                    f" {cpu_off:.3f} ms, on {cpu_on:.3f} ms ({cpu_off / max(cpu_on, 1e-9):.3f}x)"
                )
        finally:
            self.stop_all()
            sink.terminate()
            sink.wait()

    def summary(self) -> str:
        lines = ["", "== summary (medians of alternating pairs) =="]
        lines += [verdict.line() for verdict in self.verdicts]
        lines += self.notes
        return "\n".join(lines)

    def markdown(self) -> str:
        rows = [
            "| run | conns | endpoint | req/s | p50 ms | p99 ms | errors | CPU ms/req |",
            "|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for r in self.results:
            cpu = f"{r.cpu_ms:.3f}" if r.cpu_ms is not None else ""
            rows.append(
                f"| {r.label} | {r.connections} | {r.endpoint} | {r.rps:.0f} | {r.p50_ms:.2f}"
                f" | {r.p99_ms:.2f} | {r.errors} | {cpu} |"
            )
        rows += [
            "",
            "| ratio | conns | req/s | p99 | errors | target |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for v in self.verdicts:
            met = {True: "met", False: "missed", None: ""}[v.met]
            target = f">= {v.target:.2f}x {met}" if v.target is not None else ""
            rows.append(
                f"| {v.name} | {v.connections} | {v.rps_ratio:.2f}x | {v.p99_ratio:.2f}x"
                f" | {v.errors} | {target} |"
            )
        return "\n".join(rows)


def bench_arguments(description: str | None, database: str, logs: str) -> argparse.ArgumentParser:
    """The options every server benchmark takes: its database, timing, cores and logs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--dsn",
        default=os.environ.get(
            "BENCH_DATABASE_URL", f"postgresql://postgres@127.0.0.1:5432/{database}"
        ),
        help="database to (re)create and seed",
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--server-cpus", default=os.environ.get("SERVER_CPUS", "0"))
    parser.add_argument("--load-cpus", default=os.environ.get("LOAD_CPUS", "1"))
    parser.add_argument("--logs", default=logs)
    return parser


def parse_bench_arguments(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    args.dsn = make_url(args.dsn).set(drivername="postgresql+asyncpg").render_as_string(False)
    return args


def main() -> None:
    parser = bench_arguments(__doc__, "qv_bench", "/tmp/qv-bench-logs")
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--pairs", type=int, default=3, help="alternating pairs per ratio")
    parser.add_argument("--workers", type=int, default=1, help="server workers for the ratios")
    parser.add_argument(
        "--stall", type=int, nargs="*", default=[64, 128, 256], help="stall-check conns"
    )
    parser.add_argument("--sentry-connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument(
        "--sentry-processes", type=int, default=3, help="server processes per side (at most 5)"
    )
    # The target's margin (5%) is about the spread of one pair of 8-second runs on a quiet
    # two-core machine (0.92-0.99 in one run): the median of five could land either side of it.
    # Twelve go round three processes a side twice, each process in both orders.
    parser.add_argument(
        "--sentry-pairs", type=int, default=12, help="alternating pairs for the Sentry ratio"
    )
    parser.add_argument(
        "--only", nargs="*", default=["ratios", "storm", "sentry"], help="parts to run"
    )
    parser.add_argument("--markdown", help="also write the tables to this file")
    args = parse_bench_arguments(parser)
    if not 1 <= args.sentry_processes <= 5:
        parser.error("--sentry-processes: from 1 to 5")
    if args.sentry_pairs < 3:
        parser.error("--sentry-pairs: at least 3")

    ids = asyncio.run(seed(args.dsn))
    bench = Bench(args, ids)
    print(
        f"seeded {VENDORS} vendors x {PRODUCTS} products; {args.duration}s per run,"
        f" {args.pairs} alternating pairs per ratio ({args.sentry_pairs} for Sentry)"
    )
    if "ratios" in args.only:
        bench.ratios()
    if "storm" in args.only:
        bench.login_storm()
    if "sentry" in args.only:
        bench.sentry()
    print(bench.summary())
    table = bench.markdown()
    print()
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")


if __name__ == "__main__":
    main()
