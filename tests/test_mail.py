"""Emails as an SMTP server receives them (aiosmtpd on loopback, real SMTP), the deliverers'
answers to a server that refuses, is down or hangs, and the development and unconfigured cases."""

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, Literal

import pytest

from app.delivery.errors import DeliveryFailed, RetryLater
from app.mail.compose import EmailComposer, EmailTemplate
from app.mail.deliverers import (
    FileDeliverer,
    SmtpDeliverer,
    UnconfiguredDeliverer,
    build_email_deliverer,
)
from app.settings import Settings
from tests.conftest import make_settings
from tests.mail_server import SmtpServer, running_smtp, self_signed_certificate
from tests.servers import free_port

NOWHERE = "sqlite+aiosqlite:///unused.db"
LINK = "https://api.example.com/account/verify-email?token=Abc123_-xyz&next=<b>"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


def mail_settings(**overrides: Any) -> Settings:
    return make_settings(NOWHERE, **overrides)


def composed(to: str = "ada@example.com") -> dict[str, Any]:
    composer = EmailComposer(site_name="QuickVendor", sender="QV <no-reply@quickvendor.test>")
    return composer.compose(EmailTemplate.VERIFY_EMAIL, to=to, link=LINK, hours=48).payload()


async def test_an_email_arrives_with_a_text_and_an_escaped_html_part(smtp: SmtpServer) -> None:
    deliverer = build_email_deliverer(mail_settings(**smtp.settings()))
    assert isinstance(deliverer, SmtpDeliverer)
    await deliverer.deliver(composed())
    [received] = await smtp.mailbox.wait_for("ada@example.com")
    message = received.message
    assert received.mail_from == "no-reply@quickvendor.test"
    assert message["From"] == "QuickVendor <no-reply@quickvendor.test>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Confirm your email address for QuickVendor"
    assert message["Message-ID"].endswith("@quickvendor.test>")
    assert message.get_content_type() == "multipart/alternative"
    assert LINK in received.text
    # Autoescaped: what a template is given cannot become markup in the HTML part.
    assert "&amp;next=&lt;b&gt;" in received.html and "<b>" not in received.html
    assert "48 hours" in received.text and "48 hours" in received.html


async def test_a_refused_recipient_fails_for_good_without_naming_it(smtp: SmtpServer) -> None:
    smtp.mailbox.refused.add("gone@example.com")
    deliverer = build_email_deliverer(mail_settings(**smtp.settings()))
    with pytest.raises(DeliveryFailed) as failed:
        await deliverer.deliver(composed("gone@example.com"))
    assert "550" in failed.value.reason and "gone" not in failed.value.reason
    assert smtp.mailbox.messages() == []


async def test_a_server_that_is_down_is_tried_again_later() -> None:
    port = free_port()  # nothing listens there
    settings = mail_settings(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_SECURITY="none")
    started = time.monotonic()
    with pytest.raises(RetryLater) as later:
        await build_email_deliverer(settings).deliver(composed())
    assert "unreachable" in later.value.reason and "example.com" not in later.value.reason
    assert time.monotonic() - started < 10


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word (a hung SMTP server)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_hung_server_times_out_at_the_setting(silent_server: int) -> None:
    settings = mail_settings(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=silent_server,
        SMTP_SECURITY="none",
        SMTP_TIMEOUT_SECONDS=0.5,
    )
    started = time.monotonic()
    with pytest.raises(RetryLater):
        await build_email_deliverer(settings).deliver(composed())
    assert 0.4 < time.monotonic() - started < 10


async def test_starttls_is_required_when_asked_for(smtp: SmtpServer) -> None:
    """The default security: a server that cannot upgrade the connection gets no email."""
    settings = mail_settings(**{**smtp.settings(), "SMTP_SECURITY": "starttls"})
    with pytest.raises(RetryLater):
        await build_email_deliverer(settings).deliver(composed())
    assert smtp.mailbox.messages() == []


