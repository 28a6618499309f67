"""Observability settings: log level, Sentry and its sample rates."""

from typing import Any, Literal

from pydantic import Field, field_validator

from app.settings.environment import EnvironmentSettings

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ObservabilitySettings(EnvironmentSettings):
    LOG_LEVEL: LogLevel = "INFO"

    SENTRY_DSN: str | None = None
    SENTRY_ENVIRONMENT: str | None = None
    SENTRY_RELEASE: str | None = None
    RENDER_GIT_COMMIT: str | None = None
    SENTRY_TRACES_SAMPLE_RATE: float | None = Field(default=None, ge=0, le=1)
    SENTRY_TEST_TOKEN: str | None = None
    SENTRY_SHUTDOWN_TIMEOUT: float = Field(default=2.0, ge=0)
    # Share of business events also sent to Sentry as messages (they are always logged).
    SENTRY_LOGIN_EVENT_RATE: float | None = Field(default=None, ge=0, le=1)
    SENTRY_REGISTRATION_EVENT_RATE: float = Field(default=1.0, ge=0, le=1)
    SENTRY_PRODUCT_EVENT_RATE: float = Field(default=1.0, ge=0, le=1)
    SENTRY_STOREFRONT_EVENT_RATE: float | None = Field(default=None, ge=0, le=1)

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def traces_sample_rate(self) -> float:
        return self.per_environment(self.SENTRY_TRACES_SAMPLE_RATE, (1.0, 0.5, 0.1))

    @property
    def login_event_rate(self) -> float:
        return self.per_environment(self.SENTRY_LOGIN_EVENT_RATE, (1.0, 1.0, 0.0))

    @property
    def storefront_event_rate(self) -> float:
        return self.per_environment(self.SENTRY_STOREFRONT_EVENT_RATE, (1.0, 0.1, 0.01))
