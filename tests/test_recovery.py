"""Account recovery end to end in one process: the links arrive by real SMTP (aiosmtpd) and are
used as a vendor would; tokens die when used, replaced, expired or when the password changes;
the reset request tells nothing about which addresses have accounts."""

import asyncio
import hashlib
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.mail.deliverers import NOT_CONFIGURED
from app.main import create_app
from app.models import AccountToken, DeliveryJob
from app.models.base import utcnow
from app.services.maintenance import purge_stale_rows
from tests.conftest import (
    PASSWORD,
    bearer,
    client_for,
    login,
    make_settings,
    postgres_only,
    register,
)
from tests.mail_server import SmtpServer, running_smtp
from tests.recovery_helpers import deliver_queued

NEW_PASSWORD = "brand-new-password-7"
RESET_ACCEPTED = {"detail": "If that email has an account, a reset link is on its way."}
# The earlier backend's registration answer, plus share_url (the store pages' link): a key the
# old frontend ignores.
PROFILE_KEYS = {
    "share_url",
    "id",
    "email",
    "whatsapp_number",
    "store_url",
    "store_name",
    "store_slug",
    "banner_url",
    "created_at",
}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


class Recovery:
    """The app with SMTP pointed at the test server, and its inbox."""

    def __init__(self, app: FastAPI, smtp: SmtpServer) -> None:
        self.app = app
        self.smtp = smtp
        self.client = client_for(app)

    async def link(self, to: str, page: str, count: int = 1) -> str:
        await deliver_queued(self.app)
        return await self.smtp.mailbox.link(to, page, count)

    async def reset(self, email: str) -> httpx.Response:
        return await self.client.post("/api/auth/password-reset", json={"email": email})

    async def confirm(self, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
        return await self.client.post(
            "/api/auth/password-reset/confirm", json={"token": token, "new_password": password}
        )

    async def me(self, token: str) -> dict[str, Any]:
        response = await self.client.get("/api/users/me", headers=bearer(token))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def try_login(self, email: str, password: str) -> int:
        response = await self.client.post(
            "/api/auth/login", json={"email": email, "password": password}
        )
        self.client.cookies.clear()
        return response.status_code


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


@pytest.fixture
async def recovery_app(
    database_url: str, engine: AsyncEngine, smtp: SmtpServer
) -> AsyncIterator[Any]:
    made: list[Recovery] = []

    def build(**overrides: Any) -> Recovery:
        values = {
            **smtp.settings(),
            "PUBLIC_BASE_URL": "https://api.quickvendor.test",
            "PASSWORD_RESET_RESPONSE_SECONDS": 0.05,
            **overrides,
        }
        made.append(Recovery(create_app(make_settings(database_url, **values)), smtp))
        return made[-1]

    yield build
    for recovery in made:
        await recovery.client.aclose()
        await recovery.app.state.engine.dispose()


@pytest.fixture
def rec(recovery_app: Any) -> Recovery:
    built: Recovery = recovery_app()
    return built


async def test_sign_up_is_unchanged_and_sends_a_verification_link(rec: Recovery) -> None:
    body = await register(rec.client, "ada@example.com")
    assert set(body) == PROFILE_KEYS  # the old frontend's registration answer, as it was
    token = await login(rec.client, "ada@example.com")
    me = await rec.me(token)
    assert (me["email_verified"], me["pending_email"]) == (False, None)

    link = await rec.link("ada@example.com", "verify-email")
    assert link.startswith("https://api.quickvendor.test/account/verify-email?token=")
    [mail] = rec.smtp.mailbox.messages("ada@example.com")
    assert mail.subject == "Confirm your email address for QuickVendor"
    verified = await rec.client.post("/api/auth/verify-email", json={"token": token_of(link)})
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"detail": "Your email address is confirmed."}
    assert (await rec.me(token))["email_verified"] is True

    again = await rec.client.post("/api/auth/verify-email", json={"token": token_of(link)})
    assert again.status_code == 400
    assert again.json()["detail"].startswith("This link was already used")


