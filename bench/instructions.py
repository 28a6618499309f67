"""Sentry's cost in instructions: the same storefront requests, without Sentry and with it.

Timings on a shared two-core machine swing by several percent from run to run, more than what is
left of Sentry's cost. Instructions do not: callgrind (valgrind) counts what the interpreter
executes for a run of storefront requests in process (as bench/cpu.py makes them), once with no
DSN and once with Sentry at production's settings (traces 0.1, storefront events 0.01), sending
to the sink of bench/speed.py. Runs are repeatable to a few hundred instructions a request.

What it leaves out: the server's HTTP parsing and sockets (the same with Sentry on or off), the
kernel, and what caches and branch predictors make of the extra code. Read it next to
bench/speed.sh's figures, not instead of them.

    PYTHONPATH=. uv run python bench/instructions.py [--requests 1000] [--dsn ...]

Needs valgrind and a C compiler (the callgrind client requests that count only the measured
requests are a few lines of C); valgrind is installed from Debian's packages when missing. The
database is the one bench/speed.sh seeded.
"""

import argparse
import asyncio
import ctypes
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import make_url

from bench.cpu import DEFAULT_DSN, call
from bench.speed import SINK_DSN, SINK_PORT

STORE = "/api/store/vendor-01"
WARM_UP = 200
# Requests between the loop's turns: the transport reads Sentry's answers in them.
TURN_EVERY = 50
CLIENT_REQUESTS = """
#include <valgrind/callgrind.h>
void measure_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void measure_stop(void) { CALLGRIND_DUMP_STATS; CALLGRIND_STOP_INSTRUMENTATION; }
"""


def settings_env(dsn: str, secret_key: str, sentry: bool) -> dict[str, str]:
    return {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secret_key,
        "DATABASE_URL": dsn,
        "CORS_ORIGINS": "https://bench.example",
        "LOG_LEVEL": "INFO",
        "SENTRY_DSN": SINK_DSN if sentry else "",
        # Work done on a timer, not per request: it would land in one run's count and not the
        # other's.
        "ANALYTICS_FLUSH_SECONDS": "3600",
        "DELIVERY_POLL_INTERVAL_SECONDS": "3600",
        "PYTHONHASHSEED": "0",
    }


async def measured(requests: int, helper: str) -> None:
    """In the child, under callgrind: warm up, then count `requests` storefront views."""
    import app.observability.transport as transport
    from app.main import create_app
    from app.observability.sentry import loop_transport

    # Under callgrind a request takes ~50 times longer: the batch waits as many more requests
    # as it would on a real server.
    transport.SEND_DELAY *= 50
    measure = ctypes.CDLL(helper)
    app = create_app()
    async with app.router.lifespan_context(app):
        while not app.state.store_reads.storefront.trusted:  # noqa: ASYNC110 - a flag, no event
            await asyncio.sleep(0.01)
        # One read for the whole run: how often a read expires would depend on how slow the
        # run is, and the slower one (Sentry on) would read more.
        app.state.store_reads.storefront.seconds = 3600.0
        for _ in range(WARM_UP):
            await call(app, "GET", STORE, {})
        await asyncio.sleep(0.2)
        random.seed(7)
        measure.measure_start()
        for number in range(requests):
            status, _ = await call(app, "GET", STORE, {})
            assert status == 200, status
            if number % TURN_EVERY == TURN_EVERY - 1:
                await asyncio.sleep(0)
        # What the batch sends, and the answers, are counted too (sent now: the loop idling
        # until the batch's time would be counted with them).
        sender = loop_transport()
        if sender is not None:
            await sender.drained()
        measure.measure_stop()


def count(mode: str, args: argparse.Namespace, secret_key: str, helper: str, workdir: Path) -> int:
    """Instructions callgrind counted for `args.requests` views in a child run without Sentry
    (`none`) or with it (`on`)."""
    out = workdir / f"callgrind.{mode}"
    dsn = make_url(args.dsn).set(drivername="postgresql+asyncpg").render_as_string(False)
    env = {**os.environ, **settings_env(dsn, secret_key, mode == "on"), "PYTHONPATH": "."}
    command = [
        "valgrind", "--tool=callgrind", "--cache-sim=no", "--instr-atstart=no",
        f"--callgrind-out-file={out}", sys.executable, "-m", "bench.instructions",
        "--child", "--requests", str(args.requests), "--helper", helper,
    ]  # fmt: skip
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{run.stderr[-3000:]}")
    dumps = sorted(workdir.glob(f"callgrind.{mode}.*"))
    for line in dumps[0].read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {dumps[0]}")


def tools(workdir: Path) -> str:
    """valgrind (installed when missing) and the client requests' helper library, built."""
    if shutil.which("valgrind") is None:
        print("installing valgrind", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "valgrind"], check=True)
    source, helper = workdir / "measure.c", workdir / "measure.so"
    source.write_text(CLIENT_REQUESTS)
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(helper), str(source)], check=True)
    return str(helper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--helper", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import uvloop

        uvloop.run(measured(args.requests, args.helper))
        return
    # The same for both runs: they must do the same work.
    secret_key = secrets.token_urlsafe(48)
    with tempfile.TemporaryDirectory(prefix="qv-instructions-") as tmp:
        workdir = Path(tmp)
        helper = tools(workdir)
        sink = subprocess.Popen(
            [sys.executable, "-c", f"import bench.speed as s; s.serve_sink({SINK_PORT})"],
            env={**os.environ, "PYTHONPATH": "."},
        )
        try:
            # Both at once: each child is one process on one core.
            with ThreadPoolExecutor(2) as pool:
                runs = {
                    mode: pool.submit(count, mode, args, secret_key, helper, workdir)
                    for mode in ("none", "on")
                }
                counts = {mode: run.result() for mode, run in runs.items()}
        finally:
            sink.terminate()
            sink.wait()
    none, on = (counts[mode] / args.requests for mode in ("none", "on"))
    print(f"storefront, no Sentry   {none:>10,.0f} instructions/request")
    print(f"storefront, Sentry on   {on:>10,.0f} instructions/request")
    print(f"Sentry's extra          {on - none:>10,.0f} ({(on - none) / none:.1%})")


if __name__ == "__main__":
    main()
