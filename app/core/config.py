"""Application settings, read once from the environment (and a local `.env`)."""

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "staging", "production"]
SameSite = Literal["lax", "strict", "none"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE_URL = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'quickvendor.db'}"
# Values that have shipped in examples or in the earlier backend: never valid outside development.
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "secret",
        "your-secret-key",
        "your-secret-key-here",
        "dev-secret-key",
        "development-secret-key-not-for-production",
    }
)
DEV_SECRET_KEY = "development-secret-key-not-for-production"
MIN_SECRET_BYTES = 32


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


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string, as typed into Render's dashboard."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    ENVIRONMENT: Environment = "development"
    PROJECT_NAME: str = "QuickVendor API"
    VERSION: str = "1.0.0"

    DATABASE_URL: str = DEFAULT_SQLITE_URL
    ALLOW_SQLITE_IN_PRODUCTION: bool = False
    DB_POOL_SIZE: int = Field(default=5, ge=1)
    DB_MAX_OVERFLOW: int = Field(default=5, ge=0)
    DB_POOL_TIMEOUT: float = Field(default=5.0, gt=0)
    DB_POOL_RECYCLE: int = Field(default=1800, ge=-1)
    DB_STATEMENT_TIMEOUT_MS: int = Field(default=10_000, ge=0)
    HEALTH_DB_TIMEOUT: float = Field(default=2.0, gt=0)

    SECRET_KEY: str = DEV_SECRET_KEY
    JWT_ISSUER: str = "quickvendor-api"
    JWT_AUDIENCE: str = "quickvendor-web"
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(default=7 * 24 * 60, ge=1)

    # Argon2id cost; tests lower it through the environment to stay fast.
    ARGON2_TIME_COST: int = Field(default=2, ge=1)
    ARGON2_MEMORY_COST: int = Field(default=19_456, ge=8)
    ARGON2_PARALLELISM: int = Field(default=1, ge=1)
    # Password hashes computed at once per worker; more wait their turn.
    PASSWORD_HASH_CONCURRENCY: int = Field(default=2, ge=1)

    CORS_ORIGINS: Annotated[list[str], NoDecode] = []
    FRONTEND_URL: str = "http://localhost:3000"

    COOKIE_NAME: str = "access_token"
    COOKIE_SECURE: bool | None = None
    COOKIE_SAMESITE: SameSite | None = None
    COOKIE_DOMAIN: str | None = None

    DEFAULT_COUNTRY_CODE: str = Field(default="234", pattern=r"^[1-9][0-9]{0,2}$")

    LOG_LEVEL: str = "INFO"

    SENTRY_DSN: str | None = None
    SENTRY_ENVIRONMENT: str | None = None
    SENTRY_RELEASE: str | None = None
    RENDER_GIT_COMMIT: str | None = None
    SENTRY_TRACES_SAMPLE_RATE: float | None = Field(default=None, ge=0, le=1)
    SENTRY_TEST_TOKEN: str | None = None

    # Rate limits. Counters live in Redis when REDIS_URL is set (shared by every worker and
    # instance; limits fail open with a logged warning while it is away), else in the database.
    REDIS_URL: str | None = None
    REDIS_TIMEOUT: float = Field(default=0.5, gt=0)
    RATE_LIMIT_ENABLED: bool = True
    LOGIN_IP_LIMIT: int = Field(default=10, ge=1)
    LOGIN_IP_WINDOW_SECONDS: int = Field(default=60, ge=1)
    LOGIN_ACCOUNT_LIMIT: int = Field(default=5, ge=1)
    LOGIN_ACCOUNT_WINDOW_SECONDS: int = Field(default=900, ge=1)
    REGISTER_IP_LIMIT: int = Field(default=5, ge=1)
    REGISTER_IP_WINDOW_SECONDS: int = Field(default=3600, ge=1)
    CLICK_DEDUP_WINDOW_SECONDS: int = Field(default=3600, ge=1)
    # Peers (IPs or CIDR networks, "*" for any) whose X-Forwarded-For/-Proto are believed.
    TRUSTED_PROXIES: Annotated[list[str], NoDecode] = []
    # Proxies in the chain beyond the trusted peer whose addresses are not listed (Render's
    # Cloudflare edge appends one): that many right-most X-Forwarded-For entries are skipped.
    TRUSTED_PROXY_EXTRA_HOPS: int = Field(default=0, ge=0, le=5)
    # Housekeeping: expired or revoked sessions and stale counters are deleted this long after.
    SESSION_RETENTION_DAYS: int = Field(default=7, ge=0)
    MAINTENANCE_INTERVAL_SECONDS: int = Field(default=900, ge=10)

    # Request bodies over these sizes are refused with 413 before they are read whole.
    JSON_MAX_BYTES: int = Field(default=1024 * 1024, ge=1024)
    PRODUCT_FORM_MAX_BYTES: int = Field(default=51 * 1024 * 1024, ge=1024)
    HSTS_MAX_AGE_SECONDS: int = Field(default=31_536_000, ge=0)

    @field_validator("CORS_ORIGINS", "TRUSTED_PROXIES", mode="before")
    @classmethod
    def _parse_lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("TRUSTED_PROXIES")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("CORS_ORIGINS")
    @classmethod
    def _strip_origins(cls, value: list[str]) -> list[str]:
        return [origin.rstrip("/") for origin in value]

    @field_validator("DATABASE_URL", mode="before")
    @classmethod
    def _normalise_db_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_SQLITE_URL
        return normalise_database_url(value.strip()) if isinstance(value, str) else value

    @field_validator("FRONTEND_URL")
    @classmethod
    def _strip_frontend(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.ENVIRONMENT == "development":
            return self
        problems = []
        if (
            self.SECRET_KEY in KNOWN_DEFAULT_SECRETS
            or len(self.SECRET_KEY.encode()) < MIN_SECRET_BYTES
        ):
            problems.append(
                f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_BYTES} bytes "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.ENVIRONMENT == "production":
            if self.is_sqlite and not self.ALLOW_SQLITE_IN_PRODUCTION:
                problems.append(
                    "DATABASE_URL points at SQLite; set a PostgreSQL URL "
                    "(or ALLOW_SQLITE_IN_PRODUCTION=true for a single-instance trial)"
                )
            if self.cookie_samesite == "none" and (
                not self.CORS_ORIGINS or any("*" in origin for origin in self.CORS_ORIGINS)
            ):
                problems.append(
                    "CORS_ORIGINS must list the frontend's exact origins (no wildcard) "
                    "when cookies are cross-site"
                )
        if problems:
            raise ValueError(f"refusing to start in {self.ENVIRONMENT}: " + "; ".join(problems))
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.ENVIRONMENT == "production"

    @property
    def cookie_secure(self) -> bool:
        return self.is_production if self.COOKIE_SECURE is None else self.COOKIE_SECURE

    @property
    def cookie_samesite(self) -> SameSite:
        if self.COOKIE_SAMESITE is not None:
            return self.COOKIE_SAMESITE
        return "none" if self.is_production else "lax"

    @property
    def cors_origins(self) -> list[str]:
        """Allowed browser origins; development also allows the usual local dev servers."""
        if self.CORS_ORIGINS or self.ENVIRONMENT != "development":
            return self.CORS_ORIGINS
        return [
            "http://localhost:3000",
            "http://127.0.0.1:3000",
            "http://localhost:5173",
            "http://127.0.0.1:5173",
        ]


@lru_cache
def get_settings() -> Settings:
    return Settings()
