"""Emails as an SMTP server receives them (aiosmtpd on loopback, real SMTP), the deliverers'
answers to a server that refuses, is down or hangs, and the development and unconfigured cases."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

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
from tests.mail_server import SmtpServer, running_smtp
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
