"""The HttpOnly `access_token` cookie the frontend relies on."""

from fastapi import Response

from app.services.auth import IssuedToken
from app.settings import Settings


def set_auth_cookie(response: Response, settings: Settings, issued: IssuedToken) -> None:
    response.set_cookie(
        settings.COOKIE_NAME,
        issued.token,
        max_age=settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
        expires=issued.expires_at,
        path="/",
        domain=settings.COOKIE_DOMAIN,
        secure=settings.cookie_secure,
        httponly=True,
        samesite=settings.cookie_samesite,
    )


def clear_auth_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        settings.COOKIE_NAME,
        path="/",
        domain=settings.COOKIE_DOMAIN,
        secure=settings.cookie_secure,
        httponly=True,
        samesite=settings.cookie_samesite,
    )
