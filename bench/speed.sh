#!/usr/bin/env bash
# Speed benchmark: QuickVendor next to the plain Starlette + asyncpg + orjson baseline, same data;
# every ratio the speed issue asks for, from alternating runs (median of --pairs pairs).
# Needs PostgreSQL (BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/qv_bench,
# dropped and re-created) and wrk (installed from Debian's packages when missing).
# Options: bench/speed.sh --help; e.g. bench/speed.sh --duration 10 --pairs 5 --only ratios
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_uv.sh
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get install -y wrk >/dev/null 2>&1 || { $SUDO apt-get update -q && $SUDO apt-get install -y wrk; }
fi
"${UV[@]}" sync --locked --quiet
PYTHONPATH=. exec "${UV[@]}" run --no-sync python bench/speed.py "$@"
