"""The vendor area's shell: the login form, logging out, and the area's home page.

The pages of other areas (`/account/orders`, `/account/insights`) use the same pieces:
`PageVendor` for the logged-in vendor, `check_form_origin` on every form they accept, and
`account/layout.html` for the navigation.
"""

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import HTMLResponse

from app.api.account_area import (
    HOME,
    LOGIN,
    account_page,
    form_text,
    message_page,
    safe_next,
    see_other,
)
from app.api.authentication import PageVendor, check_form_origin
from app.api.cookies import clear_auth_cookie, set_auth_cookie
from app.api.deps import (
    ComposerDep,
    EventsDep,
    HasherDep,
    LimiterDep,
    SessionDep,
    SettingsDep,
)
from app.api.forms import read_fields
from app.api.limits import guard_login, guard_verification_resend, login_succeeded
from app.api.routes.auth import BAD_CREDENTIALS
from app.api.routes.recovery import ALREADY_VERIFIED, VERIFICATION_SENT
from app.observability.events import BusinessEvent
from app.observability.sentry import set_user_context
from app.services import auth as auth_service
from app.services import recovery
from app.services import users as users_service

router = APIRouter(prefix="/account", tags=["vendor area"], include_in_schema=False)

NextPath = Annotated[str | None, Query(alias="next", max_length=2048)]
MISSING_CREDENTIALS = "Enter your email and password."


def login_form(
    request: Request, *, next_path: str, email: str = "", error: str | None = None,
    status_code: int = 200, headers: Mapping[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    return account_page(
        request,
        "login.html",
        status_code=status_code,
        headers=headers,
        next_path=next_path,
        email=email,
        error=error,
    )


@router.get("/login", response_class=HTMLResponse, response_model=None)
async def login_page(
    request: Request, session: SessionDep, settings: SettingsDep, next_path: NextPath = None
) -> HTMLResponse | RedirectResponse:
    """The login form (a vendor already logged in goes straight on)."""
    target = safe_next(next_path)
    cookie = request.cookies.get(settings.COOKIE_NAME)
    if cookie and await auth_service.resolve_token(session, settings, token=cookie):
        return see_other(target)
    return login_form(request, next_path=target)


@router.post("/login", response_class=HTMLResponse, response_model=None)
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
    events: EventsDep,
) -> HTMLResponse | RedirectResponse:
    """Log in from the form: the API login's rules, limits and cookie, then on to `next`."""
    check_form_origin(request, settings)
    fields, _ = await read_fields(request)
    email = form_text(fields, "email", 320).strip()
    password = form_text(fields, "password", 1024)
    target = safe_next(fields.get("next"))
    if not email or not password:
        return login_form(
            request, next_path=target, email=email, error=MISSING_CREDENTIALS, status_code=400
        )
    try:
        await guard_login(request, limiter, settings, email=email)
    except HTTPException as exc:
        return login_form(
            request,
            next_path=target,
            email=email,
            error=str(exc.detail),
            status_code=exc.status_code,
            headers=exc.headers,
        )
    user = await auth_service.authenticate(session, hasher, email=email, password=password)
    if user is None:
        events.record(BusinessEvent.LOGIN_FAILED, email_hash=events.email_fingerprint(email))
        return login_form(
            request, next_path=target, email=email, error=BAD_CREDENTIALS, status_code=401
        )
    await login_succeeded(request, limiter, email=email)
    set_user_context(user.id)
    events.record(BusinessEvent.LOGIN_SUCCEEDED, user_id=user.id)
    issued = await auth_service.issue_token(session, settings, user_id=user.id)
    response = see_other(target)
    set_auth_cookie(response, settings, issued)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, settings: SettingsDep) -> RedirectResponse:
    """End the session everywhere and go back to the login form."""
    check_form_origin(request, settings)
    cookie = request.cookies.get(settings.COOKIE_NAME)
    if cookie:
        await auth_service.revoke_token(session, settings, token=cookie)
    response = see_other(LOGIN)
    clear_auth_cookie(response, settings)
    return response


@router.get("", response_class=HTMLResponse)
async def home(
    request: Request, vendor: PageVendor, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The area's home: the store's link to share, the address's state, the area's pages."""
    profile = await users_service.account_profile(session, settings, user=vendor)
    return account_page(request, "home.html", active="home", profile=profile)


@router.post("/verify-email/resend", response_class=HTMLResponse)
async def resend_verification(
    request: Request,
    vendor: PageVendor,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    composer: ComposerDep,
) -> HTMLResponse:
    """Send a new verification email from the home page's button."""
    check_form_origin(request, settings)
    await guard_verification_resend(limiter, settings, user_id=vendor.id)
    sent = await recovery.resend_verification(session, composer, settings, user=vendor)
    return message_page(
        request,
        title="Verification email",
        message=VERIFICATION_SENT if sent else ALREADY_VERIFIED,
        link_url=HOME,
        link_text="Back to your account",
    )
