"""Login tokens: HS256 JWTs naming a user and a session (PyJWT)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt

from app.settings import Settings

JWT_ALGORITHM = "HS256"


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
    secret, audience, issuer = settings.SECRET_KEY, settings.JWT_AUDIENCE, settings.JWT_ISSUER
    claims = _verified_claims(token, secret, audience, issuer)
    # Checked on every use, cached or not: a cached token still expires on time.
    if claims.expires_at <= datetime.now(UTC):
        raise InvalidTokenError("Signature has expired")
    return claims


# A vendor's dashboard presents the same token on every request, and verifying it (signature and
# claims) cost as much as a query. Only tokens that verified are kept, keyed by their exact text
# and the key and audience they verified against; expiry is checked again on every use, and
# whether the session is live is the database's answer each time.
@lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str, audience: str, issuer: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["sub", "sid", "iat", "exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    sub, sid, exp = payload.get("sub"), payload.get("sid"), payload.get("exp")
    if not isinstance(sub, str) or not isinstance(sid, str) or not isinstance(exp, int | float):
        raise InvalidTokenError("malformed claims")
    return TokenClaims(user_id=sub, session_id=sid, expires_at=datetime.fromtimestamp(exp, tz=UTC))
