"""The pages the account emails link to, and the forgotten-password form: plain HTML forms that
work without JavaScript, on the same services as the JSON calls of recovery.py."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import HTMLResponse

from app.api.account_area import account_page, form_text, message_page
from app.api.authentication import check_form_origin
from app.api.deps import ComposerDep, EventsDep, HasherDep, LimiterDep, SessionDep, SettingsDep
from app.api.forms import read_fields
from app.api.limits import guard_account_token, normalised_email
from app.api.routes.recovery import (
    EMAIL_CHANGED,
    EMAIL_TAKEN,
    EMAIL_VERIFIED,
    PASSWORD_RESET_DONE,
    RESET_ACCEPTED,
    send_reset_link,
)
from app.observability.events import BusinessEvent
from app.schemas.user import PASSWORD_MAX, PASSWORD_MIN
from app.services import recovery
from app.services.errors import AccountTokenError, EmailTakenError

router = APIRouter(prefix="/account", tags=["vendor area"], include_in_schema=False)

# The token is in the page's URL: no Referer may carry it to another site (or to our own logs).
TOKEN_PAGE_HEADERS = {"Referrer-Policy": "no-referrer"}
LinkToken = Annotated[str, Query(min_length=1, max_length=256)]
PASSWORDS_DIFFER = "The two passwords are not the same."
PASSWORD_LENGTH = f"Choose a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters."
ENTER_EMAIL = "Enter the email address of your account."


def link_done(request: Request, *, title: str, message: str) -> HTMLResponse:
    return message_page(
        request,
        title=title,
        message=message,
        link_url="/account/",
        link_text="Go to your account",
        headers=TOKEN_PAGE_HEADERS,
    )


def link_problem(request: Request, detail: str, *, status_code: int = 400) -> HTMLResponse:
    return message_page(
        request,
        title="This link cannot be used",
        message=detail,
        status_code=status_code,
        link_url="/account/",
        link_text="Go to your account",
        headers=TOKEN_PAGE_HEADERS,
    )


@router.get("/forgot-password", response_class=HTMLResponse)
async def forgot_password_page(request: Request) -> HTMLResponse:
    """The form that asks for a reset link."""
    return account_page(request, "forgot_password.html", email="", error=None)


@router.post("/forgot-password", response_class=HTMLResponse)
async def forgot_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    composer: ComposerDep,
    events: EventsDep,
) -> HTMLResponse:
    """Email a reset link if the address has an account; the page is the same either way."""
    check_form_origin(request, settings)
    fields, _ = await read_fields(request)
    email = normalised_email(form_text(fields, "email", 320))
    if not email:
        return account_page(
            request, "forgot_password.html", status_code=400, email="", error=ENTER_EMAIL
        )
    try:
        await send_reset_link(request, session, settings, limiter, composer, events, email=email)
    except HTTPException as exc:  # the limits' 429
        return account_page(
            request,
            "forgot_password.html",
            status_code=exc.status_code,
            headers=exc.headers,
            email=email,
            error=str(exc.detail),
        )
    return message_page(request, title="Check your email", message=RESET_ACCEPTED)


def reset_form(
    request: Request, *, token: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    return account_page(
        request,
        "reset_password.html",
        status_code=status_code,
        headers=TOKEN_PAGE_HEADERS,
        token=token,
        error=error,
        password_min=PASSWORD_MIN,
        password_max=PASSWORD_MAX,
    )


@router.get("/reset-password", response_class=HTMLResponse)
async def reset_password_page(
    request: Request,
    token: LinkToken,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> HTMLResponse:
    """The new-password form of a reset link (a dead link says why instead)."""
    await guard_account_token(request, limiter, settings)
    try:
        await recovery.check_reset_token(session, token=token)
    except AccountTokenError as exc:
        return link_problem(request, exc.detail)
    return reset_form(request, token=token)


@router.post("/reset-password", response_class=HTMLResponse)
async def reset_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
    events: EventsDep,
) -> HTMLResponse:
    """Set the new password: a success page, or the form again with the reason (400).

    No Origin check: this page's no-referrer policy makes browsers send `Origin: null`, and the
    form needs none, for the token it carries is what authorises it and no other site knows it.
    """
    await guard_account_token(request, limiter, settings)
    fields, _ = await read_fields(request)
    token = form_text(fields, "token", 256)
    password = form_text(fields, "new_password", PASSWORD_MAX + 1)
    confirm = form_text(fields, "confirm_password", PASSWORD_MAX + 1)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return reset_form(request, token=token, error=PASSWORD_LENGTH, status_code=400)
    if password != confirm:
        return reset_form(request, token=token, error=PASSWORDS_DIFFER, status_code=400)
    try:
        user_id = await recovery.reset_password(session, hasher, token=token, new_password=password)
    except AccountTokenError as exc:
        return reset_form(request, token=token, error=exc.detail, status_code=400)
    events.record(BusinessEvent.PASSWORD_RESET, user_id=user_id)
    return message_page(
        request,
        title="Password changed",
        message=PASSWORD_RESET_DONE,
        link_url="/account/login",
        link_text="Log in",
        headers=TOKEN_PAGE_HEADERS,
    )


@router.get("/verify-email", response_class=HTMLResponse)
async def verify_email_page(
    request: Request,
    token: LinkToken,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    events: EventsDep,
) -> HTMLResponse:
    """Opening the verification link confirms the address."""
    await guard_account_token(request, limiter, settings)
    try:
        user_id = await recovery.verify_email(session, token=token)
    except AccountTokenError as exc:
        return link_problem(request, exc.detail)
    events.record(BusinessEvent.EMAIL_VERIFIED, user_id=user_id)
    return link_done(request, title="Email confirmed", message=EMAIL_VERIFIED)


@router.get("/confirm-email", response_class=HTMLResponse)
async def confirm_email_page(
    request: Request,
    token: LinkToken,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    events: EventsDep,
) -> HTMLResponse:
    """Opening the link sent to a new address moves the account to it."""
    await guard_account_token(request, limiter, settings)
    try:
        user_id = await recovery.confirm_email_change(session, token=token)
    except AccountTokenError as exc:
        return link_problem(request, exc.detail)
    except EmailTakenError:
        return link_problem(request, f"{EMAIL_TAKEN}.", status_code=409)
    events.record(BusinessEvent.EMAIL_CHANGED, user_id=user_id)
    return link_done(request, title="Email changed", message=EMAIL_CHANGED)
