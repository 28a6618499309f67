"""Who is calling: the one place that reads the presented token, applies the cookie's CSRF rule,
checks the session and decides the 401 answers, for the ORM routes and the fast path alike; and,
for the `/account/` pages, the vendor of the session cookie or a redirect to the login form."""

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import SessionDep, SettingsDep
from app.models import User
from app.observability.sentry import set_user_context
from app.services.auth import Authenticated, live_session_params, resolve_token
from app.settings import Settings

# Registered for Swagger's Authorize button; auto_error off because the cookie is accepted too.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)
BearerDep = Annotated[str | None, Depends(oauth2_scheme)]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The two 401 answers: nothing presented, or something presented that is not a live session.
UNAUTHENTICATED = "Not authenticated"
INVALID_TOKEN = "Could not validate credentials"
CROSS_SITE = "Cross-site request refused: the Origin is not an allowed frontend"


@dataclass(frozen=True, slots=True)
class PresentedToken:
    value: str
    from_cookie: bool


def presented(request: Request, settings: Settings, bearer: str | None) -> PresentedToken | None:
    """The Bearer header wins over the cookie."""
    if bearer:
        return PresentedToken(bearer, from_cookie=False)
    cookie = request.cookies.get(settings.COOKIE_NAME)
    return PresentedToken(cookie, from_cookie=True) if cookie else None


async def presented_token(
    request: Request, settings: SettingsDep, bearer: BearerDep
) -> PresentedToken | None:
    return presented(request, settings, bearer)


TokenDep = Annotated[PresentedToken | None, Depends(presented_token)]


def request_origin(request: Request) -> str | None:
    origin = request.headers.get("origin")
    if origin:
        return origin.rstrip("/")
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def origin_of(url: str) -> str:
    """`https://api.example.com` of `https://API.example.com/v1/`: what an Origin header names."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origin(request: Request, settings: Settings, origin: str | None) -> bool:
    """The frontend's origins, and the API's own (its pages post forms to it): the origin of
    PUBLIC_BASE_URL (a path after it included), and in development the host the request was
    sent to."""
    if origin is None:
        return False
    if origin in settings.cors_origins or origin.lower() == origin_of(settings.public_base_url):
        return True
    return not settings.is_production and origin == f"{request.url.scheme}://{request.url.netloc}"


def check_csrf(request: Request, settings: Settings, token: PresentedToken) -> None:
    """A cookie rides along on cross-site requests, so a change it authorises must come from us."""
    if not token.from_cookie or request.method in SAFE_METHODS:
        return
    if not allowed_origin(request, settings, request_origin(request)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, CROSS_SITE)


def check_login_origin(request: Request, settings: Settings) -> None:
    """A login sets the cookie, so a cross-site form must not log a browser into someone else's
    account (login CSRF); API clients, which send no Origin, are not browsers and may."""
    origin = request_origin(request)
    if origin is not None and not allowed_origin(request, settings, origin):
        raise HTTPException(status.HTTP_403_FORBIDDEN, CROSS_SITE)


def unauthorized(detail: str = INVALID_TOKEN) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _required_token(request: Request, settings: Settings, token: PresentedToken | None) -> str:
    if token is None:
        raise unauthorized(UNAUTHENTICATED)
    check_csrf(request, settings, token)
    return token.value


async def get_authenticated(
    request: Request, session: SessionDep, settings: SettingsDep, token: TokenDep
) -> Authenticated:
    """The ORM path: the live session's user, loaded in one query."""
    value = _required_token(request, settings, token)
    auth = await resolve_token(session, settings, token=value)
    if auth is None:
        raise unauthorized()
    set_user_context(auth.user.id)
    return auth


def live_session(request: Request, bearer: str | None) -> dict[str, object]:
    """The fast path: the parameters of the live-session check for a read that joins it itself
    (no dependency chain); the same 401 and 403 answers as `get_authenticated`. A read that finds
    no live session answers `unauthorized()`."""
    settings: Settings = request.app.state.settings
    value = _required_token(request, settings, presented(request, settings, bearer))
    params = live_session_params(settings, value)
    if params is None:
        raise unauthorized()
    return params


async def cookie_vendor_id(
    request: Request, session: AsyncSession, settings: Settings
) -> str | None:
    """For calls anyone may make that only note who sent them: the vendor of a live session
    cookie on a request from an allowed origin, else None (an expired or forged cookie makes
    an anonymous call, never a 401)."""
    cookie = request.cookies.get(settings.COOKIE_NAME)
    if not cookie:
        return None
    if request.method not in SAFE_METHODS and not allowed_origin(
        request, settings, request_origin(request)
    ):
        return None
    auth = await resolve_token(session, settings, token=cookie)
    if auth is None:
        return None
    set_user_context(auth.user.id)
    return auth.user.id


async def get_current_user(auth: Annotated[Authenticated, Depends(get_authenticated)]) -> User:
    return auth.user


AuthDep = Annotated[Authenticated, Depends(get_authenticated)]
CurrentUser = Annotated[User, Depends(get_current_user)]


class LoginRequired(Exception):  # noqa: N818 - named so by the account area's contract
    """A page of the vendor area asked for without a live session: answered with a 303 to
    `/account/login?next=<the page>` (app/api/account_area.py)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _page_to_return_to(request: Request) -> str:
    # After logging in the browser GETs `next`; a form's target cannot be GET, so its page is
    # the area's home.
    if request.method not in ("GET", "HEAD"):
        return "/account/"
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


async def page_vendor(request: Request, session: SessionDep, settings: SettingsDep) -> User:
    """The vendor of the live session cookie (pages only use the cookie), else LoginRequired."""
    cookie = request.cookies.get(settings.COOKIE_NAME)
    auth = await resolve_token(session, settings, token=cookie) if cookie else None
    if auth is None:
        raise LoginRequired(_page_to_return_to(request))
    set_user_context(auth.user.id)
    return auth.user


PageVendor = Annotated[User, Depends(page_vendor)]


def check_form_origin(request: Request, settings: Settings) -> None:
    """The area's forms post from this service's own pages: a browser sends their Origin, so a
    post from any other origin, or with none, is refused (403, answered as an HTML page)."""
    if not allowed_origin(request, settings, request_origin(request)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, CROSS_SITE)
