"""Application settings, read once from the environment (and a local `.env`)."""

import ipaddress
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "staging", "production"]
SameSite = Literal["lax", "strict", "none"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
StorageBackend = Literal["local", "s3"]

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
MIB = 1024 * 1024
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

    # Photos: where they are kept, and what an upload may be.
    STORAGE_BACKEND: StorageBackend = "local"
    MEDIA_ROOT: Path = PROJECT_ROOT / "media"
    MEDIA_URL_PATH: str = Field(default="/media", pattern=r"^(/[A-Za-z0-9_-]+)+$")
    # Origin the API is reached at, for absolute photo URLs; Render sets RENDER_EXTERNAL_URL.
    PUBLIC_BASE_URL: str | None = None
    RENDER_EXTERNAL_URL: str | None = None
    S3_BUCKET: str | None = None
    S3_REGION: str | None = None
    S3_ENDPOINT_URL: str | None = None
    S3_PUBLIC_BASE_URL: str | None = None
    S3_ACCESS_KEY_ID: str | None = None
    S3_SECRET_ACCESS_KEY: SecretStr | None = None
    PHOTO_MAX_BYTES: int = Field(default=10 * MIB, ge=1024)
    BANNER_MAX_BYTES: int = Field(default=5 * MIB, ge=1024)
    IMAGE_MAX_PIXELS: int = Field(default=50_000_000, ge=1)
    IMAGE_MAX_SIDE: int = Field(default=1600, ge=16, le=16_383)
    IMAGE_WEBP_QUALITY: int = Field(default=82, ge=1, le=100)

    # Serving (`python -m app.serve`, the Dockerfile's command). Hosts such as Render set PORT;
    # the worker count defaults to the instance's CPUs (RENDER_CPU_COUNT, "0.5" on Starter).
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    WEB_CONCURRENCY: int | None = Field(default=None, ge=1)
    RENDER_CPU_COUNT: float | None = Field(default=None, gt=0)
    # On SIGTERM, in-flight requests get this long to finish (Render waits 30 s by default).
    GRACEFUL_SHUTDOWN_SECONDS: int = Field(default=20, ge=1)
    # Pre-start (`python -m app.prestart`): how long to wait for the database to answer.
    DB_WAIT_ATTEMPTS: int = Field(default=30, ge=1)
    DB_WAIT_INTERVAL: float = Field(default=2.0, gt=0)

    # Rate limits. Counters live in Redis when REDIS_URL is set (shared by every worker and
    # instance; limits fail open with a logged warning while it is away), else in the database.
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

    @field_validator("PUBLIC_BASE_URL", "S3_PUBLIC_BASE_URL", "S3_ENDPOINT_URL")
    @classmethod
    def _strip_base_url(cls, value: str | None) -> str | None:
        text = (value or "").strip().rstrip("/")
        return text or None

    @model_validator(mode="after")
    def _require_s3_bucket(self) -> Self:
        if self.STORAGE_BACKEND == "s3" and not self.S3_BUCKET:
            raise ValueError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        return self

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
    def web_concurrency(self) -> int:
        if self.WEB_CONCURRENCY is not None:
            return self.WEB_CONCURRENCY
        return max(1, math.ceil(self.RENDER_CPU_COUNT or 1))

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

    def _rate(self, setting: float | None, defaults: tuple[float, float, float]) -> float:
        """The setting when given, else the default for development, staging, production."""
        if setting is not None:
            return setting
        return dict(zip(("development", "staging", "production"), defaults, strict=True))[
            self.ENVIRONMENT
        ]

    @property
    def traces_sample_rate(self) -> float:
        return self._rate(self.SENTRY_TRACES_SAMPLE_RATE, (1.0, 0.5, 0.1))

    @property
    def login_event_rate(self) -> float:
        return self._rate(self.SENTRY_LOGIN_EVENT_RATE, (1.0, 1.0, 0.0))

    @property
    def storefront_event_rate(self) -> float:
        return self._rate(self.SENTRY_STOREFRONT_EVENT_RATE, (1.0, 0.1, 0.01))

    @property
    def public_base_url(self) -> str:
        """The API's own origin, which local photo URLs start with."""
        base = self.PUBLIC_BASE_URL or self.RENDER_EXTERNAL_URL or f"http://127.0.0.1:{self.PORT}"
        return base.rstrip("/")

    @property
    def s3_public_base_url(self) -> str:
        """Where stored objects are read publicly: a CDN/custom domain, or the bucket itself."""
        if self.S3_PUBLIC_BASE_URL:
            return self.S3_PUBLIC_BASE_URL
        if self.S3_ENDPOINT_URL:
            return f"{self.S3_ENDPOINT_URL}/{self.S3_BUCKET}"
        return f"https://{self.S3_BUCKET}.s3.{self.S3_REGION or 'us-east-1'}.amazonaws.com"

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
