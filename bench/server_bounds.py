"""What the bounded server (app/server/) and the keep-alive fix for 500s cost. Two parts:

`wrk`: requests/s of the storefront and /api/health/live, before and after, in alternating
rounds on the same seeded database, with the server's CPU time per request (from /proc). "before"
is served as QuickVendor was before app/server/: plain uvicorn (uvloop, httptools) on the code in
--before (default: this checkout, which isolates the server; give a copy of the previous commit,
e.g. `git archive main | tar -x -C /tmp/qv-main`, to compare whole changes). "after" is
`python -m app.serve` on this checkout. Both run as production does (ENVIRONMENT=production,
JSON logs, one worker), pinned to --server-cpus, with wrk on --load-cpus. On a shared machine
both figures swing by tens of percent from one minute to the next: compare medians.

`overhead`: the same request fed to uvicorn's httptools protocol and to the bounded one, in one
process on uvloop, interleaved, with a trivial ASGI app (so the server's own work is most of what
is measured), then with that app inside `keep_connection_after_error`: CPU microseconds per
request of each, medians of --rounds. No socket (a transport that drops what it is given), so
other jobs on the machine barely move it.

    PYTHONPATH=. uv run --no-sync python bench/server_bounds.py --before /tmp/qv-main --rounds 5
"""

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

import uvicorn
import uvloop
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.http.errors import keep_connection_after_error
from app.server.protocol import BoundedConfig, BoundedHttpToolsProtocol, ClientBounds
from bench.speed import (
    ROOT,
    Server,
    bench_arguments,
    parse_bench_arguments,
    plain_uvicorn,
    production_env,
    production_server,
    seed,
    to_result,
    wrk,
)

PORT = 18720
TICK = os.sysconf("SC_CLK_TCK")
ENDPOINTS = {"storefront": "/api/store/vendor-01", "health (live)": "/api/health/live"}
# A browser's request as Render's proxy forwards it: the header count is what the bounds add to.
REQUEST = (
    b"GET /api/store/vendor-01 HTTP/1.1\r\nHost: api.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile\r\n"
    b"Accept: application/json\r\nAccept-Language: en-NG,en;q=0.9\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\nOrigin: https://quickvendor.example.com\r\n"
    b"Referer: https://quickvendor.example.com/store/vendor-01\r\n"
    b"X-Forwarded-For: 198.51.100.7, 10.1.2.3\r\nX-Forwarded-Proto: https\r\n"
    b"X-Request-Start: t=1733300000000\r\n\r\n"
)
BOUNDS = ClientBounds(
    max_connections=1000,
    max_header_bytes=16 * 1024,
    headers_timeout=30,
    body_timeout=30,
    body_min_rate=16 * 1024,
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start(variant: str, args: argparse.Namespace, logs: Path) -> Server:
    env = production_env(args.dsn)
    if variant == "before":
        command, cwd = plain_uvicorn("app.main:app", PORT), Path(args.before)
    else:
        command, listen = production_server(PORT)
        env |= listen
        cwd = ROOT
    server = Server(command, PORT, args.server_cpus, env, logs / f"{variant}.log", cwd=cwd)
    server.wait_ready("/api/health/live")
    return server


def through_wrk(args: argparse.Namespace) -> None:
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    asyncio.run(seed(args.dsn))
    rates: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for round_number in range(1, args.rounds + 1):
        # Alternate which goes first, so a drift in the machine's load favours neither.
        order = ("before", "after") if round_number % 2 else ("after", "before")
        for variant in order:
            with start(variant, args, logs) as server:
                for endpoint, path in ENDPOINTS.items():
                    wrk(server.url + path, 8, 1, args.load_cpus)  # warm-up
                    used = cpu_seconds(server.proc.pid)
                    stats = wrk(server.url + path, args.connections, args.duration, args.load_cpus)
                    per_request = (cpu_seconds(server.proc.pid) - used) / stats["requests"] * 1e6
                    result = to_result(variant, endpoint, args.connections, stats)
                    rates.setdefault((variant, endpoint), []).append(result.rps)
                    cpu.setdefault((variant, endpoint), []).append(per_request)
                    print(
                        f"round {round_number}: {result.line()}  cpu={per_request:.0f}us/request",
                        flush=True,
                    )
    print()
    print(f"medians of {args.rounds} rounds")
    print("| endpoint | req/s before | after | after/before | CPU µs/request before | after |")
    print("|---|---:|---:|---:|---:|---:|")
    for endpoint in ENDPOINTS:
        before, after = (statistics.median(rates[(v, endpoint)]) for v in ("before", "after"))
        cpu_before, cpu_after = (statistics.median(cpu[(v, endpoint)]) for v in ("before", "after"))
        print(
            f"| {endpoint} | {before:.0f} | {after:.0f} | {after / before:.3f}"
            f" | {cpu_before:.0f} | {cpu_after:.0f} |"
        )


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def kept_hello(scope: Scope, receive: Receive, send: Send) -> None:
    await keep_connection_after_error(hello, scope, receive, send)


class NullTransport(asyncio.Transport):
    """A connection from 127.0.0.1 whose writes go nowhere."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def serve_requests(protocol: type[HttpToolsProtocol], app: str, count: int) -> float:
    """CPU seconds per request for `count` keep-alive requests on one connection."""
    options: dict[str, Any] = {"lifespan": "off", "log_config": None, "proxy_headers": False}
    config = (
        BoundedConfig(app, bounds=BOUNDS, **options)
        if protocol is BoundedHttpToolsProtocol
        else uvicorn.Config(app, http=protocol, **options)
    )
    state = ServerState()
    server = protocol(config=config, server_state=state, app_state={})
    server.connection_made(NullTransport())
    started = time.process_time()
    for _ in range(count):
        server.data_received(REQUEST)
        await asyncio.gather(*state.tasks)
    elapsed = time.process_time() - started
    server.connection_lost(None)
    return elapsed / count


def overhead(args: argparse.Namespace) -> None:
    variants = {
        "uvicorn's protocol": (HttpToolsProtocol, "bench.server_bounds:hello"),
        "bounded protocol": (BoundedHttpToolsProtocol, "bench.server_bounds:hello"),
        "bounded + keep-alive fix": (BoundedHttpToolsProtocol, "bench.server_bounds:kept_hello"),
    }
    per_request: dict[str, list[float]] = {name: [] for name in variants}

    async def rounds() -> None:
        for protocol, app in variants.values():
            await serve_requests(protocol, app, 2000)  # warm-up
        for _ in range(args.rounds):
            for name, (protocol, app) in variants.items():
                per_request[name].append(await serve_requests(protocol, app, args.requests) * 1e6)

    uvloop.run(rounds())
    base = statistics.median(per_request["uvicorn's protocol"])
    print(f"CPU per request in process, medians of {args.rounds} rounds of {args.requests}")
    for name, values in per_request.items():
        median = statistics.median(values)
        print(f"  {name:<26} {median:6.1f} µs  ({median - base:+.1f} µs)")


def main() -> None:
    parser = bench_arguments(__doc__, "qv_bench_server", "/tmp/qv-bench-server-logs")
    parser.add_argument("--before", default=str(ROOT), help="the code to serve as 'before'")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20000, help="per in-process round")
    parser.add_argument("--only", nargs="*", default=["wrk", "overhead"], help="parts to run")
    args = parse_bench_arguments(parser)
    if "overhead" in args.only:
        overhead(args)
    if "wrk" in args.only:
        through_wrk(args)


if __name__ == "__main__":
    main()
