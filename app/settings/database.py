"""Database settings: where it is, the pool, timeouts, and how long the pre-start waits."""

from typing import Any

from pydantic import Field, field_validator

from app.settings.common import PROJECT_ROOT
from app.settings.environment import EnvironmentSettings

DEFAULT_SQLITE_URL = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'quickvendor.db'}"


def normalise_database_url(url: str) -> str:
    """Turn Render/Heroku-style URLs into the async driver URLs SQLAlchemy needs."""
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg2://",
        "postgresql+psycopg://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    return url


class DatabaseSettings(EnvironmentSettings):
    DATABASE_URL: str = DEFAULT_SQLITE_URL
    ALLOW_SQLITE_IN_PRODUCTION: bool = False
    # Ten connections kept open per worker. Overflow connections are closed again as soon as
    # they are returned, so under steady load above the pool size every request paid for a new
    # connection (bench/speed.py: storefront 0.48x -> 0.84x of the bare app at 8 connections).
    DB_POOL_SIZE: int = Field(default=10, ge=1)
    DB_MAX_OVERFLOW: int = Field(default=0, ge=0)
    DB_POOL_TIMEOUT: float = Field(default=5.0, gt=0)
    DB_POOL_RECYCLE: int = Field(default=1800, ge=-1)
    # A pooled connection idle this long is pinged before reuse (0: before every reuse).
    DB_POOL_PING_AFTER_IDLE_SECONDS: float = Field(default=10.0, ge=0)
    DB_STATEMENT_TIMEOUT_MS: int = Field(default=10_000, ge=0)
    HEALTH_DB_TIMEOUT: float = Field(default=2.0, gt=0)
    # Pre-start (`python -m app.prestart`): how long to wait for the database to answer.
    DB_WAIT_ATTEMPTS: int = Field(default=30, ge=1)
    DB_WAIT_INTERVAL: float = Field(default=2.0, gt=0)
    # Housekeeping: expired or revoked sessions and stale counters are deleted this long after.
    SESSION_RETENTION_DAYS: int = Field(default=7, ge=0)
    MAINTENANCE_INTERVAL_SECONDS: int = Field(default=900, ge=1)

    @field_validator("DATABASE_URL", mode="before")
    @classmethod
    def _normalise_db_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_SQLITE_URL
        return normalise_database_url(value.strip()) if isinstance(value, str) else value

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")
