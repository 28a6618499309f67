"""What counting storefront views costs: the JSON storefront's (or the store page's) requests/s
with analytics on against off, in one run.

Seeds its own PostgreSQL database (bench/speed.py's 20 vendors x 50 products), starts two
production servers (`python -m app.serve`) pinned to the same server cores, one with
ANALYTICS_ENABLED=true and one with false, and drives each in turn with wrk from the load cores:
alternating pairs (on-off, then off-on, ...), so a machine that slows down mid-run weighs on
both sides alike. Prints every run, then the median requests/s of each side and their ratio
(the issue's bound: on within 5% of off). The store is asked with `?ref=bench`, so the counted
path parses its source too. Run it as:

    PYTHONPATH=. uv run python bench/analytics.py --pairs 5 --duration 10 [--page store-page]
"""

import argparse
import asyncio
import statistics
from pathlib import Path

from bench.speed import (
    GENEROUS_LIMITS,
    PRODUCTS,
    VENDORS,
    Result,
    Server,
    bench_arguments,
    parse_bench_arguments,
    production_env,
    production_server,
    seed,
    to_result,
    wrk,
)

PORTS = {"on": 18720, "off": 18721}
PATHS = {"storefront": "/api/store/vendor-01?ref=bench", "store-page": "/s/vendor-01?ref=bench"}


def start(mode: str, args: argparse.Namespace, logs: Path) -> Server:
    command, listen = production_server(PORTS[mode])
    env = {
        **production_env(args.dsn),
        **GENEROUS_LIMITS,
        **listen,
        "WEB_CONCURRENCY": str(args.workers),
        "ANALYTICS_ENABLED": "true" if mode == "on" else "false",
    }
    log = logs / f"analytics-{mode}.log"
    server = Server(command, PORTS[mode], args.server_cpus, env, log)
    server.wait_ready("/api/health/live")
    return server


def main() -> None:
    parser = bench_arguments(__doc__, "qv_bench_analytics", "/tmp/qv-bench-logs")
    parser.add_argument("--pairs", type=int, default=5, help="on/off pairs (median of each side)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="WEB_CONCURRENCY of each server")
    parser.add_argument(
        "--page", choices=sorted(PATHS), default="storefront", help="the JSON one or the HTML one"
    )
    args = parse_bench_arguments(parser)
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    asyncio.run(seed(args.dsn))
    print(f"seeded {VENDORS} vendors x {PRODUCTS} products; {args.duration}s per run, "
          f"{args.connections} connections, {args.pairs} pairs, {args.page}")  # fmt: skip
    path = PATHS[args.page]
    runs: dict[str, list[Result]] = {"on": [], "off": []}
    with start("on", args, logs) as on, start("off", args, logs) as off:
        servers = {"on": on, "off": off}
        for server in servers.values():
            # Warm-up: the first requests build caches, pools and prepared statements.
            wrk(server.url + path, args.connections, 1, args.load_cpus)
        for pair in range(args.pairs):
            for mode in ("on", "off") if pair % 2 == 0 else ("off", "on"):
                stats = wrk(
                    servers[mode].url + path, args.connections, args.duration, args.load_cpus
                )
                result = to_result(f"analytics {mode}", args.page, args.connections, stats)
                runs[mode].append(result)
                print(f"pair {pair + 1} {result.line()}", flush=True)
    on_rps = statistics.median(r.rps for r in runs["on"])
    off_rps = statistics.median(r.rps for r in runs["off"])
    errors = sum(r.errors for r in runs["on"] + runs["off"])
    print()
    print("| analytics | runs | median req/s | median p50 ms | median p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for mode in ("off", "on"):
        results = runs[mode]
        print(
            f"| {mode} | {len(results)} | {statistics.median(r.rps for r in results):.0f} |"
            f" {statistics.median(r.p50_ms for r in results):.2f} |"
            f" {statistics.median(r.p99_ms for r in results):.2f} |"
        )
    print(f"\non/off = {on_rps / off_rps:.3f} (bound: >= 0.95); {errors} errors")


if __name__ == "__main__":
    main()
