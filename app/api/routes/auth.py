"""Login, logout, token refresh and session check."""

from fastapi import APIRouter, Request, Response

from app.api.authentication import AuthDep, TokenDep, check_login_origin, unauthorized
from app.api.cookies import clear_auth_cookie, set_auth_cookie
from app.api.deps import EventsDep, HasherDep, LimiterDep, SessionDep, SettingsDep
from app.api.forms import parse_as, read_fields
from app.api.limits import guard_login, login_succeeded
from app.api.responses import errors, json_or_form_body
from app.observability.events import BusinessEvent
from app.observability.sentry import set_user_context
from app.schemas.auth import LoginRequest, SessionStatus, Token
from app.schemas.common import Message
from app.services import auth as auth_service

router = APIRouter(prefix="/api/auth", tags=["auth"])

BAD_CREDENTIALS = "Incorrect email or password"


@router.post(
    "/login",
    response_model=Token,
    responses=errors(400, 401, 403, 413, 415, 422, 429),
    openapi_extra=json_or_form_body(LoginRequest),
)
async def login(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
    events: EventsDep,
) -> Token:
    """Log in with email and password (JSON, or the OAuth2 form Swagger's Authorize sends)."""
    check_login_origin(request, settings)
    fields, _ = await read_fields(request)
    if "email" not in fields and "username" in fields:
        fields["email"] = fields["username"]
    data = parse_as(LoginRequest, fields)
    await guard_login(request, limiter, settings, email=data.email)
    user = await auth_service.authenticate(
        session, hasher, email=data.email, password=data.password
    )
    if user is None:
        events.record(BusinessEvent.LOGIN_FAILED, email_hash=events.email_fingerprint(data.email))
        raise unauthorized(BAD_CREDENTIALS)
    await login_succeeded(request, limiter, email=data.email)
    set_user_context(user.id)
    events.record(BusinessEvent.LOGIN_SUCCEEDED, user_id=user.id)
    issued = await auth_service.issue_token(session, settings, user_id=user.id)
    set_auth_cookie(response, settings, issued)
    return Token(access_token=issued.token)


@router.post("/logout", response_model=Message, responses=errors())
async def logout(
    response: Response, session: SessionDep, settings: SettingsDep, token: TokenDep
) -> Message:
    """Revoke the presented token everywhere and clear the cookie."""
    # No CSRF check here: a forged logout can only end the victim's own session.
    if token is not None:
        await auth_service.revoke_token(session, settings, token=token.value)
    clear_auth_cookie(response, settings)
    return Message(message="Successfully logged out")


@router.post("/refresh", response_model=Token, responses=errors(401, 403))
async def refresh(
    response: Response, session: SessionDep, settings: SettingsDep, auth: AuthDep
) -> Token:
    """Exchange a live token for a new one; the old one stops working."""
    issued = await auth_service.rotate_token(session, settings, current=auth)
    if issued is None:
        raise unauthorized()
    set_auth_cookie(response, settings, issued)
    return Token(access_token=issued.token)


@router.get("/check-session", response_model=SessionStatus, responses=errors())
async def check_session(
    session: SessionDep, settings: SettingsDep, token: TokenDep
) -> SessionStatus:
    """Whether the presented token belongs to a live session of an existing user."""
    if token is None:
        return SessionStatus(authenticated=False)
    auth = await auth_service.resolve_token(session, settings, token=token.value)
    return SessionStatus(authenticated=auth is not None)
