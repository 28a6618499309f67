"""A real SMTP server for the tests (aiosmtpd on a loopback port, in a thread of its own): it
keeps what it received, can refuse recipients, and can be stopped and started again on the same
port to play an SMTP server that is down for a while."""

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.servers import free_port

LINK = re.compile(r"https?://[^\s\"'<>]+/account/[a-z-]+\?token=[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content()  # type: ignore[attr-defined]
        return content

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    def link(self) -> str:
        """The one account link of the message (the same in both parts)."""
        links = set(LINK.findall(self.text))
        assert len(links) == 1, links
        link = links.pop()
        assert link in self.html.replace("&amp;", "&")
        return link


class Mailbox:
    """aiosmtpd's handler: what arrived, and recipients to refuse (550)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self.refused: set[str] = set()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def messages(self, to: str | None = None) -> list[Received]:
        with self._lock:
            found = list(self._messages)
        return [m for m in found if to is None or to.lower() in (r.lower() for r in m.recipients)]

    async def wait_for(self, to: str, count: int = 1, within: float = 60.0) -> list[Received]:
        """The first `count` messages to `to`, once they have arrived (a deadline against hangs)."""
        deadline = time.monotonic() + within
        while True:
            found = self.messages(to)
            if len(found) >= count:
                return found[:count]
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} messages arrived in {within}s")
            await asyncio.sleep(0.05)

    def links(self, to: str, page: str) -> list[str]:
        """The links to `/account/<page>` received by `to`, in the order they arrived."""
        found = []
        for message in self.messages(to):
            links = LINK.findall(message.text)
            found += [link for link in links if f"/account/{page}?" in link]
        return found

    async def link(self, to: str, page: str, count: int = 1, within: float = 60.0) -> str:
        """The `count`-th link to `/account/<page>` that `to` received, once it has arrived.
        (Messages sent in one batch may arrive in any order, so they are told apart by page.)"""
        deadline = time.monotonic() + within
        while True:
            found = self.links(to, page)
            if len(found) >= count:
                message_links = [m for m in self.messages(to) if found[count - 1] in m.text]
                return message_links[0].link()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} {page} links arrived in {within}s")
            await asyncio.sleep(0.05)


class SmtpServer:
    """The server on 127.0.0.1:<port>; `down()` stops it until `up()` starts it again."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.host = "127.0.0.1"
        self.port = free_port()
        self._controller: Controller | None = None

    def up(self) -> None:
        if self._controller is None:
            self._controller = Controller(self.mailbox, hostname=self.host, port=self.port)
            self._controller.start()

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self) -> dict[str, Any]:
        return {
            "SMTP_HOST": self.host,
            "SMTP_PORT": self.port,
            "SMTP_SECURITY": "none",
            "EMAIL_FROM": "QuickVendor <no-reply@quickvendor.test>",
        }

    def env(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.settings().items()}


@contextmanager
def running_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.up()
    try:
        yield server
    finally:
        server.down()
