"""Mail settings: the SMTP server that sends the service's emails, and the sender's address."""

from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from app.settings.common import PROJECT_ROOT
from app.settings.environment import EnvironmentSettings

SmtpSecurity = Literal["starttls", "tls", "none"]


class MailSettings(EnvironmentSettings):
    # Unset: development writes each email as an .eml file to EMAIL_OUTBOX_DIR; staging and
    # production log the missing server once at startup and send nothing.
    SMTP_HOST: str | None = None
    SMTP_PORT: int = Field(default=587, ge=1, le=65535)
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: SecretStr | None = None
    # starttls: plain connection upgraded with STARTTLS (port 587); tls: TLS from the first
    # byte (port 465); none: no encryption (a relay on the same host, tests).
    SMTP_SECURITY: SmtpSecurity = "starttls"
    SMTP_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0, le=120)
    EMAIL_FROM: str = "QuickVendor <no-reply@quickvendor.invalid>"
    EMAIL_OUTBOX_DIR: Path = PROJECT_ROOT / "outbox"

    @field_validator("SMTP_HOST", "SMTP_USERNAME", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("SMTP_SECURITY", mode="before")
    @classmethod
    def _lower_security(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("EMAIL_FROM")
    @classmethod
    def _check_sender(cls, value: str) -> str:
        _, address = parseaddr(value)
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError(
                "EMAIL_FROM must be an address, e.g. QuickVendor <no-reply@example.com>"
            )
        return value.strip()

    @property
    def smtp_configured(self) -> bool:
        return self.SMTP_HOST is not None
