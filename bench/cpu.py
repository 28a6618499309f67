"""CPU time per request, in process: QuickVendor's hot paths next to the bare app.

wrk figures on a shared machine swing with whatever else runs; the server's own CPU time per
request does not, and on one core it is what caps requests/s. Each request goes straight into
the ASGI app (no sockets, no HTTP parsing: the same saving for both apps), sequentially, on
uvloop, against the database bench/speed.py seeded. `--profile NAME` writes a pyinstrument
HTML profile of that endpoint to /tmp/qv-profile-NAME.html.

    PYTHONPATH=. uv run python bench/cpu.py [--requests 2000] [--profile storefront]

`--sentry` turns Sentry on at production settings, sending to a local sink in a process of its
own (so its work is not counted); run it with and without to see what Sentry costs a request.
"""

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import uvloop
from sqlalchemy import make_url
from starlette.types import ASGIApp, Message

from app.web.pages import RENDERED_BUDGET_BYTES
from app.web.rendered import RenderedPages
from bench.speed import EMAIL, PASSWORD, SINK_DSN, SINK_PORT

DEFAULT_DSN = "postgresql+asyncpg://postgres@127.0.0.1:5432/qv_bench"


def scope_for(method: str, path: str, headers: dict[str, str], app: ASGIApp) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
        "app": app,
    }


async def call(
    app: ASGIApp, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope_for(method, path, headers, app), receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def cold(app: Any, path: str) -> tuple[int, bytes]:
    """A page whose rows changed since it was last read and rendered: both again."""
    app.state.store_reads.forget_all()
    app.state.pages.rendered = RenderedPages(budget_bytes=RENDERED_BUDGET_BYTES)
    return await call(app, "GET", path, {})


async def read_again(app: Any, path: str) -> tuple[int, bytes]:
    """A view whose store changed since it was last read (no recent read to reuse)."""
    app.state.store_reads.forget_all()
    return await call(app, "GET", path, {})


async def cpu_per_request(
    request: Callable[[], Awaitable[tuple[int, bytes]]], count: int
) -> tuple[float, float]:
    for _ in range(20):
        status, body = await request()
        assert status == 200, (status, body[:200])
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await request()
    return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile")
    parser.add_argument("--cprofile")
    parser.add_argument(
        "--sentry", action="store_true", help="with Sentry on, sending to a local sink"
    )
    parser.add_argument("--only", nargs="*", help="cases to measure (default: all)")
    args = parser.parse_args()
    dsn = make_url(args.dsn).set(drivername="postgresql+asyncpg")
    os.environ.update(
        ENVIRONMENT="production",
        SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=dsn.render_as_string(False),
        CORS_ORIGINS="https://bench.example",
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        BASELINE_DSN=dsn.set(drivername="postgresql").render_as_string(False),
    )
    sink = None
    if args.sentry:
        sink = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"import bench.speed as s; s.serve_sink({SINK_PORT})",
            env={**os.environ, "PYTHONPATH": "."},
        )
        os.environ["SENTRY_DSN"] = SINK_DSN
    from app.main import create_app
    from bench.baseline.app import app as bare

    app = create_app()
    # Run as a server runs it: the lifespan starts what a worker has (on PostgreSQL the store
    # change listener, without which no store read is reused).
    async with app.router.lifespan_context(app):
        while not app.state.store_reads.storefront.trusted:  # noqa: ASYNC110 - a flag, no event
            await asyncio.sleep(0.01)
        bare.state.pool = await asyncpg.create_pool(os.environ["BASELINE_DSN"], min_size=1)
        credentials = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
        json_headers = {"content-type": "application/json"}
        _, token_body = await call(app, "POST", "/api/auth/login", json_headers, credentials)
        auth = {"authorization": "Bearer " + json.loads(token_body)["access_token"]}
        pool = bare.state.pool
        product_id = await pool.fetchval(
            "SELECT p.id FROM products p JOIN users u ON u.id = p.user_id"
            " WHERE u.store_slug = 'vendor-01' LIMIT 1"
        )
        store = "/api/store/vendor-01"
        cases: dict[str, Callable[[], Awaitable[tuple[int, bytes]]]] = {
            "bare storefront": lambda: call(bare, "GET", store, {}),
            "storefront": lambda: call(app, "GET", store, {}),
            "storefront, read": lambda: read_again(app, store),
            "store product": lambda: call(app, "GET", f"{store}/products/{product_id}", {}),
            "store page": lambda: call(app, "GET", "/s/vendor-01", {}),
            "store page, cold": lambda: cold(app, "/s/vendor-01"),
            "product page": lambda: call(app, "GET", f"/s/vendor-01/p/{product_id}", {}),
            "own product list": lambda: call(app, "GET", "/api/products", auth),
            "health (live)": lambda: call(app, "GET", "/api/health/live", {}),
        }
        if args.only:
            cases = {name: cases[name] for name in ("bare storefront", *args.only)}
        if args.cprofile:
            import cProfile
            import pstats

            profile = cProfile.Profile(time.process_time)
            profile.enable()
            await cpu_per_request(cases[args.cprofile], args.requests)
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(
                "sentry|observability|app/", 45
            )
        elif args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled", interval=0.001)
            with profiler:
                await cpu_per_request(cases[args.profile], args.requests)
            path = f"/tmp/qv-profile-{args.profile.replace(' ', '-')}.html"
            profiler.write_html(path)
            print(profiler.output_text(unicode=False, color=False, show_all=False))
            print("profile written to", path)
        else:
            # Interleaved rounds, best of each: other load on the machine only ever adds time.
            best = dict.fromkeys(cases, float("inf"))
            for _ in range(args.rounds):
                for name, request in cases.items():
                    cpu, _wall = await cpu_per_request(request, args.requests // args.rounds)
                    best[name] = min(best[name], cpu)
            for name, cpu in best.items():
                ratio = best["bare storefront"] / cpu
                print(f"{name:<18} cpu {cpu:8.1f} us/request  bare storefront/this {ratio:5.2f}")
        await pool.close()
    if sink is not None:
        sink.terminate()
        await sink.wait()


if __name__ == "__main__":
    uvloop.run(main())
