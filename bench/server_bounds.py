"""What the bounded server costs: requests/s of the storefront and /api/health/live, before and
after, in alternating rounds on the same seeded database; prints every run and the medians.

"before" is served as QuickVendor was before app/server/: plain uvicorn (uvloop, httptools) on
the code in --before (default: this checkout, which isolates the protocol's cost; give a copy of
the previous commit, e.g. `git archive main | tar -x -C /tmp/qv-main`, to compare whole
changes). "after" is `python -m app.serve` on this checkout. Both run as production does
(ENVIRONMENT=production, JSON logs, one worker), pinned to --server-cpus, with wrk on
--load-cpus. On a shared machine the rounds drift; compare medians, not single runs.

    PYTHONPATH=. uv run --no-sync python bench/server_bounds.py --before /tmp/qv-main --rounds 5
"""

import argparse
import asyncio
import os
import secrets
import statistics
from pathlib import Path

from sqlalchemy import make_url

from bench.speed import ROOT, Server, plain_uvicorn, production_server, seed, to_result, wrk

PORT = 18720
ENDPOINTS = {"storefront": "/api/store/vendor-01", "health (live)": "/api/health/live"}


def start(variant: str, args: argparse.Namespace, logs: Path) -> Server:
    env = {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": args.dsn,
        "CORS_ORIGINS": "https://bench.example",
        "LOG_LEVEL": "INFO",
        "SENTRY_DSN": "",
        "WEB_CONCURRENCY": "1",
    }
    if variant == "before":
        command, cwd = plain_uvicorn("app.main:app", PORT), Path(args.before)
    else:
        command, listen = production_server(PORT)
        env |= listen
        cwd = ROOT
    server = Server(command, PORT, args.server_cpus, env, logs / f"{variant}.log", cwd=cwd)
    server.wait_ready("/api/health/live")
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--dsn",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/qv_bench_server"
        ),
        help="database to (re)create and seed",
    )
    parser.add_argument("--before", default=str(ROOT), help="the code to serve as 'before'")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server-cpus", default=os.environ.get("SERVER_CPUS", "0"))
    parser.add_argument("--load-cpus", default=os.environ.get("LOAD_CPUS", "1"))
    parser.add_argument("--logs", default="/tmp/qv-bench-server-logs")
    args = parser.parse_args()
    args.dsn = make_url(args.dsn).set(drivername="postgresql+asyncpg").render_as_string(False)
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)

    asyncio.run(seed(args.dsn))
    rates: dict[tuple[str, str], list[float]] = {}
    for round_number in range(1, args.rounds + 1):
        # Alternate which goes first, so a drift in the machine's load favours neither.
        order = ("before", "after") if round_number % 2 else ("after", "before")
        for variant in order:
            with start(variant, args, logs) as server:
                for endpoint, path in ENDPOINTS.items():
                    wrk(server.url + path, 8, 1, args.load_cpus)  # warm-up
                    stats = wrk(server.url + path, args.connections, args.duration, args.load_cpus)
                    result = to_result(variant, endpoint, args.connections, stats)
                    rates.setdefault((variant, endpoint), []).append(result.rps)
                    print(f"round {round_number}: {result.line()}", flush=True)
    print()
    print(f"| endpoint | before req/s (median of {args.rounds}) | after req/s | after/before |")
    print("|---|---:|---:|---:|")
    for endpoint in ENDPOINTS:
        before = statistics.median(rates[("before", endpoint)])
        after = statistics.median(rates[("after", endpoint)])
        print(f"| {endpoint} | {before:.0f} | {after:.0f} | {after / before:.3f} |")


if __name__ == "__main__":
    main()
