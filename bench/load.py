"""Mixed-workload load and soak test against the real server on PostgreSQL.

Starts the server production runs (`python -m app.serve`) with several workers on a throw-away
PostgreSQL database (or drives a server you already run, with --base-url), seeds vendors and
products, then for --duration seconds (5 minutes by default) runs storefront views, own product
lists, logins, product edits and clicks, and, once the server has them, store pages and orders,
from --concurrency clients. Prints requests per second, latency percentiles per kind, the error
count, and each worker's memory (RSS) after the first minute and at the end: the speed issue's
target is the end within 10% of the first minute. Exits 1 if any request failed.

    uv run python bench/load.py --duration 300 --workers 2 --concurrency 16
"""

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-123"
# The workload's mix (weights): storefront views dominate, as on a shared link. The optional
# kinds join when the server answers them (`probe`): the store pages and orders issues' endpoints.
MIX = {
    "storefront": 50,
    "store page": 15,
    "own list": 10,
    "click": 8,
    "edit": 8,
    "order": 4,
    "login": 5,
}
OPTIONAL = ("store page", "order")
GROWTH_TARGET = 0.10


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)

    def record(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        self.latencies[kind].append(seconds)
        if not ok:
            self.errors[kind] += 1
            if len(self.samples) < 10:
                self.samples.append(f"{kind}: {detail}")


@dataclass
class Vendor:
    email: str
    slug: str
    headers: dict[str, str]
    product_ids: list[str]


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children[int(fields[1])].append(int(entry.name))
    return children


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def worker_rss_kib(pid: int) -> dict[int, int]:
    """Resident memory in KiB of each process serving requests: the master's children that
    serve (several workers), else the master itself (one worker runs in it)."""
    children = _children()
    workers = [child for child in children.get(pid, []) if _rss(child) > 20 * 1024]
    return {worker: _rss(worker) for worker in workers or [pid]}


async def admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    name = f"qv_bench_{uuid.uuid4().hex[:10]}"
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        subprocess.run(
            [sys.executable, "-m", "alembic", "upgrade", "head"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        yield url
    finally:
        asyncio.run(admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def server(database_url: str, args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "LOG_LEVEL": "WARNING",
        "SENTRY_DSN": args.sentry_dsn,
        "REDIS_URL": args.redis_url or "",
        # Limits stay on (their cost is part of the figures) but high enough for one client
        # address that logs in and registers many times.
        "LOGIN_IP_LIMIT": "1000000",
        "LOGIN_ACCOUNT_LIMIT": "1000000",
        "REGISTER_IP_LIMIT": "1000000",
        "ORDER_RATE_LIMIT_PER_CLIENT": "1000000",
        "ORDER_RATE_LIMIT_PER_STORE_CLIENT": "1000000",
        "DB_POOL_SIZE": str(args.pool_size),
        # As in production: without it glibc gives each hashing thread its own arena and keeps
        # the freed Argon2 buffers, which reads as steady memory growth (see README).
        "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"),
    }
    # The server production runs, with its bounds on clients.
    env |= {"HOST": "127.0.0.1", "PORT": str(args.port), "WEB_CONCURRENCY": str(args.workers)}
    process = subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=ROOT, env=env)
    base_url = f"http://127.0.0.1:{args.port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        yield base_url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def seed(client: httpx.AsyncClient, vendors: int, products: int) -> list[Vendor]:
    seeded = []
    run = uuid.uuid4().hex[:6]
    for index in range(vendors):
        email = f"bench{run}{index}@example.com"
        body = {"email": email, "password": PASSWORD, "whatsapp_number": "08012345678"}
        registered = await client.post("/api/users/register", json=body)
        registered.raise_for_status()
        token = (
            await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        ).json()["access_token"]
        client.cookies.clear()
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        for number in range(products):
            created = await client.post(
                "/api/products",
                data={"name": f"Product {number}", "price": "1500", "description": "Ankara"},
                headers=headers,
            )
            created.raise_for_status()
            ids.append(created.json()["id"])
        seeded.append(Vendor(email, registered.json()["store_slug"], headers, ids))
    return seeded


async def probe(client: httpx.AsyncClient, vendor: Vendor) -> list[str]:
    """The optional kinds this server serves: a store page that answers 200, an orders endpoint
    that validates an empty order (422) rather than not existing (404/405)."""
    served = []
    if (await client.get(f"/s/{vendor.slug}")).status_code == 200:
        served.append("store page")
    empty = await client.post(f"/api/store/{vendor.slug}/orders", json={"items": []})
    if empty.status_code == 422:
        served.append("order")
    return served


async def one_request(client: httpx.AsyncClient, vendor: Vendor, kind: str) -> httpx.Response:
    if kind == "storefront":
        return await client.get(f"/api/store/{vendor.slug}")
    if kind == "store page":
        return await client.get(f"/s/{vendor.slug}")
    if kind == "own list":
        return await client.get("/api/products", headers=vendor.headers)
    if kind == "order":
        product = random.choice(vendor.product_ids)
        items = [{"product_id": product, "quantity": random.randint(1, 3)}]
        return await client.post(f"/api/store/{vendor.slug}/orders", json={"items": items})
    if kind == "click":
        product = random.choice(vendor.product_ids)
        return await client.post(f"/api/products/{product}/track-click")
    if kind == "edit":
        product = random.choice(vendor.product_ids)
        price = f"{random.randint(100, 99999)}.{random.randint(0, 99):02d}"
        return await client.put(
            f"/api/products/{product}", json={"price": price}, headers=vendor.headers
        )
    response = await client.post(
        "/api/auth/login", json={"email": vendor.email, "password": PASSWORD}
    )
    client.cookies.clear()
    return response


async def client_loop(
    base_url: str, vendors: list[Vendor], stop_at: float, stats: Stats, kinds: list[str]
) -> None:
    weights = [MIX[kind] for kind in kinds]
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while time.monotonic() < stop_at:
            kind = random.choices(kinds, weights)[0]
            started = time.perf_counter()
            try:
                response = await one_request(client, random.choice(vendors), kind)
                ok = response.status_code < 400
                detail = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                ok, detail = False, repr(exc)
            stats.record(kind, time.perf_counter() - started, ok, detail)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] * 1000


def memory_report(settled: dict[int, int], end: dict[int, int], after: float) -> None:
    """Each worker's RSS after the first minute and at the end, against the 10% target."""
    for pid, first in sorted(settled.items()):
        last = end.get(pid)
        if last is None:
            print(f"worker {pid}: {first / 1024:.1f} MiB after the first minute, gone at the end")
            continue
        growth = (last - first) / first
        verdict = "MET" if abs(growth) <= GROWTH_TARGET else "MISSED"
        print(
            f"worker {pid} RSS: {first / 1024:.1f} MiB after {after:.0f}s,"
            f" {last / 1024:.1f} MiB at the end ({growth:+.1%}; target within"
            f" {GROWTH_TARGET:.0%}) {verdict}"
        )


def report(stats: Stats, elapsed: float) -> int:
    everything = [value for values in stats.latencies.values() for value in values]
    errors = sum(stats.errors.values())
    print(f"\n{len(everything)} requests in {elapsed:.1f}s: {len(everything) / elapsed:.1f} req/s")
    print(
        f"{'kind':<11}{'count':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
    )
    for kind, values in [*sorted(stats.latencies.items()), ("all", everything)]:
        failed = errors if kind == "all" else stats.errors.get(kind, 0)
        print(
            f"{kind:<11}{len(values):>8}{percentile(values, 50):>9.1f}"
            f"{percentile(values, 90):>9.1f}{percentile(values, 99):>9.1f}"
            f"{max(values) * 1000:>9.1f}{failed:>8}"
        )
    print(f"mean latency {statistics.fmean(everything) * 1000:.1f} ms; errors: {errors}")
    for sample in stats.samples:
        print("  failed:", sample)
    return 1 if errors else 0


async def drive(base_url: str, server_pid: int | None, args: argparse.Namespace) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        vendors = await seed(client, args.vendors, args.products)
        served = await probe(client, vendors[0])
    kinds = [kind for kind in MIX if kind not in OPTIONAL or kind in served]
    print(f"workload: {', '.join(f'{kind} {MIX[kind]}' for kind in kinds)}")
    warm = Stats()
    await asyncio.gather(
        *(client_loop(base_url, vendors, time.monotonic() + 5, warm, kinds) for _ in range(4))
    )
    stats = Stats()
    started = time.monotonic()
    stop_at = started + args.duration
    load = asyncio.gather(
        *(client_loop(base_url, vendors, stop_at, stats, kinds) for _ in range(args.concurrency))
    )
    settled: dict[int, int] = {}
    if server_pid and args.duration > args.settled_after:
        await asyncio.sleep(args.settled_after)
        settled = worker_rss_kib(server_pid)
    await load
    elapsed = time.monotonic() - started
    failed = report(stats, elapsed)
    if server_pid:
        end = worker_rss_kib(server_pid)
        memory_report(settled or end, end, args.settled_after if settled else elapsed)
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of load")
    parser.add_argument(
        "--settled-after", type=float, default=60, help="first memory sample, seconds into load"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--vendors", type=int, default=10)
    parser.add_argument("--products", type=int, default=12, help="products per vendor")
    parser.add_argument("--port", type=int, default=18610)
    parser.add_argument("--pool-size", type=int, default=5, help="DB_POOL_SIZE per worker")
    parser.add_argument(
        "--database-server",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server on which a throw-away database is created and dropped",
    )  # fmt: skip
    parser.add_argument("--redis-url", default="", help="rate-limit counters in this Redis")
    parser.add_argument("--base-url", help="drive this running server instead (no memory figures)")
    parser.add_argument(
        "--sentry-dsn", default="", help="Sentry on, sending here (e.g. bench/speed.py's sink)"
    )
    args = parser.parse_args()
    if args.base_url:
        return asyncio.run(drive(args.base_url, None, args))
    with throwaway_database(args.database_server) as url, server(url, args) as (base_url, pid):
        return asyncio.run(drive(base_url, pid, args))


if __name__ == "__main__":
    sys.exit(main())
