"""Server settings: where it listens, how many workers, who may call it, how it is reached."""

import ipaddress
import math
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from app.settings.common import split_list, strip_base_url
from app.settings.environment import EnvironmentSettings


class ServerSettings(EnvironmentSettings):
    # Serving (`python -m app.serve`, the Dockerfile's command). Hosts such as Render set PORT;
    # the worker count defaults to the instance's CPUs (RENDER_CPU_COUNT, "0.5" on Starter).
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    WEB_CONCURRENCY: int | None = Field(default=None, ge=1)
    RENDER_CPU_COUNT: float | None = Field(default=None, gt=0)
    # On SIGTERM, in-flight requests get this long to finish (Render waits 30 s by default).
    GRACEFUL_SHUTDOWN_SECONDS: int = Field(default=20, ge=1)
    # Bounds on what one client can hold (app/server/protocol.py). Headers: at most this size
    # (431 above), whole within this time of the request's first byte (408, closed). Body: whole
    # within REQUEST_BODY_TIMEOUT_SECONDS of the headers, plus one second for every
    # REQUEST_BODY_MIN_BYTES_PER_SECOND received (a big upload on a slow link gets through, a
    # client trickling bytes is dropped). Connections per worker: one more is answered 503.
    REQUEST_HEADERS_MAX_BYTES: int = Field(default=16 * 1024, ge=1024)
    REQUEST_HEADERS_TIMEOUT_SECONDS: float = Field(default=30, gt=0)
    REQUEST_BODY_TIMEOUT_SECONDS: float = Field(default=30, gt=0)
    REQUEST_BODY_MIN_BYTES_PER_SECOND: int = Field(default=16 * 1024, ge=1)
    MAX_CONNECTIONS_PER_WORKER: int = Field(default=1000, ge=1)

    # Origin the API is reached at, for absolute URLs; Render sets RENDER_EXTERNAL_URL.
    PUBLIC_BASE_URL: str | None = None
    RENDER_EXTERNAL_URL: str | None = None

    CORS_ORIGINS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Peers (IPs or CIDR networks, "*" for any) whose X-Forwarded-For/-Proto are believed.
    TRUSTED_PROXIES: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Proxies in the chain beyond the trusted peer whose addresses are not listed (Render's
    # Cloudflare edge appends one): that many right-most X-Forwarded-For entries are skipped.
    TRUSTED_PROXY_EXTRA_HOPS: int = Field(default=0, ge=0, le=5)
    HSTS_MAX_AGE_SECONDS: int = Field(default=31_536_000, ge=0)

    @field_validator("CORS_ORIGINS", "TRUSTED_PROXIES", mode="before")
    @classmethod
    def _parse_lists(cls, value: Any) -> Any:
        return split_list(value)

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

    @field_validator("PUBLIC_BASE_URL")
    @classmethod
    def _strip_base_url(cls, value: str | None) -> str | None:
        return strip_base_url(value)

    @property
    def web_concurrency(self) -> int:
        if self.WEB_CONCURRENCY is not None:
            return self.WEB_CONCURRENCY
        return max(1, math.ceil(self.RENDER_CPU_COUNT or 1))

    @property
    def hsts_max_age(self) -> int | None:
        """Strict-Transport-Security's max-age, production only (other hosts may be plain HTTP)."""
        return self.HSTS_MAX_AGE_SECONDS if self.is_production else None

    @property
    def public_base_url(self) -> str:
        """The API's own origin, which local photo URLs start with."""
        base = self.PUBLIC_BASE_URL or self.RENDER_EXTERNAL_URL or f"http://127.0.0.1:{self.PORT}"
        return base.rstrip("/")

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