async def test_opening_the_verification_link_confirms_the_address(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    path = urlsplit(await rec.link("ada@example.com", "verify-email"))
    page = await rec.client.get(f"{path.path}?{path.query}")
    assert page.status_code == 200
    assert "Email confirmed" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert (await rec.me(await login(rec.client, "ada@example.com")))["email_verified"] is True
    reused = await rec.client.get(f"{path.path}?{path.query}")
    assert reused.status_code == 400 and "already used" in reused.text


async def test_password_reset_journey(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    old_session = await login(rec.client, "ada@example.com")
    response = await rec.reset("ADA@example.com ")
    assert (response.status_code, response.json()) == (202, RESET_ACCEPTED)
    link = await rec.link("ada@example.com", "reset-password")
    assert link.startswith("https://api.quickvendor.test/account/reset-password?token=")
    [mail] = [m for m in rec.smtp.mailbox.messages("ada@example.com") if link in m.text]
    assert mail.subject == "Reset your QuickVendor password"
    assert "30 minutes" in mail.text

    done = await rec.confirm(token_of(link))
    assert done.status_code == 200, done.text
    assert done.json() == {"detail": "Your password has been changed. Log in with the new one."}
    # Every session is gone, the old password too; the new one works; the link is spent.
    assert (await rec.client.get("/api/users/me", headers=bearer(old_session))).status_code == 401
    assert await rec.try_login("ada@example.com", PASSWORD) == 401
    assert await rec.try_login("ada@example.com", NEW_PASSWORD) == 200
    reused = await rec.confirm(token_of(link), "yet-another-password")
    assert reused.status_code == 400 and "already used" in reused.json()["detail"]
    assert await rec.try_login("ada@example.com", NEW_PASSWORD) == 200
    # Reading the inbox proved the address.
    me = await rec.me(await login(rec.client, "ada@example.com", NEW_PASSWORD))
    assert me["email_verified"] is True


async def test_a_newer_link_replaces_the_older(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    await rec.reset("ada@example.com")
    first = token_of(await rec.link("ada@example.com", "reset-password"))
    await rec.reset("ada@example.com")
    second = token_of(await rec.link("ada@example.com", "reset-password", 2))
    refused = await rec.confirm(first)
    assert refused.status_code == 400 and "not valid" in refused.json()["detail"]
    assert (await rec.confirm(second)).status_code == 200


async def test_an_expired_link_changes_nothing(rec: Recovery, engine: AsyncEngine) -> None:
    await register(rec.client, "ada@example.com")
    await rec.reset("ada@example.com")
    token = token_of(await rec.link("ada@example.com", "reset-password"))
    async with engine.begin() as conn:
        await conn.execute(
            update(AccountToken)
            .where(AccountToken.token_hash == hashlib.sha256(token.encode()).hexdigest())
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    refused = await rec.confirm(token)
    assert refused.status_code == 400 and "expired" in refused.json()["detail"]
    assert await rec.try_login("ada@example.com", PASSWORD) == 200


async def test_a_password_change_kills_the_links(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    session = await login(rec.client, "ada@example.com")
    await rec.reset("ada@example.com")
    reset_token = token_of(await rec.link("ada@example.com", "reset-password"))
    changed = await rec.client.post(
        "/api/users/me/password",
        json={"current_password": PASSWORD, "new_password": "changed-by-hand-1"},
        headers=bearer(session),
    )
    assert changed.status_code == 204
    assert (await rec.confirm(reset_token)).status_code == 400
    assert await rec.try_login("ada@example.com", "changed-by-hand-1") == 200


async def test_bad_tokens_and_passwords(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    await rec.reset("ada@example.com")
    token = token_of(await rec.link("ada@example.com", "reset-password"))
    assert len(token) >= 43  # 256 random bits, URL-safe
    unknown = await rec.confirm("A" * 43)
    assert unknown.status_code == 400 and "not valid" in unknown.json()["detail"]
    assert (await rec.confirm("x" * 257)).status_code == 422
    short = await rec.confirm(token, "short")
    assert short.status_code == 422
    verify_with_reset = await rec.client.post("/api/auth/verify-email", json={"token": token})
    assert verify_with_reset.status_code == 400  # a token is good for its own purpose only
    assert (await rec.confirm(token)).status_code == 200  # none of that used it up


async def test_tokens_are_stored_only_as_hashes(rec: Recovery, engine: AsyncEngine) -> None:
    await register(rec.client, "ada@example.com")
    token = token_of(await rec.link("ada@example.com", "verify-email"))
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM account_tokens"))).mappings().all()
    assert [row["token_hash"] for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in repr(rows)


async def test_reset_requests_tell_nothing_about_the_address(recovery_app: Any) -> None:
    rec = recovery_app(PASSWORD_RESET_RESPONSE_SECONDS=0.4)
    await register(rec.client, "ada@example.com")
    timings: dict[str, list[float]] = {"ada@example.com": [], "nobody@example.com": []}
    header_names: dict[str, set[str]] = {}
    for _ in range(4):
        for email, spent in timings.items():
            started = time.perf_counter()
            response = await rec.reset(email)
            spent.append(time.perf_counter() - started)
            assert (response.status_code, response.json()) == (202, RESET_ACCEPTED)
            header_names[email] = set(response.headers)
    assert header_names["ada@example.com"] == header_names["nobody@example.com"]
    known, unknown = (statistics.median(spent) for spent in timings.values())
    assert known >= 0.4 and unknown >= 0.4
    assert abs(known - unknown) < 0.15, timings
    await deliver_queued(rec.app)
    assert len(rec.smtp.mailbox.messages("ada@example.com")) == 5  # 1 verification + 4 resets
    assert rec.smtp.mailbox.messages("nobody@example.com") == []


async def test_reset_requests_are_limited_per_address_and_client(recovery_app: Any) -> None:
    rec = recovery_app(
        RATE_LIMIT_ENABLED=True,
        PASSWORD_RESET_RATE_LIMIT_PER_EMAIL=2,
        PASSWORD_RESET_RATE_LIMIT_PER_CLIENT=6,
        TRUSTED_PROXIES=["127.0.0.1"],
    )
    await register(rec.client, "ada@example.com")
    refusals = []
    for email in ("ada@example.com", "nobody@example.com"):
        for _ in range(2):
            assert (await rec.reset(email)).status_code == 202
        refusals.append(await rec.reset(email))
    for refused in refusals:
        assert refused.status_code == 429
        assert refused.json()["detail"] == "Too many password reset requests, please retry later"
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    # Another client is refused for the same address: the address's budget is spent.
    elsewhere = await rec.client.post(
        "/api/auth/password-reset",
        json={"email": "ada@example.com"},
        headers={"X-Forwarded-For": "198.51.100.9"},
    )
    assert elsewhere.status_code == 429
    # This client has now asked six times: a fresh address is refused too.
    assert (await rec.reset("fresh@example.com")).status_code == 429
    await deliver_queued(rec.app)
    assert len(rec.smtp.mailbox.messages("ada@example.com")) == 3  # 1 verification + 2 resets


async def test_links_are_limited_per_client(recovery_app: Any) -> None:
    rec = recovery_app(RATE_LIMIT_ENABLED=True, ACCOUNT_TOKEN_RATE_LIMIT_PER_CLIENT=3)
    for _ in range(3):
        response = await rec.client.post("/api/auth/verify-email", json={"token": "B" * 43})
        assert response.status_code == 400
    refused = await rec.client.get("/account/verify-email?token=" + "B" * 43)
    assert refused.status_code == 429 and "text/html" in refused.headers["content-type"]
    assert int(refused.headers["Retry-After"]) >= 1


async def test_the_owner_of_an_address_takes_over_an_unverified_account(rec: Recovery) -> None:
    squatter = await register(rec.client, "owner@example.com", password="squatter-password")
    squatter_session = await login(rec.client, "owner@example.com", "squatter-password")
    renamed = await rec.client.put(
        "/api/users/me/store", json={"store_name": "Not Yours"}, headers=bearer(squatter_session)
    )
    assert renamed.status_code == 200
    duplicate = await rec.client.post(
        "/api/users/register",
        json={"email": "owner@example.com", "password": PASSWORD, "whatsapp_number": "08012345678"},
    )
    assert duplicate.status_code == 409

    await rec.reset("owner@example.com")
    assert (
        await rec.confirm(token_of(await rec.link("owner@example.com", "reset-password")))
    ).status_code == 200
    assert (
        await rec.client.get("/api/users/me", headers=bearer(squatter_session))
    ).status_code == 401
    assert await rec.try_login("owner@example.com", "squatter-password") == 401
    owner = await login(rec.client, "owner@example.com", NEW_PASSWORD)
    me = await rec.me(owner)
    assert (me["id"], me["store_name"], me["email_verified"]) == (squatter["id"], "Not Yours", True)
    deleted = await rec.client.request(
        "DELETE", "/api/users/me", json={"password": NEW_PASSWORD}, headers=bearer(owner)
    )
    assert deleted.status_code == 204


async def test_a_verified_address_cannot_be_claimed(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    link = await rec.link("ada@example.com", "verify-email")
    await rec.client.post("/api/auth/verify-email", json={"token": token_of(link)})
    await register(rec.client, "bob@example.com")
    bob = await login(rec.client, "bob@example.com")
    taken = await rec.client.put(
        "/api/users/me/email",
        json={"new_email": "Ada@Example.com", "password": PASSWORD},
        headers=bearer(bob),
    )
    assert (taken.status_code, taken.json()["detail"]) == (409, "Email already registered")
    again = await rec.client.post(
        "/api/users/register",
        json={"email": "ada@example.com", "password": PASSWORD, "whatsapp_number": "0801234567"},
    )
    assert again.status_code == 409


async def test_email_change_journey(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    session = await login(rec.client, "ada@example.com")
    change = {"new_email": "ada.new@example.com", "password": PASSWORD}
    wrong = await rec.client.put(
        "/api/users/me/email", json={**change, "password": "not-it"}, headers=bearer(session)
    )
    assert (wrong.status_code, wrong.json()["detail"]) == (400, "Password is incorrect")
    same = await rec.client.put(
        "/api/users/me/email",
        json={**change, "new_email": "ada@example.com"},
        headers=bearer(session),
    )
    assert same.status_code == 400
    asked = await rec.client.put("/api/users/me/email", json=change, headers=bearer(session))
    assert asked.status_code == 202, asked.text
    me = await rec.me(session)
    assert (me["email"], me["pending_email"]) == ("ada@example.com", "ada.new@example.com")

    link = await rec.link("ada.new@example.com", "confirm-email")
    assert "/account/confirm-email?token=" in link
    [notice] = [
        m for m in await rec.smtp.mailbox.wait_for("ada@example.com", 2) if "changed" in m.subject
    ]
    assert notice.subject == "Your QuickVendor email address is being changed"
    assert "/account/forgot-password" in notice.text and "token=" not in notice.text
    path = urlsplit(link)
    page = await rec.client.get(f"{path.path}?{path.query}")
    assert page.status_code == 200 and "Email changed" in page.text

    me = await rec.me(session)  # the session is still valid
    assert (me["email"], me["email_verified"], me["pending_email"]) == (
        "ada.new@example.com",
        True,
        None,
    )
    assert await rec.try_login("ada@example.com", PASSWORD) == 401
    assert await rec.try_login("ada.new@example.com", PASSWORD) == 200
    assert (await rec.client.get(f"{path.path}?{path.query}")).status_code == 400


async def test_email_change_is_limited_like_a_password_check(recovery_app: Any) -> None:
    rec = recovery_app(RATE_LIMIT_ENABLED=True, PASSWORD_CHECK_RATE_LIMIT_CLIENT=2)
    await register(rec.client, "ada@example.com")
    session = await login(rec.client, "ada@example.com")
    for _ in range(2):
        response = await rec.client.put(
            "/api/users/me/email",
            json={"new_email": "x@example.com", "password": "guess"},
            headers=bearer(session),
        )
        assert response.status_code == 400
    refused = await rec.client.put(
        "/api/users/me/email",
        json={"new_email": "x@example.com", "password": PASSWORD},
        headers=bearer(session),
    )
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


async def test_resending_the_verification_link(recovery_app: Any) -> None:
    rec = recovery_app(RATE_LIMIT_ENABLED=True, EMAIL_VERIFICATION_RATE_LIMIT_PER_ACCOUNT=2)
    await register(rec.client, "ada@example.com")
    session = await login(rec.client, "ada@example.com")
    first = token_of(await rec.link("ada@example.com", "verify-email"))
    resent = await rec.client.post("/api/auth/verify-email/resend", headers=bearer(session))
    assert (resent.status_code, resent.json()) == (
        202,
        {"detail": "A new verification link is on its way."},
    )
    second = token_of(await rec.link("ada@example.com", "verify-email", 2))
    assert (
        await rec.client.post("/api/auth/verify-email", json={"token": first})
    ).status_code == 400
    assert (
        await rec.client.post("/api/auth/verify-email", json={"token": second})
    ).status_code == 200
    done = await rec.client.post("/api/auth/verify-email/resend", headers=bearer(session))
    assert (done.status_code, done.json()["detail"]) == (
        200,
        "Your email address is already confirmed.",
    )
    limited = await rec.client.post("/api/auth/verify-email/resend", headers=bearer(session))
    assert limited.status_code == 429
    rec.client.cookies.clear()
    assert (await rec.client.post("/api/auth/verify-email/resend")).status_code == 401


async def test_deleting_the_account_removes_its_links_and_mail(
    rec: Recovery, engine: AsyncEngine
) -> None:
    await register(rec.client, "ada@example.com")
    session = await login(rec.client, "ada@example.com")
    await rec.reset("ada@example.com")
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM delivery_jobs")) == 2
    deleted = await rec.client.request(
        "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=bearer(session)
    )
    assert deleted.status_code == 204
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM account_tokens")) == 0
        assert await conn.scalar(text("SELECT count(*) FROM delivery_jobs")) == 0
    await deliver_queued(rec.app)
    assert rec.smtp.mailbox.messages() == []


async def test_a_sent_email_leaves_no_token_behind(rec: Recovery, engine: AsyncEngine) -> None:
    await register(rec.client, "ada@example.com")
    token = token_of(await rec.link("ada@example.com", "verify-email"))
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM delivery_jobs"))).mappings().all()
    assert [(row["kind"], row["status"], row["payload"]) for row in rows] == [
        ("email", "delivered", None)
    ]
    assert token not in repr(rows)


async def test_an_email_not_sent_before_its_link_expires_is_dropped(
    rec: Recovery, engine: AsyncEngine
) -> None:
    rec.smtp.down()
    await register(rec.client, "ada@example.com")
    await rec.app.state.delivery_worker.run_once()  # the server is down: tried again later
    async with engine.begin() as conn:
        past = utcnow() - timedelta(seconds=1)
        await conn.execute(update(DeliveryJob).values(expires_at=past, run_after=past))
    rec.smtp.up()
    await deliver_queued(rec.app)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT status, payload FROM delivery_jobs"))).all()
    assert [(status, payload) for status, payload in rows] == [("expired", None)]
    assert rec.smtp.mailbox.messages() == []


async def test_maintenance_purges_expired_links(rec: Recovery, engine: AsyncEngine) -> None:
    await register(rec.client, "ada@example.com")
    await register(rec.client, "bob@example.com")
    session = await login(rec.client, "ada@example.com")
    await rec.client.put(
        "/api/users/me/email",
        json={"new_email": "ada.new@example.com", "password": PASSWORD},
        headers=bearer(session),
    )
    async with engine.begin() as conn:
        await conn.execute(
            update(AccountToken)
            .where(AccountToken.purpose == "email_change")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await rec.me(session))["pending_email"] is None  # an expired change is not pending
    purged = await purge_stale_rows(
        rec.app.state.session_factory, rec.app.state.rate_limiter, retention=timedelta(days=7)
    )
    assert purged.tokens == 1
    async with engine.connect() as conn:
        purposes = (await conn.execute(text("SELECT purpose FROM account_tokens"))).scalars()
        assert sorted(purposes) == ["email_verification", "email_verification"]


async def confirm_change(rec: Recovery, token: str) -> httpx.Response:
    return await rec.client.post("/api/auth/confirm-email", json={"token": token})


async def ask_email_change(rec: Recovery, session: str, new_email: str, count: int = 1) -> str:
    """The token of the confirmation link that an email change request sends to `new_email`."""
    asked = await rec.client.put(
        "/api/users/me/email",
        json={"new_email": new_email, "password": PASSWORD},
        headers=bearer(session),
    )
    assert asked.status_code == 202, asked.text
    return token_of(await rec.link(new_email, "confirm-email", count))


async def test_confirming_an_email_change_by_the_json_call(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    session = await login(rec.client, "ada@example.com")
    verification = token_of(await rec.link("ada@example.com", "verify-email"))
    token = await ask_email_change(rec, session, "ada.new@example.com")
    for wrong in ("A" * 43, verification):  # garbage; a token of another purpose
        refused = await confirm_change(rec, wrong)
        assert refused.status_code == 400 and "not valid" in refused.json()["detail"]
    assert (await confirm_change(rec, "x" * 257)).status_code == 422
    assert (await rec.me(session))["email"] == "ada@example.com"

    done = await confirm_change(rec, token)
    assert (done.status_code, done.json()) == (
        200,
        {"detail": "Your email address has been changed."},
    )
    me = await rec.me(session)
    assert (me["email"], me["email_verified"], me["pending_email"]) == (
        "ada.new@example.com",
        True,
        None,
    )
    reused = await confirm_change(rec, token)
    assert reused.status_code == 400 and "already used" in reused.json()["detail"]
    assert (await rec.me(session))["email"] == "ada.new@example.com"


async def test_an_expired_email_change_link_changes_nothing(
    rec: Recovery, engine: AsyncEngine
) -> None:
    await register(rec.client, "ada@example.com")
    session = await login(rec.client, "ada@example.com")
    token = await ask_email_change(rec, session, "ada.new@example.com")
    async with engine.begin() as conn:
        await conn.execute(
            update(AccountToken)
            .where(AccountToken.purpose == "email_change")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    refused = await confirm_change(rec, token)
    assert refused.status_code == 400 and "expired" in refused.json()["detail"]
    me = await rec.me(session)
    assert (me["email"], me["email_verified"]) == ("ada@example.com", False)
    assert await rec.try_login("ada.new@example.com", PASSWORD) == 401


async def test_an_address_taken_before_the_link_is_opened_is_a_409(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    session = await login(rec.client, "ada@example.com")
    token = await ask_email_change(rec, session, "wanted@example.com")
    await register(rec.client, "wanted@example.com")  # someone signs up with it meanwhile
    taken = await confirm_change(rec, token)
    assert (taken.status_code, taken.json()["detail"]) == (409, "Email already registered")
    me = await rec.me(session)
    assert (me["email"], me["email_verified"]) == ("ada@example.com", False)
    assert await rec.try_login("ada@example.com", PASSWORD) == 200
    assert await rec.try_login("wanted@example.com", PASSWORD) == 200


async def both(first: Awaitable[httpx.Response], second: Awaitable[httpx.Response]) -> list[int]:
    """Two requests sent at the same moment; their statuses, sorted."""
    return sorted(response.status_code for response in await asyncio.gather(first, second))


@postgres_only
async def test_of_two_simultaneous_uses_of_a_link_exactly_one_wins(rec: Recovery) -> None:
    await register(rec.client, "ada@example.com")
    verify = {"token": token_of(await rec.link("ada@example.com", "verify-email"))}
    uses = [rec.client.post("/api/auth/verify-email", json=verify) for _ in range(2)]
    assert await both(*uses) == [200, 400]

    await rec.reset("ada@example.com")
    reset = token_of(await rec.link("ada@example.com", "reset-password"))
    assert await both(rec.confirm(reset), rec.confirm(reset, "the-other-password-9")) == [200, 400]
    won = [
        await rec.try_login("ada@example.com", p) for p in (NEW_PASSWORD, "the-other-password-9")
    ]
    assert sorted(won) == [200, 401]

    password = NEW_PASSWORD if won[0] == 200 else "the-other-password-9"
    session = await login(rec.client, "ada@example.com", password)
    asked = await rec.client.put(
        "/api/users/me/email",
        json={"new_email": "ada.new@example.com", "password": password},
        headers=bearer(session),
    )
    assert asked.status_code == 202
    change = token_of(await rec.link("ada.new@example.com", "confirm-email"))
    assert await both(confirm_change(rec, change), confirm_change(rec, change)) == [200, 400]
    assert (await rec.me(session))["email"] == "ada.new@example.com"


@postgres_only
async def test_of_two_vendors_confirming_one_new_address_at_once_one_gets_it(
    rec: Recovery,
) -> None:
    tokens = []
    for email in ("ada@example.com", "bob@example.com"):
        await register(rec.client, email)
        tokens.append(
            await ask_email_change(
                rec, await login(rec.client, email), "shared@example.com", 1 + len(tokens)
            )
        )
    assert await both(*(confirm_change(rec, token) for token in tokens)) == [200, 409]
    assert await rec.try_login("shared@example.com", PASSWORD) == 200
    left = [
        await rec.try_login(email, PASSWORD) for email in ("ada@example.com", "bob@example.com")
    ]
    assert sorted(left) == [200, 401]


async def test_production_without_smtp_still_answers_a_reset_request(
    recovery_app: Any, engine: AsyncEngine
) -> None:
    """No SMTP_HOST in production: requests answer as usual; each email job fails for good
    with the reason (and no token left in it), and nothing is sent."""
    rec = recovery_app(
        ENVIRONMENT="production",
        SMTP_HOST="",
        SECRET_KEY="Zq8v-3kLm_Pw9xRt2Yb7NcJh4GfDs6Ae1UoI5-production-like",
        CORS_ORIGINS=["https://app.quickvendor.test"],
        ALLOW_SQLITE_IN_PRODUCTION=True,  # the SQLite pass of the suite
    )
    await register(rec.client, "ada@example.com")
    response = await rec.reset("ada@example.com")
    assert (response.status_code, response.json()) == (202, RESET_ACCEPTED)
    await deliver_queued(rec.app)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT kind, status, payload, last_error FROM delivery_jobs"))
        ).all()
    assert [tuple(row) for row in rows] == [("email", "failed", None, NOT_CONFIGURED)] * 2
    assert rec.smtp.mailbox.messages() == []
