"""Who may try how often: login, registration, click counting, feedback and the account
emails.

Login counts every attempt per address, and attempts per (normalised email, address) until one
succeeds. The second is keyed on the submitted email whether or not an account exists, so a 429
reveals nothing, and on the address too, so a stranger cannot lock a vendor out of every network.
"""

import asyncio
import time

from fastapi import HTTPException, Request, status

from app.api.deps import LimiterDep, SettingsDep
from app.ratelimit.limiter import Hit, RateLimiter
from app.settings import Settings

TOO_MANY_LOGINS = "Too many login attempts, please retry later"
TOO_MANY_REGISTRATIONS = "Too many sign-ups from this network, please retry later"
TOO_MANY_RESETS = "Too many password reset requests, please retry later"
TOO_MANY_LINKS = "Too many attempts with emailed links, please retry later"
TOO_MANY_VERIFICATIONS = "Too many verification emails asked for, please retry later"
TOO_MANY_EMAIL_CHANGES = "Too many email change attempts, please retry later"
TOO_MANY_REPORTS = "Too many feedback reports from this network, please retry later"


def client_ip(request: Request) -> str:
    """The client's address (behind trusted proxies, the one they reported)."""
    return request.client.host if request.client else "unknown"


def normalised_email(email: str) -> str:
    return email.strip().lower()


def _refuse_if_over(hit: Hit | None, limit: int, detail: str) -> None:
    if hit is not None and hit.count > limit:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail,
            headers={"Retry-After": str(hit.retry_after)},
        )


async def guard_login(
    request: Request, limiter: RateLimiter, settings: Settings, *, email: str
) -> None:
    """Count a login attempt; 429 once the address or this email from it has tried too often."""
    ip = client_ip(request)
    per_ip = await limiter.hit("login-ip", ip, window=settings.LOGIN_IP_WINDOW_SECONDS)
    _refuse_if_over(per_ip, settings.LOGIN_IP_LIMIT, TOO_MANY_LOGINS)
    per_account = await limiter.hit(
        "login-account",
        normalised_email(email),
        ip,
        window=settings.LOGIN_ACCOUNT_WINDOW_SECONDS,
    )
    _refuse_if_over(per_account, settings.LOGIN_ACCOUNT_LIMIT, TOO_MANY_LOGINS)


async def login_succeeded(request: Request, limiter: RateLimiter, *, email: str) -> None:
    """The right password clears that email's failed attempts from this address."""
    await limiter.reset("login-account", normalised_email(email), client_ip(request))


async def limit_registration(request: Request, limiter: LimiterDep, settings: SettingsDep) -> None:
    """Count a sign-up attempt from this address; 429 past REGISTER_IP_LIMIT per window."""
    hit = await limiter.hit(
        "register-ip", client_ip(request), window=settings.REGISTER_IP_WINDOW_SECONDS
    )
    _refuse_if_over(hit, settings.REGISTER_IP_LIMIT, TOO_MANY_REGISTRATIONS)


async def first_click(
    request: Request, limiter: RateLimiter, settings: Settings, *, product_id: str
) -> bool:
    """Whether this is the client's first click on the product in the window (counted)."""
    hit = await limiter.hit(
        "click", product_id, client_ip(request), window=settings.CLICK_DEDUP_WINDOW_SECONDS
    )
    return hit is None or hit.count == 1


async def guard_password_reset(
    request: Request, limiter: RateLimiter, settings: Settings, *, email: str
) -> None:
    """Count a reset request per client and per address, whether or not the address has an
    account, so a 429 tells nothing either; it also caps the emails one inbox can be sent."""
    window = settings.PASSWORD_RESET_RATE_LIMIT_WINDOW_SECONDS
    per_client = await limiter.hit("reset-client", client_ip(request), window=window)
    _refuse_if_over(per_client, settings.PASSWORD_RESET_RATE_LIMIT_PER_CLIENT, TOO_MANY_RESETS)
    per_email = await limiter.hit("reset-email", normalised_email(email), window=window)
    _refuse_if_over(per_email, settings.PASSWORD_RESET_RATE_LIMIT_PER_EMAIL, TOO_MANY_RESETS)


async def answer_no_sooner(started: float, seconds: float) -> None:
    """Wait until `seconds` after `started` (time.perf_counter()): a reset request takes the
    same time whether or not it found an account and queued an email."""
    remaining = seconds - (time.perf_counter() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)


async def guard_account_token(request: Request, limiter: RateLimiter, settings: Settings) -> None:
    """Count a use of an emailed link (valid or not) from this client."""
    hit = await limiter.hit(
        "account-token",
        client_ip(request),
        window=settings.ACCOUNT_TOKEN_RATE_LIMIT_WINDOW_SECONDS,
    )
    _refuse_if_over(hit, settings.ACCOUNT_TOKEN_RATE_LIMIT_PER_CLIENT, TOO_MANY_LINKS)


async def guard_verification_resend(
    limiter: RateLimiter, settings: Settings, *, user_id: str
) -> None:
    hit = await limiter.hit(
        "verify-resend", user_id, window=settings.EMAIL_VERIFICATION_RATE_LIMIT_WINDOW_SECONDS
    )
    _refuse_if_over(hit, settings.EMAIL_VERIFICATION_RATE_LIMIT_PER_ACCOUNT, TOO_MANY_VERIFICATIONS)


async def guard_email_change(
    request: Request, limiter: RateLimiter, settings: Settings, *, user_id: str
) -> None:
    """An email change confirms the password: guesses with a stolen token are counted per
    account from this client, and per account from everywhere."""
    window = settings.EMAIL_CHANGE_RATE_LIMIT_WINDOW_SECONDS
    per_client = await limiter.hit("email-change", user_id, client_ip(request), window=window)
    _refuse_if_over(per_client, settings.EMAIL_CHANGE_RATE_LIMIT_PER_CLIENT, TOO_MANY_EMAIL_CHANGES)
    per_account = await limiter.hit("email-change-account", user_id, window=window)
    _refuse_if_over(
        per_account, settings.EMAIL_CHANGE_RATE_LIMIT_PER_ACCOUNT, TOO_MANY_EMAIL_CHANGES
    )


async def limit_feedback(request: Request, limiter: LimiterDep, settings: SettingsDep) -> None:
    """Count a feedback report from this address; 429 past FEEDBACK_RATE_LIMIT per window."""
    hit = await limiter.hit(
        "feedback-ip", client_ip(request), window=settings.FEEDBACK_RATE_LIMIT_WINDOW_SECONDS
    )
    _refuse_if_over(hit, settings.FEEDBACK_RATE_LIMIT, TOO_MANY_REPORTS)
