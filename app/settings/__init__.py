"""Application settings, one mixin per concern, combined here and read once from the environment.

Only the app factory (`app.main`) and the command-line entry points call `get_settings()`;
everything else is handed the `Settings` object it needs.
"""

from functools import lru_cache
from typing import Self

from pydantic import ValidationError, model_validator

from app.settings.accounts import AccountSettings
from app.settings.analytics import AnalyticsSettings
from app.settings.auth import MIN_SECRET_BYTES, MIN_SECRET_DISTINCT_CHARACTERS, AuthSettings
from app.settings.common import PROJECT_ROOT
from app.settings.database import DEFAULT_SQLITE_URL, DatabaseSettings, normalise_database_url
from app.settings.delivery import DeliverySettings
from app.settings.feedback import FeedbackSettings
from app.settings.images import ImageSettings
from app.settings.limits import LimitSettings
from app.settings.mail import MailSettings
from app.settings.observability import ObservabilitySettings
from app.settings.orders import OrderSettings
from app.settings.server import ServerSettings
from app.settings.storage import StorageSettings
from app.settings.store import StoreSettings

__all__ = [
    "DEFAULT_SQLITE_URL",
    "PROJECT_ROOT",
    "Settings",
    "get_settings",
    "load_settings",
    "normalise_database_url",
    "settings_error",
]


class Settings(
    ServerSettings,
    DatabaseSettings,
    AuthSettings,
    ObservabilitySettings,
    StorageSettings,
    ImageSettings,
    LimitSettings,
    StoreSettings,
    MailSettings,
    AccountSettings,
    DeliverySettings,
    FeedbackSettings,
    AnalyticsSettings,
    OrderSettings,
):
    """Every setting; each concern's fields and rules live in its own mixin."""

    @property
    def share_base_url(self) -> str:
        """Where the store pages are shared from: SHARE_BASE_URL, else the API's own origin."""
        return self.SHARE_BASE_URL or self.public_base_url

    @model_validator(mode="after")
    def _refuse_unsafe_deployments(self) -> Self:
        """Outside development, refuse to start on settings that would expose accounts, each
        with a one-line reason: staging for what it sets, production for its defaults too."""
        if self.ENVIRONMENT == "development":
            return self
        problems = self._unsafe_settings()
        if self.ENVIRONMENT == "production":
            problems += self._unsafe_production_defaults()
        if problems:
            raise ValueError(f"refusing to start in {self.ENVIRONMENT}: " + "; ".join(problems))
        return self

    def _unsafe_settings(self) -> list[str]:
        problems = []
        if self.weak_secret:
            problems.append(
                f"SECRET_KEY must be a random value of at least {MIN_SECRET_BYTES} bytes with at "
                f"least {MIN_SECRET_DISTINCT_CHARACTERS} distinct characters, not a known default "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if any("*" in origin or origin.strip().lower() == "null" for origin in self.CORS_ORIGINS):
            problems.append(
                "CORS_ORIGINS must list the frontend's exact origins: no wildcard and no null "
                "(a credentialed answer to any page, or to sandboxed and file: pages)"
            )
        if self.COOKIE_SECURE is False:
            problems.append("COOKIE_SECURE=false would send the login cookie over plain HTTP")
        if "*" in self.TRUSTED_PROXIES:
            problems.append(
                "TRUSTED_PROXIES=* lets any client choose its address (X-Forwarded-For); "
                "list the proxies' networks"
            )
        return problems

    def _unsafe_production_defaults(self) -> list[str]:
        problems = []
        if self.is_sqlite and not self.ALLOW_SQLITE_IN_PRODUCTION:
            problems.append(
                "DATABASE_URL points at SQLite; set a PostgreSQL URL "
                "(or ALLOW_SQLITE_IN_PRODUCTION=true for a single-instance trial)"
            )
        if self.cookie_samesite == "none" and not self.CORS_ORIGINS:
            problems.append(
                "CORS_ORIGINS must list the frontend's exact origins when cookies are cross-site"
            )
        return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_error(exc: ValidationError) -> str:
    """A refused configuration as one line, for a process to exit with."""
    reasons = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in error["loc"])
        reasons.append(f"{field}: {message}" if field else message)
    return "configuration error: " + "; ".join(reasons).replace("\n", " ")


def load_settings() -> Settings:
    """The settings, or exit with a one-line reason (processes call this before anything)."""
    try:
        return get_settings()
    except ValidationError as exc:
        raise SystemExit(settings_error(exc)) from None
