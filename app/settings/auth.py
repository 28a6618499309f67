"""Authentication settings: the signing secret, token lifetime, password hashing, the cookie."""

from typing import Literal

from pydantic import Field

from app.settings.environment import EnvironmentSettings

SameSite = Literal["lax", "strict", "none"]
DEV_SECRET_KEY = "development-secret-key-not-for-production"
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
        DEV_SECRET_KEY,
    }
)
MIN_SECRET_BYTES = 32
# A random value of 32 bytes has far more; "aaaa..." or "abababab..." has far fewer.
MIN_SECRET_DISTINCT_CHARACTERS = 10


class AuthSettings(EnvironmentSettings):
    SECRET_KEY: str = DEV_SECRET_KEY
    JWT_ISSUER: str = "quickvendor-api"
    JWT_AUDIENCE: str = "quickvendor-web"
    ACCESS_TOKEN_EXPIRE_MINUTES: int = Field(default=7 * 24 * 60, ge=1)

    # Argon2id cost; tests lower it through the environment to stay fast.
    ARGON2_TIME_COST: int = Field(default=2, ge=1)
    ARGON2_MEMORY_COST: int = Field(default=19_456, ge=8)
    ARGON2_PARALLELISM: int = Field(default=1, ge=1)
    # Password hashes computed at once per worker; more wait their turn. Fewer than the cores,
    # so a login storm never takes the core the event loop needs.
    PASSWORD_HASH_CONCURRENCY: int = Field(default=1, ge=1)
    # Hashes waiting or running per worker beyond which another is refused at once (503 with
    # Retry-After) instead of queueing behind them.
    PASSWORD_HASH_QUEUE_LIMIT: int = Field(default=32, ge=1)
    # The cost of the earlier backend's bcrypt hashes (passlib's default). A failed password check
    # takes at least as long as checking one of them, so its time does not tell which accounts
    # exist or still carry one; tests lower it through the environment to stay fast.
    PASSWORD_LEGACY_BCRYPT_ROUNDS: int = Field(default=12, ge=4, le=31)

    COOKIE_NAME: str = "access_token"
    COOKIE_SECURE: bool | None = None
    COOKIE_SAMESITE: SameSite | None = None
    COOKIE_DOMAIN: str | None = None

    @property
    def cookie_secure(self) -> bool:
        return self.is_production if self.COOKIE_SECURE is None else self.COOKIE_SECURE

    @property
    def cookie_samesite(self) -> SameSite:
        if self.COOKIE_SAMESITE is not None:
            return self.COOKIE_SAMESITE
        return "none" if self.is_production else "lax"

    @property
    def weak_secret(self) -> bool:
        """Too short, too few distinct characters, or a known default (spaces around it or not)."""
        secret = self.SECRET_KEY.strip()
        return (
            secret.lower() in KNOWN_DEFAULT_SECRETS
            or len(secret.encode()) < MIN_SECRET_BYTES
            or len(set(secret)) < MIN_SECRET_DISTINCT_CHARACTERS
        )
