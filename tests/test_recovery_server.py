"""Account recovery against a real server: uvicorn with its in-process delivery worker, a real
SMTP server (aiosmtpd) that is down for a while, and the whole journey in Chromium with
JavaScript off, through the links in the received emails. Screenshots are saved under the test's
temporary folder, whose path the test output shows."""

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, async_playwright
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import PASSWORD
from tests.mail_server import SmtpServer, running_smtp
from tests.servers import free_port, running_api, server_env

logger = logging.getLogger(__name__)
NEW_PASSWORD = "chosen-in-the-browser-5"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


@pytest.fixture
def server_log(tmp_path: Path) -> Path:
    return tmp_path / "server.log"


@pytest.fixture
def api(
    database_url: str, engine: AsyncEngine, smtp: SmtpServer, server_log: Path
) -> Iterator[str]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(
        database_url,
        **smtp.env(),
        PUBLIC_BASE_URL=base_url,
        LOG_LEVEL="INFO",
        PASSWORD_RESET_RESPONSE_SECONDS="0.1",
        # Quick retries, so a test waits seconds for the SMTP server's return, not minutes.
        DELIVERY_BACKOFF_BASE_SECONDS="0.2",
        DELIVERY_BACKOFF_MAX_SECONDS="1",
        DELIVERY_POLL_INTERVAL_SECONDS="0.2",
    )
    with running_api(env, server_log, port=port) as url:
        yield url


