"""The frontend's feedback call: its exact answers, what is stored, the limits, the secret key,
the optional session cookie, Slack's escaping, and the operator's command."""

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.delivery.registry import FEEDBACK_KIND
from app.delivery.slack import slack_escape
from app.delivery.worker import DeliveryWorker
from app.main import create_app
from app.settings import Settings
from tests.conftest import FRONTEND, PASSWORD, client_for, login, make_settings, register
from tests.feedback_helpers import (
    HOSTILE,
    THANK_YOU,
    app_log_records,
    logged_text,
    report_body,
    send_report,
    stored,
)
from tests.servers import ROOT, server_env
from tests.slack_stub import GONE, SlackStub, running_slack_stub

FEEDBACK_KEY = "a-feedback-key-only-the-team-knows-0123456789"


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    with running_slack_stub() as stub:
        yield stub


@pytest.fixture
async def slack_app(
    database_url: str, engine: AsyncEngine, slack: SlackStub
) -> AsyncIterator[FastAPI]:
    """The app with Slack configured (its worker is driven by the tests, one batch at a time)."""
    application = create_app(make_settings(database_url, SLACK_WEBHOOK_URL=slack.url))
    yield application
    await application.state.engine.dispose()


def worker_of(app: FastAPI) -> DeliveryWorker:
    worker: DeliveryWorker = app.state.delivery_worker
    return worker


