"""`python -m app.worker`: the delivery worker as a process of its own.

For deployments that run delivery apart from the web processes (DELIVERY_WORKER_IN_PROCESS=false
on the web service; see README, "Background delivery"). Any number may run beside each other and
beside in-process workers. SIGTERM or SIGINT: the tries under way finish (each is bounded by
DELIVERY_TIMEOUT_SECONDS), Sentry is flushed, and the process exits 0.
"""

import asyncio
import logging
import signal

import sentry_sdk

from app.db.engine import create_engine
from app.delivery.registry import build_deliverers
from app.delivery.worker import DeliveryPolicy, DeliveryWorker
from app.observability.logging import configure_logging
from app.observability.sentry import init_sentry
from app.settings import Settings, load_settings

logger = logging.getLogger("app.worker")


async def run(settings: Settings) -> None:
    engine = create_engine(settings)
    deliverers = build_deliverers(settings)
    worker = DeliveryWorker(engine, deliverers, DeliveryPolicy.from_settings(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if not deliverers:
        logger.warning("delivery worker: nothing to deliver with (SLACK_WEBHOOK_URL is not set)")
    worker.start()
    logger.info("delivery worker %s started; kinds: %s", worker.name, ", ".join(worker.kinds))
    try:
        await stop.wait()
        logger.info("delivery worker %s stopping", worker.name)
        await worker.stop()
    finally:
        await engine.dispose()


def main() -> None:
    settings = load_settings()
    configure_logging(settings)
    init_sentry(settings)
    asyncio.run(run(settings))
    sentry_sdk.flush(timeout=settings.SENTRY_SHUTDOWN_TIMEOUT)


if __name__ == "__main__":
    main()
