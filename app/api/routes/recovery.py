"""Account recovery for API clients: password reset, email verification and email change.

The emails link to the HTML pages of app/api/routes/account_recovery.py; these JSON calls do the
same for a frontend of its own.
"""

from time import perf_counter

from fastapi import APIRouter, HTTPException, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.authentication import AuthDep, CurrentUser
from app.api.deps import (
    ComposerDep,
    EventsDep,
    HasherDep,
    LimiterDep,
    SessionDep,
    SettingsDep,
)
from app.api.limits import (
    answer_no_sooner,
    guard_account_token,
    guard_password_reset,
    guard_verification_resend,
    normalised_email,
    password_check,
)
from app.api.responses import errors
from app.mail.compose import EmailComposer
from app.observability.events import BusinessEvent, BusinessEvents
from app.ratelimit.limiter import RateLimiter
from app.schemas.auth import Detail, PasswordResetConfirm, PasswordResetRequest, TokenSubmission
from app.schemas.user import EmailChange
from app.services import recovery
from app.services.errors import (
    AccountTokenError,
    EmailTakenError,
    SameEmailError,
    WrongPasswordError,
)
from app.settings import Settings

router = APIRouter(prefix="/api", tags=["account recovery"])

RESET_ACCEPTED = "If that email has an account, a reset link is on its way."
PASSWORD_RESET_DONE = "Your password has been changed. Log in with the new one."
EMAIL_VERIFIED = "Your email address is confirmed."
VERIFICATION_SENT = "A new verification link is on its way."
ALREADY_VERIFIED = "Your email address is already confirmed."
EMAIL_CHANGE_SENT = "A confirmation link is on its way to the new address."
EMAIL_CHANGED = "Your email address has been changed."
EMAIL_TAKEN = "Email already registered"
SAME_EMAIL = "That is already your email address"
WRONG_PASSWORD = "Password is incorrect"


async def send_reset_link(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    composer: EmailComposer,
    events: BusinessEvents,
    *,
    email: str,
) -> None:
    """A reset request, from the JSON call or the form: limited per address and client (429),
    answered the same and no sooner whether or not the address has an account."""
    started = perf_counter()
    await guard_password_reset(request, limiter, settings, email=email)
    email = normalised_email(email)
    await recovery.request_password_reset(session, composer, settings, email=email)
    events.record(
        BusinessEvent.PASSWORD_RESET_REQUESTED, email_hash=events.email_fingerprint(email)
    )
    await answer_no_sooner(started, settings.PASSWORD_RESET_RESPONSE_SECONDS)


def bad_link(exc: AccountTokenError) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, exc.detail)


def email_taken() -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, EMAIL_TAKEN)


@router.post(
    "/auth/password-reset",
    response_model=Detail,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 413, 422, 429),
)
async def request_password_reset(
    data: PasswordResetRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    composer: ComposerDep,
    events: EventsDep,
) -> Detail:
    """Email a reset link if the address has an account; the answer is the same either way."""
    await send_reset_link(request, session, settings, limiter, composer, events, email=data.email)
    return Detail(detail=RESET_ACCEPTED)


@router.post(
    "/auth/password-reset/confirm", response_model=Detail, responses=errors(400, 413, 422, 429)
)
async def confirm_password_reset(
    data: PasswordResetConfirm,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
    events: EventsDep,
) -> Detail:
    """Set a new password with the emailed token; every session of the vendor is logged out."""
    await guard_account_token(request, limiter, settings)
    try:
        user_id = await recovery.reset_password(
            session, hasher, token=data.token, new_password=data.new_password
        )
    except AccountTokenError as exc:
        raise bad_link(exc) from None
    events.record(BusinessEvent.PASSWORD_RESET, user_id=user_id)
    return Detail(detail=PASSWORD_RESET_DONE)


@router.post("/auth/verify-email", response_model=Detail, responses=errors(400, 413, 422, 429))
async def verify_email(
    data: TokenSubmission,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    events: EventsDep,
) -> Detail:
    """Confirm the address with the token from the verification email."""
    await guard_account_token(request, limiter, settings)
    try:
        user_id = await recovery.verify_email(session, token=data.token)
    except AccountTokenError as exc:
        raise bad_link(exc) from None
    events.record(BusinessEvent.EMAIL_VERIFIED, user_id=user_id)
    return Detail(detail=EMAIL_VERIFIED)


@router.post(
    "/auth/verify-email/resend",
    response_model=Detail,
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"model": Detail, "description": "Already confirmed"}, **errors(401, 403, 429)},
)
async def resend_verification(
    response: Response,
    auth: AuthDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    composer: ComposerDep,
) -> Detail:
    """Send a new verification email (the previous link stops working)."""
    await guard_verification_resend(limiter, settings, user_id=auth.user.id)
    sent = await recovery.resend_verification(session, composer, settings, user=auth.user)
    if not sent:
        response.status_code = status.HTTP_200_OK
        return Detail(detail=ALREADY_VERIFIED)
    return Detail(detail=VERIFICATION_SENT)


@router.post(
    "/auth/confirm-email", response_model=Detail, responses=errors(400, 409, 413, 422, 429)
)
async def confirm_email_change(
    data: TokenSubmission,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    events: EventsDep,
) -> Detail:
    """Apply an email change with the token sent to the new address."""
    await guard_account_token(request, limiter, settings)
    try:
        user_id = await recovery.confirm_email_change(session, token=data.token)
    except AccountTokenError as exc:
        raise bad_link(exc) from None
    except EmailTakenError:
        raise email_taken() from None
    events.record(BusinessEvent.EMAIL_CHANGED, user_id=user_id)
    return Detail(detail=EMAIL_CHANGED)


@router.put(
    "/users/me/email",
    response_model=Detail,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(400, 401, 403, 409, 413, 422, 429),
)
async def change_email(
    data: EmailChange,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    hasher: HasherDep,
    limiter: LimiterDep,
    composer: ComposerDep,
    events: EventsDep,
) -> Detail:
    """Ask to move the account to a new address: it changes once the link sent there is opened;
    the current address is told."""
    try:
        async with password_check(request, limiter, settings, user_id=user.id):
            try:
                await recovery.request_email_change(
                    session,
                    hasher,
                    composer,
                    settings,
                    user=user,
                    new_email=data.new_email,
                    password=data.password,
                )
            except WrongPasswordError:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, WRONG_PASSWORD) from None
    except SameEmailError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, SAME_EMAIL) from None
    except EmailTakenError:
        raise email_taken() from None
    events.record(BusinessEvent.EMAIL_CHANGE_REQUESTED, user_id=user.id)
    return Detail(detail=EMAIL_CHANGE_SENT)
