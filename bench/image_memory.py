"""A uvicorn worker's memory on photo uploads: decompression bombs, a 50 MP phone JPEG, and four
large PNGs at once (issue 12, item 4).

    PYTHONPATH=. uv run --no-sync python bench/image_memory.py [--database-url URL]

Starts one worker (on a throw-away SQLite database unless --database-url names a migrated one)
and prints, per scenario, the statuses, the peak resident memory (VmHWM) above the worker's idle
level and what stays resident after. Targets: one bomb under 300 MB, four at once under 600 MB,
the phone JPEG accepted under 300 MB.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.images.memory import measure

ROOT = Path(__file__).resolve().parents[1]


def migrated_sqlite(folder: Path) -> str:
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    env = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": "development", "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "app.prestart"], cwd=ROOT, env=env, check=True)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a migrated database (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qv-image-memory-") as folder:
        url = args.database_url or migrated_sqlite(Path(folder))
        report = measure(url, Path(folder))
    print(report.table())


if __name__ == "__main__":
    main()
