"""Dependencies shared by the routes: settings, database session, current user, pagination."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import session_scope
from app.core.reads import Reader
from app.core.security import PasswordHasher
from app.core.sentry import set_user_context
from app.models import User
from app.services.auth import Authenticated, live_session_params, resolve_token
from app.storage import Storage

# Dependencies are `async def` even when they await nothing: FastAPI runs a plain `def`
# dependency in a worker thread, a hand-off that cost more than the storefront's queries.

# Registered for Swagger's Authorize button; auto_error off because the cookie is accepted too.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNAUTHENTICATED = "Not authenticated"
INVALID_TOKEN = "Could not validate credentials"


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in session_scope(request.app.state.session_factory):
        yield session


def reader_for(request: Request) -> Reader:
    """The app's hot-path reader; called directly, not as a dependency, on the hottest routes:
    each dependency FastAPI resolves costs about as much as one of their queries."""
    reader: Reader = request.app.state.reader
    return reader


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StorageDep = Annotated[Storage, Depends(get_storage)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class PresentedToken:
    value: str
    from_cookie: bool


BearerDep = Annotated[str | None, Depends(oauth2_scheme)]


def _presented(request: Request, settings: Settings, bearer: str | None) -> PresentedToken | None:
    """The Bearer header wins over the cookie."""
    if bearer:
        return PresentedToken(bearer, from_cookie=False)
    cookie = request.cookies.get(settings.COOKIE_NAME)
    return PresentedToken(cookie, from_cookie=True) if cookie else None


async def presented_token(
    request: Request, settings: SettingsDep, bearer: BearerDep
) -> PresentedToken | None:
    return _presented(request, settings, bearer)


def _request_origin(request: Request) -> str | None:
    origin = request.headers.get("origin")
    if origin:
        return origin.rstrip("/")
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def check_csrf(request: Request, settings: Settings, token: PresentedToken) -> None:
    """A cookie rides along on cross-site requests, so a change it authorises must come from us."""
    if not token.from_cookie or request.method in SAFE_METHODS:
        return
    if _request_origin(request) not in settings.cors_origins:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Cross-site request refused: the Origin is not an allowed frontend",
        )


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _required_token(request: Request, settings: Settings, token: PresentedToken | None) -> str:
    if token is None:
        raise _unauthorized(UNAUTHENTICATED)
    check_csrf(request, settings, token)
    return token.value


async def get_authenticated(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[PresentedToken | None, Depends(presented_token)],
) -> Authenticated:
    value = _required_token(request, settings, token)
    auth = await resolve_token(session, settings, token=value)
    if auth is None:
        raise _unauthorized(INVALID_TOKEN)
    set_user_context(auth.user.id)
    return auth


def live_session(request: Request, bearer: str | None) -> dict[str, object]:
    """The live-session check's parameters for the presented token, for a read that checks the
    session itself (the hot path's version of `get_authenticated`, without a dependency chain);
    401 for a missing or bad token, 403 for a cross-site cookie."""
    settings: Settings = request.app.state.settings
    value = _required_token(request, settings, _presented(request, settings, bearer))
    params = live_session_params(settings, value)
    if params is None:
        raise _unauthorized(INVALID_TOKEN)
    return params


def invalid_credentials() -> HTTPException:
    return _unauthorized(INVALID_TOKEN)


async def get_current_user(auth: Annotated[Authenticated, Depends(get_authenticated)]) -> User:
    return auth.user


AuthDep = Annotated[Authenticated, Depends(get_authenticated)]
CurrentUser = Annotated[User, Depends(get_current_user)]
TokenDep = Annotated[PresentedToken | None, Depends(presented_token)]

MAX_PAGE_SIZE = 500
MAX_OFFSET = 10_000_000


# Plain query parameters rather than one pagination dependency, for the same reason.
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")]
DEFAULT_LIMIT = 200
