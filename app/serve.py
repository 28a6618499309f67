"""The production server (`python -m app.serve`): uvicorn on HOST:PORT with WEB_CONCURRENCY workers.

Settings are checked here, before any worker starts, so a refused configuration ends the process
once with a one-line reason instead of every worker failing in turn. On SIGTERM uvicorn stops
accepting connections and lets in-flight requests finish for up to GRACEFUL_SHUTDOWN_SECONDS;
the app's lifespan then flushes Sentry.
"""

import logging

import uvicorn

from app.observability.logging import configure_logging
from app.settings import load_settings

logger = logging.getLogger("app.serve")


def main() -> None:
    settings = load_settings()
    configure_logging(settings)
    workers = settings.web_concurrency
    logger.info("serving on %s:%d with %d worker(s)", settings.HOST, settings.PORT, workers)
    uvicorn.run(
        "app.main:app",
        host=settings.HOST,
        port=settings.PORT,
        workers=workers,
        timeout_graceful_shutdown=settings.GRACEFUL_SHUTDOWN_SECONDS,
        # The app decides which proxies to believe; uvicorn must not rewrite the client first.
        proxy_headers=False,
        server_header=False,
        # Logging is the app's (configure_logging), with request ids and JSON in production.
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
