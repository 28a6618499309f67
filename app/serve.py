"""The production server (`python -m app.serve`): uvicorn on HOST:PORT with WEB_CONCURRENCY workers.

Settings are checked here, before any worker starts, so a refused configuration ends the process
once with a one-line reason instead of every worker failing in turn. The server is the one
`app/server/config.py` builds, with its bounds on slow, large and surplus clients. On SIGTERM
uvicorn stops accepting connections and lets in-flight requests finish for up to
GRACEFUL_SHUTDOWN_SECONDS; the app's lifespan then flushes Sentry.
"""

import logging

from app.observability.logging import configure_logging
from app.server.config import run, server_config
from app.settings import load_settings

logger = logging.getLogger("app.serve")


def main() -> None:
    settings = load_settings()
    configure_logging(settings)
    config = server_config(settings)
    logger.info(
        "serving on %s:%d with %d worker(s), at most %d connections each",
        config.host,
        config.port,
        config.workers,
        config.bounds.max_connections,
    )
    run(config)


if __name__ == "__main__":
    main()
