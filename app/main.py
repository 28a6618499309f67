"""Application factory: settings, Sentry, FastAPI(lifespan), middleware, routes, errors."""

import asyncio
import contextlib
import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import lru_cache, partial

import anyio.to_thread
import sentry_sdk
from fastapi import FastAPI
from starlette.types import ASGIApp

from app.api.router import include_routes
from app.core.body_limit import BodyLimitMiddleware
from app.core.config import Settings, get_settings, load_settings
from app.core.cors import JSONCORSMiddleware
from app.core.db import create_engine, create_session_factory
from app.core.errors import install_error_handlers
from app.core.events import configure_events
from app.core.http_cache import NoStoreForCredentialsMiddleware
from app.core.logging import configure_logging
from app.core.middleware import RequestContextMiddleware, TrailingSlashMiddleware
from app.core.proxy import ClientAddressMiddleware, TrustedProxies
from app.core.rate_limit import build_rate_limiter
from app.core.reads import Reader
from app.core.security import PasswordHasher
from app.core.security_headers import SecurityHeadersMiddleware
from app.core.sentry import init_sentry
from app.schemas.common import Message
from app.services.maintenance import maintenance_loop
from app.storage import create_storage

EXPOSED_HEADERS = ["X-Total-Count", "X-Request-ID", "Retry-After", "ETag"]
# Routes that take product photos get the form limit; every other body the JSON one.
# Routes that take photos: the outer limit lets them through; each route then holds every file
# to its own, smaller limit (app/api/uploads.py).
PHOTO_FORM_PATHS = re.compile(r"/api/products(/[^/]+(/images/upload)?)?|/api/users/me/banner")


class QuickVendorAPI(FastAPI):
    """FastAPI whose outermost layers sit outside Starlette's server-error handler.

    So a 500 still carries the request id, the timing headers and the CORS headers.
    """

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        app: ASGIApp = BodyLimitMiddleware(
            super().build_middleware_stack(),
            default=settings.JSON_MAX_BYTES,
            larger=[(PHOTO_FORM_PATHS, settings.PRODUCT_FORM_MAX_BYTES)],
        )
        app = JSONCORSMiddleware(
            app,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "If-None-Match"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
        proxies = TrustedProxies(settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_EXTRA_HOPS)
        app = NoStoreForCredentialsMiddleware(app, cookie_name=settings.COOKIE_NAME)
        app = RequestContextMiddleware(ClientAddressMiddleware(app, proxies))
        hsts = settings.HSTS_MAX_AGE_SECONDS if settings.is_production else None
        return SecurityHeadersMiddleware(TrailingSlashMiddleware(app), hsts_max_age=hsts)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    maintenance = asyncio.create_task(
        maintenance_loop(
            app.state.session_factory,
            app.state.rate_limiter,
            retention=timedelta(days=settings.SESSION_RETENTION_DAYS),
            interval=settings.MAINTENANCE_INTERVAL_SECONDS,
        )
    )
    # The app's ~150,000 long-lived objects (routes, models, SQLAlchemy's and pydantic's
    # machinery) made every full garbage collection a 75-100 ms pause for the requests in
    # flight, the whole of the storefront's p99; frozen, collections skip them.
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()
    await app.state.storage.close()
    app.state.hasher.close()
    # The server has finished the in-flight requests; their Sentry events must leave before the
    # process does, but a slow Sentry must not hold up the shutdown for long.
    maintenance.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await maintenance
    await app.state.rate_limiter.close()
    flush = partial(sentry_sdk.flush, timeout=app.state.settings.SENTRY_SHUTDOWN_TIMEOUT)
    await anyio.to_thread.run_sync(flush)
    await app.state.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    init_sentry(settings)
    configure_events(settings)
    docs = not settings.is_production
    app = QuickVendorAPI(
        title=settings.PROJECT_NAME,
        version=settings.VERSION,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    engine = create_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)
    app.state.reader = Reader(
        engine,
        capacity=settings.DB_POOL_SIZE + settings.DB_MAX_OVERFLOW,
        timeout=settings.DB_POOL_TIMEOUT,
    )
    app.state.hasher = PasswordHasher(settings)
    app.state.storage = create_storage(settings)
    app.state.rate_limiter = build_rate_limiter(settings, engine)
    include_routes(app)

    @app.get("/", response_model=Message, tags=["root"])
    async def root() -> Message:
        """Answers that the API is up."""
        return Message(message="QuickVendor API is running")

    install_error_handlers(app)
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
