"""Who may try how often: login, registration, password checks, click counting, feedback,
the account emails and orders.

Login counts every attempt per address, and attempts per (normalised email, address) until one
succeeds. The second is keyed on the submitted email whether or not an account exists, so a 429
reveals nothing, and on the address too, so a stranger cannot lock a vendor out of every network.

The routes that ask for the current password (password change, email change, account deletion)
need the account's token, so a stranger cannot use them to lock the vendor out: their guesses are
counted per account whatever the address, and per address whatever the account, in one budget.

A client is its address as the proxies reported it, canonicalised, and an IPv6 client its /64
(`app/http/addresses.py`): one client in another notation, or rotating through its own network,
is still one client.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import HTTPException, Request, status

from app.api.deps import LimiterDep, SettingsDep
from app.http.addresses import limit_key
from app.ratelimit.limiter import AlreadyRunningError, Hit, RateLimiter
from app.settings import Settings

TOO_MANY_LOGINS = "Too many login attempts, please retry later"
TOO_MANY_REGISTRATIONS = "Too many sign-ups from this network, please retry later"
TOO_MANY_RESETS = "Too many password reset requests, please retry later"
TOO_MANY_LINKS = "Too many attempts with emailed links, please retry later"
TOO_MANY_VERIFICATIONS = "Too many verification emails asked for, please retry later"
TOO_MANY_PASSWORD_CHECKS = "Too many password attempts, please retry later"
PASSWORD_CHECK_RUNNING = "This account's password is being checked already, please retry"
TOO_MANY_REPORTS = "Too many feedback reports from this network, please retry later"
TOO_MANY_ORDERS = "Too many orders from this network, please retry later"


def client_ip(request: Request) -> str:
    """Who the limits count: the client's address (behind trusted proxies, the one they
    reported), or its /64 for IPv6."""
    return limit_key(request.client.host) if request.client else "unknown"


def normalised_email(email: str) -> str:
    return email.strip().lower()


def too_many(detail: str, retry_after: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, detail, headers={"Retry-After": str(retry_after)}
    )


def _refuse_if_over(hit: Hit | None, limit: int, detail: str) -> None:
    if hit is not None and hit.count > limit:
        raise too_many(detail, hit.retry_after)


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


@asynccontextmanager
async def password_check(
    request: Request, limiter: RateLimiter, settings: Settings, *, user_id: str
) -> AsyncIterator[None]:
    """Around a check of the account's current password: 429 past the limits, or while another
    check of the account runs in this worker (so a flood queues one hash, not hundreds); the
    right password (the block ending without an error) clears the account's count."""
    try:
        with limiter.one_at_a_time("password-check", user_id):
            window = settings.PASSWORD_CHECK_RATE_LIMIT_WINDOW_SECONDS
            per_client = await limiter.hit(
                "password-check-client", client_ip(request), window=window
            )
            _refuse_if_over(
                per_client, settings.PASSWORD_CHECK_RATE_LIMIT_CLIENT, TOO_MANY_PASSWORD_CHECKS
            )
            per_account = await limiter.hit("password-check-account", user_id, window=window)
            _refuse_if_over(
                per_account, settings.PASSWORD_CHECK_RATE_LIMIT_ACCOUNT, TOO_MANY_PASSWORD_CHECKS
            )
            yield
    except AlreadyRunningError:
        raise too_many(PASSWORD_CHECK_RUNNING, 1) from None
    await limiter.reset("password-check-account", user_id)


async def limit_registration(request: Request, limiter: LimiterDep, settings: SettingsDep) -> None:
    """Count a sign-up attempt from this address; 429 past REGISTER_IP_LIMIT per window."""
    hit = await limiter.hit(
        "register-ip", client_ip(request), window=settings.REGISTER_IP_WINDOW_SECONDS
    )
    _refuse_if_over(hit, settings.REGISTER_IP_LIMIT, TOO_MANY_REGISTRATIONS)


@asynccontextmanager
async def counted_click(
    request: Request, limiter: RateLimiter, settings: Settings, *, product_id: str
) -> AsyncIterator[bool]:
    """Whether this is the client's first click on the product in the window, with limits on or
    off (a dedupe, not a limit); if counting it then fails (the database is away), the click is
    forgotten, so the client's retry counts."""
    client = client_ip(request)
    hit = await limiter.seen(
        "click", product_id, client, window=settings.CLICK_DEDUP_WINDOW_SECONDS
    )
    first = hit is None or hit.count == 1
    try:
        yield first
    except BaseException:
        if first:
            await limiter.forget("click", product_id, client)
        raise


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


async def limit_feedback(request: Request, limiter: LimiterDep, settings: SettingsDep) -> None:
    """Count a feedback report from this address; 429 past FEEDBACK_RATE_LIMIT per window."""
    hit = await limiter.hit(
        "feedback-ip", client_ip(request), window=settings.FEEDBACK_RATE_LIMIT_WINDOW_SECONDS
    )
    _refuse_if_over(hit, settings.FEEDBACK_RATE_LIMIT, TOO_MANY_REPORTS)


async def guard_order(
    request: Request, limiter: RateLimiter, settings: Settings, *, vendor_id: str
) -> None:
    """Count an order from this client, across stores and in this store. No budget is shared by
    all of a store's shoppers, so no client can use one up and block the store's orders."""
    client = client_ip(request)
    window = settings.ORDER_RATE_LIMIT_WINDOW_SECONDS
    per_client = await limiter.hit("order-client", client, window=window)
    _refuse_if_over(per_client, settings.ORDER_RATE_LIMIT_PER_CLIENT, TOO_MANY_ORDERS)
    per_store = await limiter.hit("order-store-client", vendor_id, client, window=window)
    _refuse_if_over(per_store, settings.ORDER_RATE_LIMIT_PER_STORE_CLIENT, TOO_MANY_ORDERS)
