"""Application factory: settings, Sentry, FastAPI(lifespan), middleware, routes, errors."""

import asyncio
import contextlib
import gc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import lru_cache, partial

import anyio.to_thread
import asyncpg
import sentry_sdk
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from app.analytics.recorder import Analytics
from app.api.router import include_routes
from app.db.engine import create_companion_engine, create_engine
from app.db.session import create_session_factory
from app.delivery.outbox import wake_on_commit
from app.delivery.registry import build_deliverers
from app.delivery.worker import DeliveryPolicy, DeliveryWorker
from app.fastpath.changes import ChangeListener, forget_on_store_change
from app.fastpath.reads import Reader
from app.fastpath.recent import StoreReads
from app.http.errors import install_error_handlers, keep_connection_after_error
from app.http.stack import middleware, wrap
from app.images.workers import ImageWorkers
from app.mail.compose import EmailComposer
from app.observability.events import BusinessEvents
from app.observability.logging import configure_logging
from app.observability.sentry import init_sentry, loop_transport
from app.ratelimit.limiter import build_rate_limiter
from app.schemas.common import Message
from app.security.passwords import PasswordHasher
from app.services.maintenance import maintenance_loop
from app.settings import Settings, get_settings, load_settings
from app.storage import create_storage
from app.web.pages import Pages

SITE_NAME = "QuickVendor"
# Distinct store reads a worker keeps (each for at most STORE_CACHE_SECONDS): a 50-product
# storefront is ~20 KB, so a few MB at most.
STORE_READS_KEPT = 256
LISTENER_NAME = "quickvendor-store-changes"
# Tracked objects allocated (net) before a young garbage collection; Python's default is 700.
# Tens of requests in flight hold more than that (a traced request's until its transaction's
# batch leaves), so at 700 a collection ran every ~120 storefront requests with Sentry on
# (every ~750 off), ~90 µs each, and found nothing to free: ~1 µs a request. Reference counts
# free a request's objects long before 10,000 accumulate, so collections become rare.
YOUNG_COLLECTION_THRESHOLD = 10_000


