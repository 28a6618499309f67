"""Account recovery settings: how long the links in account emails live, and how often they may
be asked for."""

from pydantic import Field

from app.settings.common import SettingsMixin


class AccountSettings(SettingsMixin):
    PASSWORD_RESET_TOKEN_MINUTES: int = Field(default=30, ge=1, le=24 * 60)
    # Also the lifetime of the link that confirms a new address after an email change.
    EMAIL_VERIFICATION_TOKEN_HOURS: int = Field(default=48, ge=1, le=30 * 24)
    # A reset request is answered no sooner than this, whether or not the address has an
    # account, so the time taken does not tell which.
    PASSWORD_RESET_RESPONSE_SECONDS: float = Field(default=0.4, ge=0, le=5)

    # Reset requests per address (known or not) and per client address, in one window.
    PASSWORD_RESET_RATE_LIMIT_PER_EMAIL: int = Field(default=3, ge=1)
    PASSWORD_RESET_RATE_LIMIT_PER_CLIENT: int = Field(default=10, ge=1)
    PASSWORD_RESET_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=3600, ge=1)
    # Links (reset, verification, email change) tried per client address: a token cannot be
    # guessed, and this keeps anyone from trying.
    ACCOUNT_TOKEN_RATE_LIMIT_PER_CLIENT: int = Field(default=30, ge=1)
    ACCOUNT_TOKEN_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=900, ge=1)
    # New verification emails a vendor may ask for.
    EMAIL_VERIFICATION_RATE_LIMIT_PER_ACCOUNT: int = Field(default=3, ge=1)
    EMAIL_VERIFICATION_RATE_LIMIT_WINDOW_SECONDS: int = Field(default=3600, ge=1)
