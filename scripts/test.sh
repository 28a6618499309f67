#!/usr/bin/env bash
# The whole suite: once against PostgreSQL (TEST_DATABASE_URL, default 127.0.0.1:5432),
# then again against the embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_uv.sh
"${UV[@]}" sync --locked
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}"
# Bugsink, the Sentry-compatible server the observability tests report to, in its own venv
# (it pins its own Django and sentry-sdk, and installs top-level packages like `api`).
export BUGSINK_VENV="${BUGSINK_VENV:-$PWD/.venv-bugsink}"
if [ ! -x "$BUGSINK_VENV/bin/gunicorn" ]; then
  "${UV[@]}" venv --quiet --python ">=3.11" "$BUGSINK_VENV"
  "${UV[@]}" pip install --quiet --python "$BUGSINK_VENV/bin/python" "bugsink==2.6.2"
fi
# The page tests drive Debian's Chromium through Playwright (never a browser Playwright downloads).
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the browser tests" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get install -y -q chromium >/dev/null 2>&1 || { $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium; }
fi
echo "== pass 1: PostgreSQL"
"${UV[@]}" run --no-sync pytest "$@"
echo "== pass 2: SQLite"
TEST_DATABASE_URL="sqlite+aiosqlite:///$(mktemp -d)/quickvendor-test.db" \
  "${UV[@]}" run --no-sync pytest "$@"