class QuickVendorAPI(FastAPI):
    """FastAPI whose own layers sit outside Starlette's server-error handler.

    So a 500 still carries the request id, the timing headers and the CORS headers. Outside
    them all (the request layer reports an unhandled error to Sentry), an error already answered
    and reported stops, so the connection it was answered on stays usable.
    """

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        return wrap(super().build_middleware_stack(), middleware(settings, self.routes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        await keep_connection_after_error(super().__call__, scope, receive, send)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    maintenance = asyncio.create_task(
        maintenance_loop(
            app.state.session_factory,
            app.state.rate_limiter,
            retention=timedelta(days=settings.SESSION_RETENTION_DAYS),
            interval=settings.MAINTENANCE_INTERVAL_SECONDS,
            order_expiry=timedelta(days=settings.ORDER_EXPIRY_DAYS),
        )
    )
    delivery: DeliveryWorker | None = app.state.delivery_worker
    if delivery is not None:
        delivery.start()
    analytics: Analytics = app.state.analytics
    analytics.start()
    listener: ChangeListener | None = app.state.store_change_listener
    if listener is not None:
        listener.start()
    # The app's ~150,000 long-lived objects (routes, models, SQLAlchemy's and pydantic's
    # machinery) made every full garbage collection a 75-100 ms pause for the requests in
    # flight, the whole of the storefront's p99; frozen, collections skip them.
    gc.collect()
    gc.freeze()
    # Sentry's envelopes leave from this loop while the app serves (no thread at the GIL);
    # bound last, so a start-up that fails leaves the SDK's own thread sending.
    sentry_transport = loop_transport()
    if sentry_transport is not None:
        sentry_transport.bind(asyncio.get_running_loop())
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        # Also when the app's run ends in an error or is cancelled: what it started is stopped
        # all the same (and a test's failure leaves no task behind for the next test).
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        # The server has finished the in-flight requests; the deliveries under way finish next
        # (a try is bounded by DELIVERY_TIMEOUT_SECONDS), while the database is still there.
        if delivery is not None:
            await delivery.stop()
        # The last seconds' counts, written while the database is still there.
        await analytics.stop()
        await app.state.storage.close()
        app.state.hasher.close()
        # The server has finished the in-flight requests; their Sentry events must leave before
        # the process does, but a slow Sentry must not hold up the shutdown for long.
        maintenance.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await maintenance
        await app.state.rate_limiter.close()
        if listener is not None:
            await listener.stop()
        flush = partial(sentry_sdk.flush, timeout=app.state.settings.SENTRY_SHUTDOWN_TIMEOUT)
        await anyio.to_thread.run_sync(flush)
        if sentry_transport is not None:
            await sentry_transport.release()
        await app.state.engine.dispose()


def _change_listener(engine: AsyncEngine, reads: StoreReads, origin: str) -> ChangeListener:
    """The worker's LISTEN for store changes, on a connection of its own to the app's database."""
    _, connect_kwargs = engine.dialect.create_connect_args(engine.url)
    connect = partial(
        asyncpg.connect,
        **connect_kwargs,
        timeout=5,
        server_settings={"application_name": LISTENER_NAME},
    )
    return ChangeListener(connect, origin=origin, forget=reads.forget_all, trust=reads.trust)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    init_sentry(settings)
    docs = not settings.is_production
    app = QuickVendorAPI(
        title=settings.PROJECT_NAME,
        version=settings.VERSION,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        # Sentry traces this service; FastAPI's own OpenTelemetry, unconfigured, still looked
        # up its providers on every request (about 10 µs, bench/cpu.py --profile).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    engine = create_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    # Delivery runs in this process unless a separate `python -m app.worker` does it.
    delivery = (
        DeliveryWorker(engine, build_deliverers(settings), DeliveryPolicy.from_settings(settings))
        if settings.DELIVERY_WORKER_IN_PROCESS
        else None
    )
    app.state.delivery_worker = delivery
    # On PostgreSQL a worker reuses a store read only while it hears the other workers' changes.
    listens = engine.dialect.name == "postgresql" and settings.STORE_CACHE_SECONDS > 0
    store_reads = StoreReads(
        seconds=settings.STORE_CACHE_SECONDS, max_entries=STORE_READS_KEPT, trusted=not listens
    )
    app.state.store_reads = store_reads
    origin = uuid.uuid4().hex
    app.state.store_change_listener = (
        _change_listener(engine, store_reads, origin) if listens else None
    )
    app.state.session_factory = create_session_factory(
        engine,
        info={
            **(wake_on_commit(delivery.wake) if delivery else {}),
            **forget_on_store_change(store_reads.forget_all, origin),
        },
    )
    app.state.reader = Reader(
        engine,
        capacity=settings.DB_POOL_SIZE + settings.DB_MAX_OVERFLOW,
        timeout=settings.DB_POOL_TIMEOUT,
    )
    app.state.hasher = PasswordHasher(settings)
    app.state.storage = create_storage(settings)
    app.state.image_workers = ImageWorkers(
        concurrency=settings.IMAGE_DECODE_CONCURRENCY,
        wait_seconds=settings.IMAGE_DECODE_WAIT_SECONDS,
    )
    # Without Redis, the counters get connections of their own: requests count while holding
    # one of the pool's (DatabaseCounterStore), so counting from it could deadlock the pool.
    counters = (
        None
        if settings.REDIS_URL
        else create_companion_engine(
            settings,
            engine,
            pool_size=settings.RATE_LIMIT_DB_POOL_SIZE,
            name="quickvendor-counters",
        )
    )
    app.state.rate_limiter = build_rate_limiter(settings, counters)
    app.state.events = BusinessEvents(settings)
    app.state.analytics = Analytics(settings, engine)
    app.state.pages = Pages(site_name=SITE_NAME)
    app.state.mail = EmailComposer(site_name=SITE_NAME, sender=settings.EMAIL_FROM)
    include_routes(app)

    @app.get("/", response_model=Message, tags=["root"])
    async def root() -> Message:
        """Answers that the API is up."""
        return Message(message="QuickVendor API is running")

    install_error_handlers(app, html=app.state.pages)
    return app


@lru_cache
def _default_app() -> FastAPI:
    return create_app(load_settings())


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.main:app` builds the app on first access, not at import, so tests and tools
    # can import create_app without configuring logging or Sentry from the environment.
    if name == "app":
        return _default_app()
    raise AttributeError(name)
