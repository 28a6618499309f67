"""Dependencies shared by the routes: the app's settings and services, a session, pagination."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.recorder import Analytics
from app.db.session import session_scope
from app.fastpath.reads import Reader
from app.fastpath.recent import StoreReads
from app.mail.compose import EmailComposer
from app.observability.events import BusinessEvents
from app.ratelimit.limiter import RateLimiter
from app.security.passwords import PasswordHasher
from app.settings import Settings
from app.storage import Storage
from app.web.pages import Pages

# Dependencies are `async def` even when they await nothing: FastAPI runs a plain `def`
# dependency in a worker thread, a hand-off that cost more than the storefront's queries.


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(request.app.state.session_factory):
        yield session


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def get_composer(request: Request) -> EmailComposer:
    composer: EmailComposer = request.app.state.mail
    return composer


async def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def events_for(request: Request) -> BusinessEvents:
    """The app's business-event recorder (called directly on the hot routes)."""
    events: BusinessEvents = request.app.state.events
    return events


def analytics_for(request: Request) -> Analytics:
    """The app's storefront counter (called directly: counting is a few dictionary updates)."""
    analytics: Analytics = request.app.state.analytics
    return analytics


async def get_events(request: Request) -> BusinessEvents:
    return events_for(request)


def store_reads_for(request: Request) -> StoreReads:
    """The app's recent public store reads (app/fastpath/recent.py)."""
    reads: StoreReads = request.app.state.store_reads
    return reads


def reader_for(request: Request) -> Reader:
    """The app's hot-path reader; called directly, not as a dependency, on the hottest routes:
    each dependency FastAPI resolves costs about as much as one of their queries."""
    reader: Reader = request.app.state.reader
    return reader


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StorageDep = Annotated[Storage, Depends(get_storage)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
LimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
EventsDep = Annotated[BusinessEvents, Depends(get_events)]
ComposerDep = Annotated[EmailComposer, Depends(get_composer)]
PagesDep = Annotated[Pages, Depends(get_pages)]

MAX_PAGE_SIZE = 500
MAX_OFFSET = 10_000_000
DEFAULT_LIMIT = 200
# Plain query parameters rather than one pagination dependency, for the same reason.
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")]
