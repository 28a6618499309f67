"""Limit settings: rate limits (and where their counters live) and request body sizes."""

from pydantic import Field

from app.settings.common import SettingsMixin


class LimitSettings(SettingsMixin):
    # Counters live in Redis when REDIS_URL is set (shared by every worker and instance; limits
    # fail open with a logged warning while it is away), else in the database.
    REDIS_URL: str | None = None
    REDIS_TIMEOUT: float = Field(default=0.5, gt=0)
    RATE_LIMIT_ENABLED: bool = True
    LOGIN_IP_LIMIT: int = Field(default=10, ge=1)
    LOGIN_IP_WINDOW_SECONDS: int = Field(default=60, ge=1)
    LOGIN_ACCOUNT_LIMIT: int = Field(default=5, ge=1)
    LOGIN_ACCOUNT_WINDOW_SECONDS: int = Field(default=900, ge=1)
    # Generous: mobile carriers put many vendors behind one shared (CGNAT) address.
    REGISTER_IP_LIMIT: int = Field(default=20, ge=1)
    REGISTER_IP_WINDOW_SECONDS: int = Field(default=3600, ge=1)
    CLICK_DEDUP_WINDOW_SECONDS: int = Field(default=3600, ge=1)

    # Request bodies over these sizes are refused with 413 before they are read whole.
    JSON_MAX_BYTES: int = Field(default=1024 * 1024, ge=1024)
    PRODUCT_FORM_MAX_BYTES: int = Field(default=51 * 1024 * 1024, ge=1024)
