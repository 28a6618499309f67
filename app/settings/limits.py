"""Limit settings: rate limits (and where their counters live) and request body sizes."""

from pydantic import Field

from app.settings.common import SettingsMixin


class LimitSettings(SettingsMixin):
    # Counters live in Redis when REDIS_URL is set (shared by every worker and instance; limits
    # fail open with a logged warning while it is away), else in the database.
    REDIS_URL: str | None = None
    REDIS_TIMEOUT: float = Field(default=0.5, gt=0)
    # Without REDIS_URL: each worker's connections for the counters, a pool of their own beside
    # the DB_POOL_SIZE the requests use. A request counts while it holds one of those (a click,
    # an order), so from the same pool, requests holding every connection all waited for a
    # second one until DB_POOL_TIMEOUT. A count is one short statement: two serve a busy worker.
    RATE_LIMIT_DB_POOL_SIZE: int = Field(default=2, ge=1)
    RATE_LIMIT_ENABLED: bool = True
    LOGIN_IP_LIMIT: int = Field(default=10, ge=1)
    LOGIN_IP_WINDOW_SECONDS: int = Field(default=60, ge=1)
    LOGIN_ACCOUNT_LIMIT: int = Field(default=5, ge=1)
    LOGIN_ACCOUNT_WINDOW_SECONDS: int = Field(default=900, ge=1)
    # Generous: mobile carriers put many vendors behind one shared (CGNAT) address.
    REGISTER_IP_LIMIT: int = Field(default=20, ge=1)
    REGISTER_IP_WINDOW_SECONDS: int = Field(default=3600, ge=1)
    CLICK_DEDUP_WINDOW_SECONDS: int = Field(default=3600, ge=1)
    # Guesses at the current password on the routes that ask for it (password change, account
    # deletion), for someone holding a stolen token: per account whatever the client, and per
    # client whatever the account; the account's count is cleared by the right password.
    PASSWORD_CHECK_RATE_LIMIT_ACCOUNT: int = Field(default=5, ge=1)
    PASSWORD_CHECK_RATE_LIMIT_CLIENT: int = Field(default=10, ge=1)
    PASSWORD_CHECK_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=900, ge=1)

    # Request bodies over these sizes are refused with 413 before they are read whole. Every body
    # but a photo form is held to JSON_MAX_BYTES: each one the API takes is a few KB, and a JSON
    # body is parsed on the event loop (~40 us per KB of the worst JSON here, in a thread or not:
    # the parser holds the GIL), so the cap is also the longest a body can stall the loop.
    JSON_MAX_BYTES: int = Field(default=64 * 1024, ge=1024)
    PRODUCT_FORM_MAX_BYTES: int = Field(default=51 * 1024 * 1024, ge=1024)
