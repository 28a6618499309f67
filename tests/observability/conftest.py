"""Fixtures for the observability tests: one Bugsink server per session, one project per test,
the app pointed at it, and a transport that records what the SDK sends (Bugsink keeps errors only).

After every test that used Bugsink, the raw JSON of every event it stored is searched for the
personal data and tokens the test sent: none may be there.
"""

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from tests.conftest import PASSWORD, client_for, is_postgres, login, make_settings, register
from tests.observability.bugsink import Bugsink, running_bugsink

RELEASE = "quickvendor@test-release"
SENTRY_TIMEOUT = 10.0


@pytest.fixture(scope="session")
def bugsink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bugsink]:
    with running_bugsink(tmp_path_factory.mktemp("bugsink")) as server:
        yield server


class RecordingTransport(Transport):
    """Keeps every envelope the SDK would send, in memory."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == kind and item.payload.json is not None
        ]

    def transactions(self) -> list[dict[str, Any]]:
        return self.items("transaction")

    def raw(self) -> str:
        return "\n".join(envelope.serialize().decode() for envelope in self.envelopes)


@dataclass
class Vendor:
    email: str
    password: str
    whatsapp: str
    user: dict[str, Any]
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Observed:
    """The app with Sentry pointed at a Bugsink project, and what the test sent it."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    server: Bugsink | None
    project_id: int
    secrets: set[str] = field(default_factory=set)
    recorders: list[RecordingTransport] = field(default_factory=list)

    def events(self, at_least: int = 0) -> list[dict[str, Any]]:
        sentry_sdk.flush(timeout=SENTRY_TIMEOUT)
        assert self.server is not None
        self.server.wait_for_events(self.project_id, at_least)
        return self.server.events(self.project_id)

    def errors(self) -> list[dict[str, Any]]:
        events = self.events()
        return [e for e in events if "exception" in e or e.get("level") in {"error", "fatal"}]

    def messages(self, at_least: int = 0) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for event in self.events(at_least):
            if "exception" not in event:
                found.setdefault(_message_text(event), []).append(event)
        return found

    def record(self) -> RecordingTransport:
        """Send to memory instead of Bugsink from now on (to see transactions)."""
        client = sentry_sdk.get_client()
        client.flush(timeout=SENTRY_TIMEOUT)
        if client.transport is not None:
            client.transport.kill()
        recorder = RecordingTransport(client.options)
        client.transport = recorder
        self.recorders.append(recorder)
        return recorder

    async def vendor(
        self, email: str, whatsapp: str = "+234 803 555 0199", password: str = PASSWORD
    ) -> Vendor:
        user = await register(self.client, email, password, whatsapp)
        token = await login(self.client, email, password)
        self.client.cookies.clear()
        self.secrets |= {email, password, whatsapp, re.sub(r"\D", "", whatsapp), token}
        return Vendor(email, password, whatsapp, user, token)

    def assert_no_secrets(self, raw_texts: list[str]) -> None:
        forms = {form(s).lower() for s in self.secrets for form in (str, quote, quote_plus)}
        for text in raw_texts:
            for secret in forms:
                assert secret not in text.lower(), f"{secret!r} reached Sentry"


def _message_text(event: dict[str, Any]) -> str:
    message = event.get("message") or event.get("logentry", {})
    return message if isinstance(message, str) else str(message.get("formatted", ""))


Observe = Callable[..., Awaitable[Observed]]


def sentry_settings(database_url: str, dsn: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"SENTRY_DSN": dsn, "SENTRY_RELEASE": RELEASE, **overrides}
    if values.get("ENVIRONMENT") == "production" and not is_postgres():
        values["ALLOW_SQLITE_IN_PRODUCTION"] = True
    return make_settings(database_url, **values)


@pytest.fixture
async def observe(
    database_url: str, engine: AsyncEngine, bugsink: Bugsink, request: pytest.FixtureRequest
) -> AsyncIterator[Observe]:
    """Build the app with Sentry reporting to a fresh Bugsink project; settings as overrides."""
    made: list[Observed] = []

    async def factory(**overrides: Any) -> Observed:
        name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50]
        project_id, dsn = bugsink.create_project(f"{name}-{len(made)}")
        settings = sentry_settings(database_url, dsn, **overrides)
        app = create_app(settings)
        observed = Observed(app, client_for(app), settings, bugsink, project_id)
        made.append(observed)
        return observed

    try:
        yield factory
    finally:
        sentry_sdk.flush(timeout=SENTRY_TIMEOUT)
        sentry_sdk.get_client().close(timeout=SENTRY_TIMEOUT)
        sentry_sdk.init(dsn=None)
        for observed in made:
            await observed.client.aclose()
            await observed.app.state.engine.dispose()
    for observed in made:
        sent = bugsink.raw_events(observed.project_id)
        observed.assert_no_secrets(sent + [recorder.raw() for recorder in observed.recorders])
