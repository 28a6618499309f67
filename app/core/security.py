"""Password hashing (Argon2id, with the earlier backend's bcrypt hashes still verified) and JWTs.

Hashing is CPU-bound for tens of milliseconds, so the async helpers run it in a worker thread.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import anyio.to_thread
import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from app.core.config import Settings

JWT_ALGORITHM = "HS256"
# bcrypt only ever looked at the first 72 bytes; passlib truncated silently, bcrypt >= 5 raises.
BCRYPT_MAX_BYTES = 72


def _utf8(password: str) -> bytes:
    # surrogatepass: a lone surrogate (sendable as a JSON escape) hashes instead of raising;
    # every real password encodes exactly as before.
    return password.encode("utf-8", "surrogatepass")


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=settings.ARGON2_TIME_COST,
            memory_cost=settings.ARGON2_MEMORY_COST,
            parallelism=settings.ARGON2_PARALLELISM,
        )
        self._bcrypt = BcryptHasher()
        self._context = PasswordHash((self._argon2, self._bcrypt))
        self._dummy_hash: str | None = None
        # Each Argon2 run holds ARGON2_MEMORY_COST KiB: a login flood queues here instead of
        # growing the worker's memory (and starving other requests of CPU) without bound.
        self._concurrency = settings.PASSWORD_HASH_CONCURRENCY
        self._limiter: anyio.CapacityLimiter | None = None

    def hash_sync(self, password: str) -> str:
        return self._argon2.hash(_utf8(password))

    def verify_and_update_sync(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """Check a password; also returns a fresh Argon2 hash when the stored one is outdated."""
        if self._bcrypt.identify(hashed):
            try:
                ok = self._bcrypt.verify(_utf8(password)[:BCRYPT_MAX_BYTES], hashed)
            except ValueError:
                return False, None
            return ok, self.hash_sync(password) if ok else None
        try:
            return self._context.verify_and_update(_utf8(password), hashed)
        except (UnknownHashError, ValueError):
            return False, None

    def dummy_verify_sync(self, password: str) -> None:
        """Spend the same time as a real check, so an unknown email is not faster to reject."""
        if self._dummy_hash is None:
            self._dummy_hash = self._argon2.hash("dummy-password-for-timing")
        self._argon2.verify(_utf8(password), self._dummy_hash)

    def _threads(self) -> anyio.CapacityLimiter:
        # Created on first use: a limiter belongs to the running event loop.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._concurrency)
        return self._limiter

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self.hash_sync, password, limiter=self._threads())

    async def verify_and_update(self, password: str, hashed: str) -> tuple[bool, str | None]:
        return await anyio.to_thread.run_sync(
            self.verify_and_update_sync, password, hashed, limiter=self._threads()
        )

    async def dummy_verify(self, password: str) -> None:
        await anyio.to_thread.run_sync(self.dummy_verify_sync, password, limiter=self._threads())


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    session_id: str
    expires_at: datetime


class InvalidTokenError(Exception):
    """The token is malformed, forged, expired or for another audience."""


def create_access_token(
    settings: Settings, *, user_id: str, session_id: str, issued_at: datetime
) -> tuple[str, datetime]:
    expires_at = issued_at + timedelta(minutes=settings.ACCESS_TOKEN_EXPIRE_MINUTES)
    payload = {
        "sub": user_id,
        "sid": session_id,
        "iat": issued_at,
        "exp": expires_at,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
    }
    return jwt.encode(payload, settings.SECRET_KEY, algorithm=JWT_ALGORITHM), expires_at


def decode_access_token(settings: Settings, token: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            settings.SECRET_KEY,
            algorithms=[JWT_ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            options={"require": ["sub", "sid", "iat", "exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    sub, sid, exp = payload.get("sub"), payload.get("sid"), payload.get("exp")
    if not isinstance(sub, str) or not isinstance(sid, str) or not isinstance(exp, int | float):
        raise InvalidTokenError("malformed claims")
    return TokenClaims(user_id=sub, session_id=sid, expires_at=datetime.fromtimestamp(exp, tz=UTC))
