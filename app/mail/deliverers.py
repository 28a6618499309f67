"""The "email" kind's deliverers: SMTP when SMTP_HOST is set; without it, .eml files in development
and a refusal elsewhere. The delivery worker retries what raises RetryLater.

Failure reasons name the SMTP reply code only: a server's reply text often quotes the recipient.
"""

import logging
import ssl
import uuid
from pathlib import Path
from typing import Any

import aiosmtplib
import anyio.to_thread

from app.delivery.errors import DeliveryFailed, RetryLater
from app.mail.message import MalformedEmailError, OutgoingEmail
from app.models.base import utcnow
from app.settings import Settings

logger = logging.getLogger("app.mail")

# SMTP reply codes the server means for good (RFC 5321: 5yz); 4yz and lost connections pass.
PERMANENT = range(500, 600)
NOT_CONFIGURED = "SMTP_HOST is not set; the email was not sent"


def _message(payload: dict[str, Any], sender: str) -> tuple[OutgoingEmail, Any]:
    try:
        email = OutgoingEmail.from_payload(payload)
    except MalformedEmailError as exc:
        raise DeliveryFailed(str(exc)) from None
    return email, email.mime(sender)


class SmtpDeliverer:
    """Sends each email over one SMTP connection of its own (mail is rare; no pool to go stale)."""

    def __init__(self, settings: Settings) -> None:
        if settings.SMTP_HOST is None:
            raise ValueError("SmtpDeliverer needs SMTP_HOST")
        self.sender = settings.EMAIL_FROM
        self.options: dict[str, Any] = {
            "hostname": settings.SMTP_HOST,
            "port": settings.SMTP_PORT,
            "timeout": settings.SMTP_TIMEOUT_SECONDS,
            "use_tls": settings.SMTP_SECURITY == "tls",
            "start_tls": settings.SMTP_SECURITY == "starttls",
        }
        if settings.SMTP_SECURITY != "none":
            self.options["tls_context"] = ssl.create_default_context()
        if settings.SMTP_USERNAME:
            self.options["username"] = settings.SMTP_USERNAME
            password = settings.SMTP_PASSWORD
            self.options["password"] = password.get_secret_value() if password else ""

    async def deliver(self, payload: dict[str, Any]) -> None:
        _, message = _message(payload, self.sender)
        try:
            await aiosmtplib.send(message, **self.options)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = sorted({refused.code for refused in exc.recipients})
            if all(code in PERMANENT for code in codes):
                raise DeliveryFailed(f"SMTP refused the recipient ({codes[0]})") from None
            raise RetryLater(f"SMTP deferred the recipient ({codes[0]})") from None
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
            # Refused for this message; any other 5xx (greeting, HELO, authentication) is the
            # server's state or our configuration, which can change before the attempts run out.
            reason = f"SMTP answered {exc.code}"
            if exc.code in PERMANENT:
                raise DeliveryFailed(reason) from None
            raise RetryLater(reason) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Refused connection, timeout, dropped connection, TLS failure: try again later.
            raise RetryLater(f"SMTP server unreachable ({type(exc).__name__})") from None


class FileDeliverer:
    """Development without SMTP: each email becomes an .eml file a developer can open."""

    def __init__(self, settings: Settings) -> None:
        self.sender = settings.EMAIL_FROM
        self.folder = settings.EMAIL_OUTBOX_DIR

    def _write(self, data: bytes) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        path.write_bytes(data)
        return path

    async def deliver(self, payload: dict[str, Any]) -> None:
        _, message = _message(payload, self.sender)
        try:
            path = await anyio.to_thread.run_sync(self._write, message.as_bytes())
        except OSError as exc:
            raise RetryLater(f"cannot write to EMAIL_OUTBOX_DIR ({type(exc).__name__})") from None
        logger.info("email written to %s", path.name, extra={"eml_file": str(path)})


class UnconfiguredDeliverer:
    """Staging or production without SMTP_HOST: nothing can be sent, and each job says so."""

    async def deliver(self, payload: dict[str, Any]) -> None:
        raise DeliveryFailed(NOT_CONFIGURED)


def build_email_deliverer(
    settings: Settings,
) -> SmtpDeliverer | FileDeliverer | UnconfiguredDeliverer:
    if settings.SMTP_HOST is not None:
        return SmtpDeliverer(settings)
    if settings.ENVIRONMENT == "development":
        return FileDeliverer(settings)
    # Once per process, at startup; requests still answer as usual, and each email job fails
    # with this reason (the worker reports a job it gives up on to Sentry).
    logger.warning(
        "SMTP_HOST is not set: password reset and verification emails cannot be sent "
        "(set SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, EMAIL_FROM)"
    )
    return UnconfiguredDeliverer()