async def test_development_without_smtp_writes_eml_files(tmp_path: Path) -> None:
    deliverer = build_email_deliverer(mail_settings(SMTP_HOST="", EMAIL_OUTBOX_DIR=tmp_path))
    assert isinstance(deliverer, FileDeliverer)
    await deliverer.deliver(composed())
    [written] = await asyncio.to_thread(lambda: list(tmp_path.glob("*.eml")))
    message = message_from_bytes(await asyncio.to_thread(written.read_bytes), policy=policy.default)
    assert message["To"] == "ada@example.com"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and LINK in body.get_content()  # type: ignore[attr-defined]


async def test_production_without_smtp_says_so_once_and_sends_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = mail_settings(ENVIRONMENT="production", ALLOW_SQLITE_IN_PRODUCTION=True)
    with caplog.at_level(logging.WARNING, logger="app.mail"):
        deliverer = build_email_deliverer(settings)
    assert isinstance(deliverer, UnconfiguredDeliverer)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["SMTP_HOST is not set"]
    caplog.clear()
    with pytest.raises(DeliveryFailed):
        await deliverer.deliver(composed())
    assert caplog.records == []


async def test_a_malformed_job_fails_for_good(smtp: SmtpServer) -> None:
    deliverer = build_email_deliverer(mail_settings(**smtp.settings()))
    with pytest.raises(DeliveryFailed):
        await deliverer.deliver({"to": "ada@example.com"})


def test_smtp_defaults_are_starttls_on_587_with_a_10_second_timeout() -> None:
    settings = mail_settings(SMTP_HOST="smtp.example.com")
    assert (settings.SMTP_SECURITY, settings.SMTP_PORT, settings.SMTP_TIMEOUT_SECONDS) == (
        "starttls",
        587,
        10.0,
    )
    deliverer = build_email_deliverer(settings)
    assert isinstance(deliverer, SmtpDeliverer)
    options = deliverer.options
    assert (options["port"], options["timeout"]) == (587, 10.0)
    assert (options["start_tls"], options["use_tls"]) == (True, False)
    assert isinstance(options["tls_context"], ssl.SSLContext)
    assert options["tls_context"].verify_mode == ssl.CERT_REQUIRED


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that this process's default TLS context trusts
    (SSL_CERT_FILE is read when a context loads the default certificates)."""
    files = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(files[0]))
    return files


LOGIN = {"mailer": "s3cret-smtp-password"}
# aiosmtpd warns when AUTH is allowed outside STARTTLS; on a TLS socket that is what we want.
AUTH_ON_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def logged_in(server: SmtpServer, **overrides: Any) -> Settings:
    [(username, password)] = server.mailbox.logins.items()
    values = {**server.settings(), "SMTP_USERNAME": username, "SMTP_PASSWORD": password}
    return mail_settings(**{**values, **overrides})


@AUTH_ON_TLS
@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_an_email_goes_over_tls_after_logging_in(
    security: Literal["tls", "starttls"], certificate: tuple[Path, Path]
) -> None:
    with running_smtp(security, certificate, LOGIN) as server:
        await build_email_deliverer(logged_in(server)).deliver(composed())
        [received] = await server.mailbox.wait_for("ada@example.com")
    assert (received.encrypted, received.login) == (True, "mailer")
    assert LINK in received.text


@AUTH_ON_TLS
async def test_a_wrong_smtp_password_sends_nothing_and_is_tried_again(
    certificate: tuple[Path, Path],
) -> None:
    with running_smtp("tls", certificate, LOGIN) as server:
        settings = logged_in(server, SMTP_PASSWORD="not-the-password")
        with pytest.raises(RetryLater) as later:
            await build_email_deliverer(settings).deliver(composed())
        assert server.mailbox.messages() == []
    assert "not-the-password" not in later.value.reason and "mailer" not in later.value.reason


@AUTH_ON_TLS
async def test_tls_refuses_a_certificate_nobody_vouches_for(tmp_path: Path) -> None:
    """Without SSL_CERT_FILE naming it, the self-signed certificate is not trusted: no email."""
    with running_smtp("tls", self_signed_certificate(tmp_path), LOGIN) as server:
        with pytest.raises(RetryLater):
            await build_email_deliverer(logged_in(server)).deliver(composed())
        assert server.mailbox.messages() == []