@pytest.fixture
def screenshots(
    tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> Iterator[Path]:
    """A folder for the test's screenshots; its path is shown in the test output."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    yield folder
    logger.info("screenshots in %s", folder)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        with capsys.disabled():
            reporter.write_line(f"\n{request.node.name}: screenshots in {folder}")


def assert_nothing_personal_logged(log: Path, *secrets: str) -> None:
    logged = log.read_text()
    assert re.search(r"POST /(api|account)/\S+ \d{3}", logged)  # it did log, at INFO
    for secret in secrets:
        assert secret not in logged, f"{secret!r} in the server's log"


async def jobs_tried(engine: AsyncEngine, at_least: int, within: float = 60.0) -> None:
    """Wait until every queued email has been tried `at_least` times."""
    deadline = time.monotonic() + within
    while True:
        async with engine.connect() as conn:
            fewest = await conn.scalar(text("SELECT min(attempts) FROM delivery_jobs"))
        if fewest is not None and fewest >= at_least:
            return
        assert time.monotonic() < deadline, f"jobs tried {fewest} times in {within}s"
        await asyncio.sleep(0.1)


async def test_mail_waits_for_an_smtp_server_that_is_down(
    api: str, smtp: SmtpServer, engine: AsyncEngine, server_log: Path
) -> None:
    smtp.down()
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        started = time.monotonic()
        body = {"email": "ada@example.com", "password": PASSWORD, "whatsapp_number": "08012345678"}
        registered = await client.post("/api/users/register", json=body)
        reset = await client.post("/api/auth/password-reset", json={"email": "ada@example.com"})
        # Neither request waited for the SMTP server.
        assert (registered.status_code, reset.status_code) == (201, 202)
        assert time.monotonic() - started < 10
        await jobs_tried(engine, at_least=2)
        assert smtp.mailbox.messages() == []

        smtp.up()
        reset_link = await smtp.mailbox.link("ada@example.com", "reset-password")
        verify_link = await smtp.mailbox.link("ada@example.com", "verify-email")
        token = reset_link.split("token=", 1)[1]
        confirmed = await client.post(
            "/api/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert confirmed.status_code == 200, confirmed.text
        login = await client.post(
            "/api/auth/login", json={"email": "ada@example.com", "password": NEW_PASSWORD}
        )
        assert login.status_code == 200
    # Each email arrived once, and the worker logged its retries without a personal detail.
    assert len(smtp.mailbox.messages("ada@example.com")) == 2
    assert_nothing_personal_logged(
        server_log, "ada@example.com", token, verify_link.split("token=", 1)[1]
    )


class Visit:
    """One browser tab on the server, keeping every request it made."""

    def __init__(self, page: Page, base_url: str, folder: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.folder = folder
        self.requests: list[Request] = []
        page.on("request", lambda request: self.requests.append(request))
        self.shots = 0

    async def shot(self, name: str) -> None:
        self.shots += 1
        await self.page.screenshot(
            path=self.folder / f"{self.shots:02d}-{name}.png", full_page=True
        )

    async def open(self, url: str) -> int:
        response = await self.page.goto(url)
        assert response is not None
        return response.status

    async def submit(self, button: str) -> int:
        async with self.page.expect_navigation() as navigation:
            await self.page.get_by_role("button", name=button).click()
        response = await navigation.value
        assert response is not None
        return response.status

    async def text(self) -> str:
        return await self.page.inner_text("main")


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def test_the_whole_journey_in_a_browser_without_javascript(
    api: str, smtp: SmtpServer, chromium: Browser, screenshots: Path, server_log: Path
) -> None:
    email = "ada.browser@example.com"
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        body = {"email": email, "password": PASSWORD, "whatsapp_number": "08012345678"}
        assert (await client.post("/api/users/register", json=body)).status_code == 201

    context = await chromium.new_context(
        java_script_enabled=False, viewport={"width": 390, "height": 844}
    )
    visit = Visit(await context.new_page(), api, screenshots)

    verify_link = await smtp.mailbox.link(email, "verify-email")
    assert await visit.open(verify_link) == 200
    assert "Your email address is confirmed." in await visit.text()
    await visit.shot("email-confirmed")

    assert await visit.open(f"{api}/account/login") == 200
    await visit.shot("login")
    async with visit.page.expect_navigation():
        await visit.page.get_by_role("link", name="Forgot your password?").click()
    await visit.page.get_by_label("Email").fill(email)
    assert await visit.submit("Send me a reset link") == 200
    assert "If that email has an account, a reset link is on its way." in await visit.text()
    await visit.shot("reset-requested")

    reset_link = await smtp.mailbox.link(email, "reset-password")
    assert await visit.open(reset_link) == 200
    await visit.shot("reset-form")
    await visit.page.get_by_label("New password").fill(NEW_PASSWORD)
    await visit.page.get_by_label("The same password again").fill("not-the-same-one")
    assert await visit.submit("Change my password") == 400
    assert "The two passwords are not the same." in await visit.text()
    await visit.shot("reset-form-mismatch")
    await visit.page.get_by_label("New password").fill(NEW_PASSWORD)
    await visit.page.get_by_label("The same password again").fill(NEW_PASSWORD)
    assert await visit.submit("Change my password") == 200
    assert "Your password has been changed" in await visit.text()
    await visit.shot("password-changed")

    async with visit.page.expect_navigation():
        await visit.page.get_by_role("link", name="Log in").click()
    await visit.page.get_by_label("Email").fill(email)
    await visit.page.get_by_label("Password").fill(PASSWORD)  # the old one
    assert await visit.submit("Log in") == 401
    assert "Incorrect email or password" in await visit.text()
    await visit.shot("old-password-refused")
    await visit.page.get_by_label("Password").fill(NEW_PASSWORD)
    assert await visit.submit("Log in") == 200
    assert visit.page.url == f"{api}/account/"
    home = await visit.text()
    assert email in home and "confirmed" in home
    assert "/s/ada-browser" in await visit.page.content()
    await visit.shot("home")

    # Both links are spent.
    assert await visit.open(reset_link) == 400
    assert "already used" in await visit.text()
    await visit.shot("reset-link-spent")
    assert await visit.open(verify_link) == 400
    assert "already used" in await visit.text()

    assert await visit.open(f"{api}/account/") == 200
    assert await visit.submit("Log out") == 200
    assert visit.page.url.startswith(f"{api}/account/login")
    assert await visit.open(f"{api}/account/") == 200  # back at the form, sent by the redirect
    assert "/account/login?next=" in visit.page.url

    # Nothing was fetched from anywhere else, and the reset form's posts carried no Referer.
    assert all(request.url.startswith(api) for request in visit.requests)
    posts = [r for r in visit.requests if r.method == "POST" and r.url.endswith("/reset-password")]
    assert len(posts) == 2
    for post in posts:
        assert "referer" not in await post.all_headers()
    await context.close()
    token = reset_link.split("token=", 1)[1]
    assert_nothing_personal_logged(server_log, email, token, NEW_PASSWORD)
