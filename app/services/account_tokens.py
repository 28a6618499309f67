"""The single-use tokens in account emails: at least 128 random bits, stored only as a hash, dead
once used, expired, replaced by a newer one of the same kind, or when the password changes."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AccountToken
from app.models.base import utcnow
from app.services.errors import AccountTokenError

TOKEN_BYTES = 32  # 256 bits, 43 URL-safe characters
INVALID = "This link is not valid (a newer one may have replaced it). Ask for a new link."
USED = "This link was already used. Ask for a new link if you still need one."
EXPIRED = "This link has expired. Ask for a new link."


class TokenPurpose(StrEnum):
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFICATION = "email_verification"
    EMAIL_CHANGE = "email_change"


@dataclass(frozen=True, slots=True)
class IssuedLink:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Redeemed:
    user_id: str
    email: str


def hash_token(token: str) -> str:
    # A plain digest is enough: the token is random, so there is nothing to guess or precompute.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def issue(
    session: AsyncSession, *, user_id: str, purpose: TokenPurpose, email: str, lifetime: timedelta
) -> IssuedLink:
    """A new token in the caller's transaction; the vendor's unused ones of that kind die."""
    await session.execute(
        delete(AccountToken).where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose.value,
            AccountToken.used_at.is_(None),
        )
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    row = AccountToken(
        token_hash=hash_token(token),
        user_id=user_id,
        purpose=purpose.value,
        email=email,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    return IssuedLink(token=token, expires_at=row.expires_at)


def _problem(row: AccountToken | None, now: datetime) -> str | None:
    if row is None:
        return INVALID
    if row.used_at is not None:
        return USED
    if row.expires_at <= now:
        return EXPIRED
    return None


async def check(session: AsyncSession, *, token: str, purpose: TokenPurpose) -> Redeemed:
    """What a live token is for, without using it; AccountTokenError when it cannot be used."""
    row = await session.get(AccountToken, hash_token(token))
    if row is not None and row.purpose != purpose.value:
        row = None
    problem = _problem(row, utcnow())
    if problem is not None or row is None:
        raise AccountTokenError(problem or INVALID)
    return Redeemed(user_id=row.user_id, email=row.email)


async def redeem(session: AsyncSession, *, token: str, purpose: TokenPurpose) -> Redeemed:
    """Use the token in the caller's transaction; of two concurrent uses, one wins."""
    digest = hash_token(token)
    now = utcnow()
    result = await session.execute(
        update(AccountToken)
        .where(
            AccountToken.token_hash == digest,
            AccountToken.purpose == purpose.value,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(AccountToken.user_id, AccountToken.email)
    )
    used = result.one_or_none()
    if used is None:
        await check(session, token=token, purpose=purpose)  # raises with the reason
        raise AccountTokenError(USED)  # used between the two statements
    return Redeemed(user_id=used.user_id, email=used.email)


async def revoke_all(session: AsyncSession, *, user_id: str) -> None:
    """Every unused link of the vendor dies (used ones stay until they expire, to say so)."""
    await session.execute(
        delete(AccountToken).where(AccountToken.user_id == user_id, AccountToken.used_at.is_(None))
    )


async def pending_email(session: AsyncSession, *, user_id: str) -> str | None:
    """The new address of an email change waiting for its confirmation link, if any."""
    found: str | None = await session.scalar(
        select(AccountToken.email)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == TokenPurpose.EMAIL_CHANGE.value,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > utcnow(),
        )
        .order_by(AccountToken.created_at.desc())
        .limit(1)
    )
    return found


async def purge_tokens(session: AsyncSession, *, before: datetime) -> int:
    """Delete tokens that expired before `before`."""
    result = await session.execute(delete(AccountToken).where(AccountToken.expires_at < before))
    await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
