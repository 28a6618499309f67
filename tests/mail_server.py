"""A real SMTP server for the tests (aiosmtpd on a loopback port, in a thread of its own): it
keeps what it received, can refuse recipients, and can be stopped and started again on the same
port to play an SMTP server that is down for a while. It can also speak TLS (from the first byte
or after STARTTLS) with a self-signed certificate made at test time, and require a login."""

import asyncio
import datetime
import ipaddress
import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import free_port

LINK = re.compile(r"https?://[^\s\"'<>]+/account/[a-z-]+\?token=[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage
    encrypted: bool = False
    login: str | None = None

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
        self.logins: dict[str, str] = {}  # username -> password the server accepts

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
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data.login.decode() if session.authenticated else None
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), message, encrypted, login)
        with self._lock:
            self._messages.append(received)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator: a username and password of `logins`, nothing else."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        accepted = self.logins.get(login) == password
        return AuthResult(success=accepted, handled=False, auth_data=auth_data)

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


Security = Literal["none", "tls", "starttls"]


def self_signed_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `host` (an IP address) and its key, as PEM files in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class SmtpServer:
    """The server on 127.0.0.1:<port>; `down()` stops it until `up()` starts it again.

    `security` "tls" wraps every connection in TLS, "starttls" offers STARTTLS (both with the
    certificate in `certificate`); with `logins`, a message is taken only after AUTH."""

    def __init__(
        self,
        security: Security = "none",
        certificate: tuple[Path, Path] | None = None,
        logins: dict[str, str] | None = None,
    ) -> None:
        self.mailbox = Mailbox()
        self.mailbox.logins = dict(logins or {})
        self.host = "127.0.0.1"
        self.port = free_port()
        self.security = security
        self._tls: ssl.SSLContext | None = None
        if security != "none":
            assert certificate is not None, "TLS needs a certificate"
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(*certificate)
        self._controller: Controller | None = None

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.security == "tls":
            # aiosmtpd counts only STARTTLS as encryption for AUTH; this socket is TLS already.
            options |= {"ssl_context": self._tls, "auth_require_tls": False}
        elif self.security == "starttls":
            options |= {"tls_context": self._tls, "require_starttls": True}
        if self.mailbox.logins:
            options |= {"authenticator": self.mailbox.authenticate, "auth_required": True}
        return options

    def up(self) -> None:
        if self._controller is None:
            self._controller = Controller(
                self.mailbox, hostname=self.host, port=self.port, **self._options()
            )
            self._controller.start()

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self) -> dict[str, Any]:
        return {
            "SMTP_HOST": self.host,
            "SMTP_PORT": self.port,
            "SMTP_SECURITY": self.security,
            "EMAIL_FROM": "QuickVendor <no-reply@quickvendor.test>",
        }

    def env(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.settings().items()}


@contextmanager
def running_smtp(
    security: Security = "none",
    certificate: tuple[Path, Path] | None = None,
    logins: dict[str, str] | None = None,
) -> Iterator[SmtpServer]:
    server = SmtpServer(security, certificate, logins)
    server.up()
    try:
        yield server
    finally:
        server.down()
