"""Account recovery by email: password reset, address verification and email change.

Each email is queued for delivery in the same transaction as its token, so a link is never
stored without its email nor sent without its token. Whoever opens a link has proved they read
that inbox: a password reset also verifies the address, which is how the real owner of an
address takes over an account someone else opened with it and never verified.
"""

from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.outbox import enqueue
from app.delivery.registry import EMAIL_KIND
from app.mail.compose import EmailComposer, EmailTemplate
from app.mail.message import OutgoingEmail
from app.models import User, UserSession
from app.models.base import utcnow
from app.security.passwords import PasswordHasher
from app.services import account_tokens
from app.services.account_tokens import INVALID, IssuedLink, TokenPurpose
from app.services.errors import (
    AccountTokenError,
    EmailTakenError,
    SameEmailError,
    WrongPasswordError,
)
from app.settings import Settings


def account_link(settings: Settings, page: str, token: str | None = None) -> str:
    query = f"?{urlencode({'token': token})}" if token is not None else ""
    return f"{settings.public_base_url}/account/{page}{query}"


async def _queue(
    session: AsyncSession, email: OutgoingEmail, *, user: User, link: IssuedLink
) -> None:
    # The job lives no longer than its link: an email that could not go out in time is dropped.
    await enqueue(
        session,
        kind=EMAIL_KIND,
        payload=email.payload(),
        vendor_id=user.id,
        expires_at=link.expires_at,
    )


def _verification_lifetime(settings: Settings) -> timedelta:
    return timedelta(hours=settings.EMAIL_VERIFICATION_TOKEN_HOURS)


async def _user(session: AsyncSession, user_id: str, email: str) -> User:
    """The token's vendor, if the token was sent to the address the account still has."""
    user = await session.get(User, user_id)
    if user is None or user.email != email:
        await session.rollback()
        raise AccountTokenError(INVALID)
    return user


async def queue_verification(
    session: AsyncSession, composer: EmailComposer, settings: Settings, *, user: User
) -> None:
    """Add a verification link and its email to the caller's transaction (not committed)."""
    link = await account_tokens.issue(
        session,
        user_id=user.id,
        purpose=TokenPurpose.EMAIL_VERIFICATION,
        email=user.email,
        lifetime=_verification_lifetime(settings),
    )
    email = composer.compose(
        EmailTemplate.VERIFY_EMAIL,
        to=user.email,
        link=account_link(settings, "verify-email", link.token),
        hours=settings.EMAIL_VERIFICATION_TOKEN_HOURS,
    )
    await _queue(session, email, user=user, link=link)


async def resend_verification(
    session: AsyncSession, composer: EmailComposer, settings: Settings, *, user: User
) -> bool:
    """Send a new verification link (the previous one dies); False when already verified."""
    if user.email_verified:
        return False
    await queue_verification(session, composer, settings, user=user)
    await session.commit()
    return True


async def verify_email(session: AsyncSession, *, token: str) -> str:
    """Mark the address the link was sent to as the vendor's own; returns the vendor's id."""
    redeemed = await account_tokens.redeem(
        session, token=token, purpose=TokenPurpose.EMAIL_VERIFICATION
    )
    user = await _user(session, redeemed.user_id, redeemed.email)
    user.email_verified = True
    user.updated_at = utcnow()
    await session.commit()
    return user.id


async def request_password_reset(
    session: AsyncSession, composer: EmailComposer, settings: Settings, *, email: str
) -> None:
    """Queue a reset link if the address has an account; the caller answers the same either way."""
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        await session.commit()
        return
    link = await account_tokens.issue(
        session,
        user_id=user.id,
        purpose=TokenPurpose.PASSWORD_RESET,
        email=user.email,
        lifetime=timedelta(minutes=settings.PASSWORD_RESET_TOKEN_MINUTES),
    )
    message = composer.compose(
        EmailTemplate.PASSWORD_RESET,
        to=user.email,
        link=account_link(settings, "reset-password", link.token),
        minutes=settings.PASSWORD_RESET_TOKEN_MINUTES,
    )
    await _queue(session, message, user=user, link=link)
    await session.commit()


async def check_reset_token(session: AsyncSession, *, token: str) -> None:
    """AccountTokenError unless the reset link can still be used (the form checks it first)."""
    await account_tokens.check(session, token=token, purpose=TokenPurpose.PASSWORD_RESET)
    await session.commit()


async def reset_password(
    session: AsyncSession, hasher: PasswordHasher, *, token: str, new_password: str
) -> str:
    """Set the password from a reset link: every session and every other link of the vendor
    dies, and the address counts as verified. Returns the vendor's id."""
    await check_reset_token(session, token=token)  # no hashing work for a dead link
    hashed = await hasher.hash(new_password)
    redeemed = await account_tokens.redeem(
        session, token=token, purpose=TokenPurpose.PASSWORD_RESET
    )
    user = await _user(session, redeemed.user_id, redeemed.email)
    now = utcnow()
    user.hashed_password = hashed
    user.email_verified = True
    user.updated_at = now
    await session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await account_tokens.revoke_all(session, user_id=user.id)
    await session.commit()
    return user.id


async def request_email_change(
    session: AsyncSession,
    hasher: PasswordHasher,
    composer: EmailComposer,
    settings: Settings,
    *,
    user: User,
    new_email: str,
    password: str,
) -> None:
    """Send a confirmation link to the new address and a notice to the current one; the
    address changes only when the link is opened."""
    await session.commit()  # no connection held while the password is checked
    ok, _ = await hasher.verify_and_update(password, user.hashed_password)
    if not ok:
        raise WrongPasswordError
    if new_email == user.email:
        raise SameEmailError
    if await session.scalar(select(User.id).where(User.email == new_email)):
        raise EmailTakenError
    link = await account_tokens.issue(
        session,
        user_id=user.id,
        purpose=TokenPurpose.EMAIL_CHANGE,
        email=new_email,
        lifetime=_verification_lifetime(settings),
    )
    confirmation = composer.compose(
        EmailTemplate.CONFIRM_EMAIL_CHANGE,
        to=new_email,
        link=account_link(settings, "confirm-email", link.token),
        hours=settings.EMAIL_VERIFICATION_TOKEN_HOURS,
    )
    notice = composer.compose(
        EmailTemplate.EMAIL_CHANGE_NOTICE,
        to=user.email,
        reset_url=account_link(settings, "forgot-password"),
    )
    await _queue(session, confirmation, user=user, link=link)
    await _queue(session, notice, user=user, link=link)
    await session.commit()


async def confirm_email_change(session: AsyncSession, *, token: str) -> str:
    """Move the account to the confirmed address (verified); the old address's links die.
    Returns the vendor's id."""
    redeemed = await account_tokens.redeem(session, token=token, purpose=TokenPurpose.EMAIL_CHANGE)
    user = await session.get(User, redeemed.user_id)
    if user is None:
        await session.rollback()
        raise AccountTokenError(INVALID)
    taken = await session.scalar(
        select(User.id).where(User.email == redeemed.email, User.id != user.id)
    )
    if taken:
        await session.rollback()
        raise EmailTakenError
    user.email = redeemed.email
    user.email_verified = True
    user.updated_at = utcnow()
    await account_tokens.revoke_all(session, user_id=user.id)
    try:
        await session.commit()
    except IntegrityError:  # taken by a sign-up in the meantime
        await session.rollback()
        raise EmailTakenError from None
    return user.id
