"""Account recovery leaves no email address, token or link in Sentry: the link pages' query
strings, the forms' bodies and the business events are all checked as Bugsink stores them (and
the transactions, as the SDK sends them)."""

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.mail_server import SmtpServer, running_smtp
from tests.observability.conftest import Observe
from tests.recovery_helpers import deliver_queued


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


async def test_links_tokens_and_addresses_stay_out_of_sentry(
    observe: Observe, smtp: SmtpServer
) -> None:
    obs = await observe(**smtp.settings(), PUBLIC_BASE_URL="http://testserver")
    ada = await obs.vendor("ada.private@example.com")
    client = obs.client
    own = {"Origin": "http://testserver"}

    await deliver_queued(obs.app)
    verify = urlsplit(await smtp.mailbox.link(ada.email, "verify-email"))
    assert (await client.get(f"{verify.path}?{verify.query}")).status_code == 200

    reset = await client.post("/api/auth/password-reset", json={"email": ada.email})
    assert reset.status_code == 202
    await deliver_queued(obs.app)
    link = await smtp.mailbox.link(ada.email, "reset-password")
    parts = urlsplit(link)
    token = parse_qs(parts.query)["token"][0]
    new_password = "a-brand-new-secret-9"
    obs.secrets |= {link, token, verify.query.removeprefix("token="), new_password}
    assert (await client.get(f"{parts.path}?{parts.query}")).status_code == 200
    form = {"token": token, "new_password": new_password, "confirm_password": new_password}
    assert (await client.post("/account/reset-password", data=form)).status_code == 200

    login = {"email": ada.email, "password": new_password}
    assert (await client.post("/account/login", data=login, headers=own)).status_code == 303
    change = {"new_email": "ada.elsewhere@example.com", "password": new_password}
    obs.secrets.add("ada.elsewhere@example.com")
    asked = await client.put("/api/users/me/email", json=change, headers=own)
    assert asked.status_code == 202, asked.text
    me = await client.get("/api/users/me")
    assert me.json()["pending_email"] == "ada.elsewhere@example.com"

    messages = obs.messages(at_least=1)
    assert {"Password reset requested", "Password reset", "Email verified"} <= set(messages)

    # Transactions carry the request's URL: recorded from here on.
    recorder = obs.record()
    await client.post("/api/auth/password-reset", json={"email": ada.email})
    await deliver_queued(obs.app)
    parts = urlsplit(await smtp.mailbox.link(ada.email, "reset-password", 2))
    obs.secrets |= {parts.query, parts.query.removeprefix("token=")}
    assert (await client.get(f"{parts.path}?{parts.query}")).status_code == 200
    assert (await client.get(f"{verify.path}?{verify.query}")).status_code == 400
    transactions = recorder.transactions()
    names = {event["transaction"] for event in transactions}
    assert {"/account/reset-password", "/account/verify-email"} <= names
    queries = [event["request"].get("query_string", "") for event in transactions]
    assert "token=[Filtered]" in queries
    # The observe fixture then searches everything Bugsink stored and every envelope recorded
    # for the addresses, passwords, tokens and links above.