async def test_the_frontends_call_is_stored_queued_and_answered_as_before(
    slack_app: FastAPI, engine: AsyncEngine
) -> None:
    async with client_for(slack_app) as client:
        # The frontend is on another origin: its JSON POST is preflighted first.
        preflight = await client.options(
            "/api/feedback/report",
            headers={
                "Origin": FRONTEND,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == FRONTEND
        response = await send_report(client, "  The banner upload keeps failing.\n ")
    assert response.status_code == 200, response.text
    assert response.json() == THANK_YOU
    assert response.headers["access-control-allow-origin"] == FRONTEND

    [report] = await stored(engine, "feedback")
    assert report["id"].startswith("feedback_") and len(report["id"]) == len("feedback_") + 32
    assert report["message"] == "The banner upload keeps failing."
    assert report["url"] == "https://quickvendor.example/dashboard?tab=products"
    assert report["client_timestamp"].endswith("Z")
    assert report["vendor_id"] is None
    assert report["request_id"] == response.headers["x-request-id"]
    assert report["delivered_at"] is None and report["attempts"] == 0
    [job] = await stored(engine, "delivery_jobs")
    assert report["delivery_job_id"] == job["id"]
    assert job["kind"] == FEEDBACK_KIND and job["status"] == "pending"
    assert job["request_id"] == response.headers["x-request-id"]


async def test_without_slack_the_report_is_stored_and_nothing_is_queued(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    response = await send_report(client, "Please add dark mode")
    assert response.status_code == 200
    assert response.json() == THANK_YOU
    [report] = await stored(engine, "feedback")
    assert report["message"] == "Please add dark mode"
    assert report["delivery_job_id"] is None
    assert await stored(engine, "delivery_jobs") == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (report_body("ab"), "message"),
        (report_body("   a \n  "), "message"),
        (report_body(""), "message"),
        (report_body("x" * 5001), "message"),
        (report_body(123), "message"),
        (report_body(None), "message"),
        ({"url": "https://x.example/", "timestamp": "now"}, "message"),
        (report_body("Fine text", url="https://x.example/" + "a" * 2040), "url"),
        (report_body("Fine text", url=42), "url"),
        ({"message": "Fine text", "timestamp": "now"}, "url"),
        (report_body("Fine text", timestamp=1733300000), "timestamp"),
        (report_body("Fine text", timestamp=None), "timestamp"),
        ({"message": "Fine text", "url": "https://x.example/"}, "timestamp"),
        (["Fine text"], "body"),
    ],
)
async def test_bad_reports_get_a_readable_422_and_store_nothing(
    slack_app: FastAPI, engine: AsyncEngine, body: Any, where: str
) -> None:
    async with client_for(slack_app) as client:
        response = await client.post("/api/feedback/report", json=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert isinstance(answer["detail"], str) and answer["detail"].startswith(where)
    assert answer["request_id"]
    assert await stored(engine, "feedback") == []
    assert await stored(engine, "delivery_jobs") == []


async def test_text_no_database_can_store_is_a_422_and_stores_nothing(
    slack_app: FastAPI, engine: AsyncEngine
) -> None:
    async with client_for(slack_app) as client:
        for bad in ("nul \x00 inside", "lone \ud800 surrogate"):
            # Sent as JSON escapes (backslash-u0000, backslash-ud800), as JSON.stringify does.
            response = await client.post(
                "/api/feedback/report",
                content=json.dumps(report_body(bad)).encode(),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 422, response.text
    assert await stored(engine, "feedback") == []
    assert await stored(engine, "delivery_jobs") == []


async def test_edges_that_are_accepted(slack_app: FastAPI, engine: AsyncEngine) -> None:
    async with client_for(slack_app) as client:
        accepted = [
            report_body("abc"),
            report_body("y" * 5000),
            report_body("  spaced  ", url="https://x.example/" + "a" * 2030),
            report_body("No page given", url=""),
            report_body("Clock is odd", timestamp="last tuesday, around noon"),
            report_body("Clock is long", timestamp="9" * 500),
            {**report_body("Extra fields are ignored"), "userAgent": "Mozilla/5.0"},
        ]
        for body in accepted:
            response = await client.post("/api/feedback/report", json=body)
            assert response.status_code == 200, response.text
            assert response.json() == THANK_YOU
    reports = {row["message"]: row for row in await stored(engine, "feedback")}
    assert len(reports) == len(accepted)
    assert reports["spaced"]["url"].endswith("a" * 2030)
    assert reports["Clock is odd"]["client_timestamp"] == "last tuesday, around noon"
    assert reports["Clock is long"]["client_timestamp"] == "9" * 100
    assert len(await stored(engine, "delivery_jobs")) == len(accepted)


async def test_the_secret_key_rule_of_the_earlier_backend(
    database_url: str, engine: AsyncEngine
) -> None:
    app = create_app(make_settings(database_url, FEEDBACK_SECRET_KEY=FEEDBACK_KEY))
    try:
        async with client_for(app) as client:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": FEEDBACK_KEY}):
                refused = await client.post(
                    "/api/feedback/report", json=report_body("Hello team"), headers=headers
                )
                assert refused.status_code == 401, refused.text
                assert refused.json()["detail"] == "Invalid or missing feedback key"
                assert refused.headers["www-authenticate"] == "Bearer"
            accepted = await client.post(
                "/api/feedback/report",
                json=report_body("Hello team"),
                headers={"Authorization": f"Bearer {FEEDBACK_KEY}"},
            )
            assert accepted.status_code == 200
            assert accepted.json() == THANK_YOU
    finally:
        await app.state.engine.dispose()
    assert len(await stored(engine, "feedback")) == 1


async def test_without_a_key_any_authorization_header_is_ignored(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/feedback/report",
        json=report_body("Hello team"),
        headers={"Authorization": "Bearer not-a-token-at-all"},
    )
    assert response.status_code == 200
    assert response.json() == THANK_YOU


async def test_reports_are_rate_limited_per_client(database_url: str, engine: AsyncEngine) -> None:
    defaults = make_settings(database_url)
    assert (defaults.FEEDBACK_RATE_LIMIT, defaults.FEEDBACK_RATE_LIMIT_WINDOW_SECONDS) == (10, 300)
    app = create_app(
        make_settings(
            database_url,
            RATE_LIMIT_ENABLED=True,
            FEEDBACK_RATE_LIMIT=3,
        )
    )
    try:
        async with client_for(app) as client:
            for _ in range(3):
                assert (await send_report(client, "One more thing")).status_code == 200
            refused = await send_report(client, "One more thing")
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) > 0
            assert refused.json()["detail"].startswith("Too many feedback reports")
            # A bad report counts too, so nobody probes the validation for free.
            assert (await client.post("/api/feedback/report", json={})).status_code == 429
    finally:
        await app.state.engine.dispose()
    assert len(await stored(engine, "feedback")) == 3


async def test_a_live_session_cookie_links_the_report_to_its_vendor(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    user = await register(client, "ada@example.com")
    await login(client, "ada@example.com")
    assert client.cookies.get("access_token")
    assert (await send_report(client, "Linked to me")).status_code == 200
    # A cookie sent cross-site is not taken as the vendor's word.
    cross_site = await client.post(
        "/api/feedback/report",
        json=report_body("From elsewhere"),
        headers={"Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 200
    logout = await client.post("/api/auth/logout", headers={"Origin": FRONTEND})
    assert logout.status_code == 200
    client.cookies.set("access_token", "forged.or.expired")
    assert (await send_report(client, "Forged cookie")).status_code == 200
    reports = {row["message"]: row for row in await stored(engine, "feedback")}
    assert reports["Linked to me"]["vendor_id"] == user["id"]
    assert reports["From elsewhere"]["vendor_id"] is None
    assert reports["Forged cookie"]["vendor_id"] is None


async def test_a_revoked_session_cookie_makes_an_anonymous_report(
    client: httpx.AsyncClient, engine: AsyncEngine, make_client: Any, app: FastAPI
) -> None:
    await register(client, "ada@example.com")
    await login(client, "ada@example.com")
    cookie = client.cookies.get("access_token")
    assert (await client.post("/api/auth/logout", headers={"Origin": FRONTEND})).status_code == 200
    other = make_client(app)
    other.cookies.set("access_token", cookie)
    response = await send_report(other, "After logout")
    assert response.status_code == 200
    assert response.json() == THANK_YOU
    [report] = await stored(engine, "feedback")
    assert report["vendor_id"] is None


async def test_health_says_whether_slack_is_configured_and_nothing_secret(
    client: httpx.AsyncClient, slack_app: FastAPI, slack: SlackStub
) -> None:
    response = await client.get("/api/feedback/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "slack_configured": False}
    async with client_for(slack_app) as configured:
        response = await configured.get("/api/feedback/health")
    assert response.json() == {"status": "ok", "slack_configured": True}
    assert str(slack.port) not in response.text


async def test_no_public_endpoint_posts_to_slack(slack_app: FastAPI, slack: SlackStub) -> None:
    paths = {path for path in slack_app.openapi()["paths"] if path.startswith("/api/feedback")}
    assert paths == {"/api/feedback/report", "/api/feedback/health"}
    async with client_for(slack_app) as client:
        for path in ("/api/feedback/test-slack", "/api/feedback/test"):
            assert (await client.post(path)).status_code == 404
    assert slack.posts == []


async def test_slack_gets_everything_the_user_sent_escaped(
    slack_app: FastAPI, slack: SlackStub, engine: AsyncEngine
) -> None:
    async with client_for(slack_app) as client:
        response = await send_report(
            client,
            HOSTILE,
            url="https://quickvendor.example/<!channel>?a=1&b=<2>",
            timestamp="<!everyone> 09:30",
        )
    assert response.status_code == 200
    assert await worker_of(slack_app).run_once() == 1
    [text] = slack.delivered()
    assert "<" not in text and ">" not in text
    assert slack_escape(HOSTILE) in text
    assert "&amp;lt;" not in text.replace(slack_escape("&amp;"), "")
    assert "https://quickvendor.example/&lt;!channel&gt;?a=1&amp;b=&lt;2&gt;" in text
    assert "&lt;!everyone&gt; 09:30" in text
    [report] = await stored(engine, "feedback")
    assert report["id"] in text
    assert report["delivered_at"] is not None and report["attempts"] == 1
    [job] = await stored(engine, "delivery_jobs")
    assert job["status"] == "delivered" and job["payload"] is None


async def test_a_parseable_client_time_is_shown_in_utc(
    slack_app: FastAPI, slack: SlackStub
) -> None:
    async with client_for(slack_app) as client:
        await send_report(client, "Time check", timestamp="2026-12-04T10:30:00+01:00")
    assert await worker_of(slack_app).run_once() == 1
    [text] = slack.delivered()
    assert "*Sent at:* 2026-12-04 09:30:00 UTC" in text


async def test_log_lines_name_the_report_and_request_never_its_text(
    slack_app: FastAPI, slack: SlackStub
) -> None:
    secret_text = "my phone is 08031234567 and my email ada@example.com"
    slack.play(GONE)
    with app_log_records() as records:
        async with client_for(slack_app) as client:
            response = await send_report(client, secret_text)
        await worker_of(slack_app).run_once()
    logged = logged_text(records)
    assert "08031234567" not in logged and "ada@example.com" not in logged
    assert "my phone" not in logged
    # The webhook's URL is its credential: no library logs it either.
    assert "/services/" not in logged
    [stored_line] = [r for r in records if r.name == "app.feedback"]
    assert stored_line.__dict__["feedback_id"] in stored_line.getMessage()
    request_ids = {getattr(r, "request_id", None) for r in records} - {None}
    assert response.headers["x-request-id"] in logged
    assert request_ids <= {response.headers["x-request-id"]}
    [gave_up] = [r for r in records if r.name == "app.delivery"]
    assert "given up" in gave_up.getMessage() and "HTTP 404" in gave_up.getMessage()


async def test_deleting_a_vendor_unlinks_their_reports_which_are_still_delivered(
    slack_app: FastAPI, engine: AsyncEngine
) -> None:
    async with client_for(slack_app) as client:
        await register(client, "ada@example.com")
        await login(client, "ada@example.com")
        assert (await send_report(client, "Before I go")).status_code == 200
        [report] = await stored(engine, "feedback")
        assert report["vendor_id"] is not None and report["delivery_job_id"] is not None
        deleted = await client.request(
            "DELETE",
            "/api/users/me",
            json={"password": PASSWORD},
            headers={"Origin": FRONTEND},
        )
        assert deleted.status_code == 204, deleted.text
    [report] = await stored(engine, "feedback")
    assert report["message"] == "Before I go"
    assert report["vendor_id"] is None
    [job] = await stored(engine, "delivery_jobs")
    assert job["id"] == report["delivery_job_id"] and job["vendor_id"] is None


def feedback_command(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "app.feedback", *args],
        cwd=ROOT,
        env=server_env(database_url, LOG_LEVEL="WARNING", **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_operators_list_show_and_resend_reports(
    database_url: str, client: httpx.AsyncClient, engine: AsyncEngine, slack: SlackStub
) -> None:
    for message in ("First: the storefront is slow", "Second: " + "long " * 40):
        assert (await send_report(client, message)).status_code == 200
    listing = await asyncio.to_thread(feedback_command, database_url, "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("feedback_") and "Second: long" in lines[0] and "…" in lines[0]
    assert "First: the storefront is slow" in lines[1] and "[not sent]" in lines[1]
    feedback_id = lines[1].split()[0]

    shown = await asyncio.to_thread(feedback_command, database_url, "show", feedback_id)
    assert shown.returncode == 0, shown.stderr
    assert "First: the storefront is slow" in shown.stdout and "anonymous" in shown.stdout
    missing = await asyncio.to_thread(feedback_command, database_url, "show", "feedback_nope")
    assert missing.returncode == 1 and "no report" in missing.stderr

    unconfigured = await asyncio.to_thread(feedback_command, database_url, "retry", feedback_id)
    assert unconfigured.returncode == 1 and "SLACK_WEBHOOK_URL" in unconfigured.stderr
    resent = await asyncio.to_thread(
        feedback_command, database_url, "retry", feedback_id, SLACK_WEBHOOK_URL=slack.url
    )
    assert resent.returncode == 0, resent.stderr
    again = await asyncio.to_thread(
        feedback_command, database_url, "retry", feedback_id, SLACK_WEBHOOK_URL=slack.url
    )
    assert again.returncode == 1 and "already queued" in again.stderr

    app = create_app(make_settings(database_url, SLACK_WEBHOOK_URL=slack.url))
    try:
        assert await worker_of(app).run_once() == 1
    finally:
        await app.state.engine.dispose()
    [text] = slack.delivered()
    assert feedback_id in text and "First: the storefront is slow" in text
    undelivered = await asyncio.to_thread(feedback_command, database_url, "list", "--undelivered")
    assert feedback_id not in undelivered.stdout and len(undelivered.stdout.splitlines()) == 1
    done = await asyncio.to_thread(
        feedback_command, database_url, "retry", feedback_id, SLACK_WEBHOOK_URL=slack.url
    )
    assert done.returncode == 1 and "already delivered" in done.stderr


def test_slack_settings_are_checked(database_url: str) -> None:
    with pytest.raises(ValueError, match="SLACK_WEBHOOK_URL"):
        make_settings(database_url, SLACK_WEBHOOK_URL="hooks.slack.com/services/x")
    settings: Settings = make_settings(database_url, SLACK_WEBHOOK_URL="  ")
    assert settings.SLACK_WEBHOOK_URL is None and not settings.slack_configured
