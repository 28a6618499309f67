#!/usr/bin/env bash
# The whole suite: once against PostgreSQL (TEST_DATABASE_URL, default 127.0.0.1:5432),
# then again against the embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_uv.sh
"${UV[@]}" sync --locked
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}"
echo "== pass 1: PostgreSQL"
"${UV[@]}" run --no-sync pytest "$@"
echo "== pass 2: SQLite"
TEST_DATABASE_URL="sqlite+aiosqlite:///$(mktemp -d)/quickvendor-test.db" \
  "${UV[@]}" run --no-sync pytest "$@"
