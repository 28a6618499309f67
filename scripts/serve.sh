#!/usr/bin/env bash
# Run the API locally on the embedded SQLite default: install, migrate, serve on :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_uv.sh
# An environment of its own, without the dev tools: the test command's .venv keeps them, so
# serving while the tests run never uninstalls pytest from under them.
export UV_PROJECT_ENVIRONMENT="$PWD/.venv-serve"
"${UV[@]}" sync --locked --no-dev
"${UV[@]}" run --no-sync alembic upgrade head
# Fewer malloc arenas: each Argon2 hash borrows ~19 MiB in a worker thread, and glibc would keep
# one arena of freed buffers per thread.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
# The server production runs (app/serve.py), with its bounds on slow, large and surplus clients;
# HOST and PORT default to 127.0.0.1:8000 (settings, .env).
exec "${UV[@]}" run --no-sync python -m app.serve
