"""The one place that turns settings into the uvicorn server every mode runs.

`python -m app.serve` (the image's command, `scripts/serve.sh`, the tests' servers, the
benchmarks) runs what `server_config` builds, so the bounds on clients hold everywhere.
"""

import contextlib
import logging
import resource
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from app.http.security_headers import security_headers
from app.server.protocol import BoundedConfig, ClientBounds
from app.settings import Settings

logger = logging.getLogger("app.server")
# Descriptors a worker needs besides its clients: database pool, log and photo files, Redis.
SPARE_FILES = 128


def open_files_for(connections: int) -> int:
    """Raise the open-files limit toward what `connections` need; the connections it allows.

    Past the limit, accept() fails and the loop stops accepting for a while: a worker would stop
    answering well before its connection bound refused anyone.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = raised
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return connections
    allowed = max(1, soft - SPARE_FILES)
    logger.warning(
        "the open-files limit (%d) allows %d connections per worker, not %d",
        soft,
        allowed,
        connections,
    )
    return allowed


def server_config(settings: Settings, app: str = "app.main:app") -> BoundedConfig:
    bounds = ClientBounds(
        max_connections=open_files_for(settings.MAX_CONNECTIONS_PER_WORKER),
        max_header_bytes=settings.REQUEST_HEADERS_MAX_BYTES,
        headers_timeout=settings.REQUEST_HEADERS_TIMEOUT_SECONDS,
        body_timeout=settings.REQUEST_BODY_TIMEOUT_SECONDS,
        body_min_rate=settings.REQUEST_BODY_MIN_BYTES_PER_SECOND,
        headers=tuple(security_headers(settings.hsts_max_age).items()),
    )
    return BoundedConfig(
        app,
        bounds=bounds,
        host=settings.HOST,
        port=settings.PORT,
        workers=settings.web_concurrency,
        timeout_graceful_shutdown=settings.GRACEFUL_SHUTDOWN_SECONDS,
        # The app decides which proxies to believe; uvicorn must not rewrite the client first.
        proxy_headers=False,
        server_header=False,
        # Logging is the app's (configure_logging), with request ids and JSON in production.
        log_config=None,
        access_log=False,
    )


def run(config: BoundedConfig) -> None:
    """What `uvicorn.run` does with an import string, for a Config built here."""
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal that stopped it; Ctrl-C is not an error.
    with contextlib.suppress(KeyboardInterrupt):
        if config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
            return
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
