"""Logins as rows in `sessions`: issuing, checking, refreshing and revoking them."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Subquery, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.fastpath.reads import ReadQuery
from app.models import User, UserSession
from app.models.base import new_id, utcnow
from app.security.passwords import PasswordHasher
from app.security.tokens import InvalidTokenError, create_access_token, decode_access_token
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Authenticated:
    user: User
    session_id: str


async def authenticate(
    session: AsyncSession, hasher: PasswordHasher, *, email: str, password: str
) -> User | None:
    """The user whose password matches, re-hashing an outdated (bcrypt) hash on the way."""
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    # End the read transaction before hashing: the pooled connection must not sit idle for the
    # tens of milliseconds a hash takes while shoppers wait for one.
    await session.commit()
    if user is None:
        await hasher.dummy_verify(password)
        return None
    ok, new_hash = await hasher.verify_and_update(password, user.hashed_password)
    if not ok:
        return None
    if new_hash is not None:
        user.hashed_password = new_hash
        await session.commit()
    return user


def _new_session(settings: Settings, user_id: str) -> tuple[UserSession, IssuedToken]:
    now = utcnow()
    session_id = new_id("session")
    token, expires_at = create_access_token(
        settings, user_id=user_id, session_id=session_id, issued_at=now
    )
    row = UserSession(id=session_id, user_id=user_id, created_at=now, expires_at=expires_at)
    return row, IssuedToken(token=token, session_id=session_id, expires_at=expires_at)


async def issue_token(session: AsyncSession, settings: Settings, *, user_id: str) -> IssuedToken:
    row, issued = _new_session(settings, user_id)
    session.add(row)
    await session.commit()
    return issued


# A token is good while its session row is neither revoked nor expired: logout and password
# changes take effect at once. Parameters: session_id, user_id, now (live_session_params).
_LIVE_SESSION = (
    UserSession.user_id == User.id,
    UserSession.id == bindparam("session_id"),
    User.id == bindparam("user_id"),
    UserSession.revoked_at.is_(None),
    UserSession.expires_at > bindparam("now"),
)
_LIVE_USER = select(User).where(*_LIVE_SESSION)
LIVE_USER_ID = ReadQuery(select(User.id.label("user_id")).where(*_LIVE_SESSION))


def live_user_subquery() -> Subquery:
    """The live session's user id (column `user_id`; no row when the session is not live), to
    join a read to; takes the live_session_params."""
    return select(User.id.label("user_id")).where(*_LIVE_SESSION).subquery("me")


def live_session_params(settings: Settings, token: str) -> dict[str, object] | None:
    """The parameters of the live-session check for a token; None if the token itself is bad."""
    try:
        claims = decode_access_token(settings, token)
    except InvalidTokenError:
        return None
    return {"session_id": claims.session_id, "user_id": claims.user_id, "now": utcnow()}


async def resolve_token(
    session: AsyncSession, settings: Settings, *, token: str
) -> Authenticated | None:
    """The user behind a token whose session is live; one query."""
    params = live_session_params(settings, token)
    if params is None:
        return None
    user = await session.scalar(_LIVE_USER, params)
    return None if user is None else Authenticated(user=user, session_id=str(params["session_id"]))


async def revoke_token(session: AsyncSession, settings: Settings, *, token: str) -> None:
    """Revoke the presented token's session; a token that is already invalid changes nothing."""
    try:
        claims = decode_access_token(settings, token)
    except InvalidTokenError:
        return
    await session.execute(
        update(UserSession)
        .where(UserSession.id == claims.session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.commit()


async def rotate_token(
    session: AsyncSession, settings: Settings, *, current: Authenticated
) -> IssuedToken | None:
    """Revoke the current session and issue its successor in one transaction.

    None when a concurrent refresh or logout revoked the session first: a token is refreshed once.
    """
    result = await session.execute(
        update(UserSession)
        .where(UserSession.id == current.session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return None
    row, issued = _new_session(settings, current.user.id)
    session.add(row)
    await session.commit()
    return issued


async def purge_sessions(session: AsyncSession, *, before: datetime) -> int:
    """Delete sessions that expired or were revoked before `before`; their tokens are dead."""
    result = await session.execute(
        delete(UserSession).where(
            (UserSession.expires_at < before) | (UserSession.revoked_at < before)
        )
    )
    await session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
