"""Container health check (`python -m app.healthcheck`): exit 0 when this instance is live.

Docker runs it every 30 s, so it reads PORT straight from the environment rather than loading
and validating every setting.
"""

import os
import sys
import urllib.request

TIMEOUT_SECONDS = 3


def main() -> int:
    port = int(os.environ.get("PORT") or 8000)
    url = f"http://127.0.0.1:{port}/api/health/live"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
