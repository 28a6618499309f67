"""The vendor area's HTML shell over real HTTP (ASGI): login form, redirects, logout, home, the
link pages; never indexed, no external asset, forms refused from other origins."""

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from tests.conftest import PASSWORD, client_for, make_settings, register
from tests.mail_server import SmtpServer, running_smtp
from tests.recovery_helpers import deliver_queued

OWN = {"Origin": "http://testserver"}
EVIL = {"Origin": "https://evil.example"}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


@pytest.fixture
async def area(database_url: str, engine: AsyncEngine, smtp: SmtpServer) -> AsyncIterator[FastAPI]:
    settings = make_settings(database_url, **smtp.settings(), PUBLIC_BASE_URL="http://testserver")
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def browser(area: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(area) as client:
        yield client


def assert_page(response: httpx.Response, status: int = 200) -> str:
    """An area page: HTML, never indexed or cached, no asset from anywhere."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<meta name="robots" content="noindex' in response.text
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    assert "no-store" in response.headers["Cache-Control"]
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "form-action 'self'" in policy
    assert "unsafe" not in policy
    assert not re.search(r"<(script|link|img|iframe)\b", response.text)
    return response.text


async def log_in(
    browser: httpx.AsyncClient, email: str = "ada@example.com", next_path: str = ""
) -> httpx.Response:
    form = {"email": email, "password": PASSWORD, "next": next_path}
    return await browser.post("/account/login", data=form, headers=OWN)


async def test_a_page_without_a_session_sends_to_the_login_form(
    browser: httpx.AsyncClient,
) -> None:
    for path, expected in (("/account/", "/account"), ("/account?tab=x", "/account?tab=x")):
        response = await browser.get(path)
        assert response.status_code == 303
        location = urlsplit(response.headers["location"])
        assert location.path == "/account/login"
        assert parse_qs(location.query)["next"] == [expected]
    page = assert_page(await browser.get("/account/login?next=/account/orders"))
    assert 'name="next" value="/account/orders"' in page
    assert 'action="/account/login"' in page and 'href="/account/forgot-password"' in page


async def test_logging_in_goes_on_to_next_then_home(browser: httpx.AsyncClient) -> None:
    await register(browser, "ada@example.com")
    response = await log_in(browser, next_path="/account/orders?status=new")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/orders?status=new"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("access_token=") and "HttpOnly" in cookie
    home = assert_page(await browser.get("/account/"))
    assert "http://testserver/s/ada" in home  # the store page, which previews in WhatsApp
    for link in ('href="/account/"', 'href="/account/orders"', 'href="/account/insights"'):
        assert link in home
    assert 'action="/account/logout"' in home
    assert 'action="/account/verify-email/resend"' in home  # not confirmed yet
    # Already logged in: the form is skipped.
    again = await browser.get("/account/login?next=/account/insights")
    assert (again.status_code, again.headers["location"]) == (303, "/account/insights")


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/account/",
        "//evil.example/account/",
        "/account/../api/users/me",
        "/account/%2e%2e/x",
        "/accounting",
        "/\\evil.example",
        "",
    ],
)
async def test_next_never_leaves_the_area(browser: httpx.AsyncClient, next_path: str) -> None:
    await register(browser, "ada@example.com")
    response = await log_in(browser, next_path=next_path)
    assert (response.status_code, response.headers["location"]) == (303, "/account/")


async def test_a_wrong_password_shows_the_form_again(browser: httpx.AsyncClient) -> None:
    await register(browser, "ada@example.com")
    form = {"email": "<b>ada@example.com</b>", "password": "wrong", "next": "/account/"}
    page = assert_page(await browser.post("/account/login", data=form, headers=OWN), 401)
    assert "Incorrect email or password" in page
    assert 'value="&lt;b&gt;ada@example.com&lt;/b&gt;"' in page
    assert "set-cookie" not in (await browser.post("/account/login", data={}, headers=OWN)).headers


async def test_forms_from_other_origins_are_refused(browser: httpx.AsyncClient) -> None:
    await register(browser, "ada@example.com")
    form = {"email": "ada@example.com", "password": PASSWORD}
    for headers in (EVIL, {}, {"Origin": "null"}):
        refused = await browser.post("/account/login", data=form, headers=headers)
        assert refused.status_code == 403 and "Cross-site" in refused.text
        assert "set-cookie" not in refused.headers
    assert (await log_in(browser)).status_code == 303
    for path in ("/account/logout", "/account/verify-email/resend", "/account/forgot-password"):
        refused = await browser.post(path, data={"email": "ada@example.com"}, headers=EVIL)
        assert refused.status_code == 403, path
    assert (await browser.get("/account/")).status_code == 200  # still logged in


async def test_login_form_limits_like_the_api(database_url: str, engine: AsyncEngine) -> None:
    settings = make_settings(database_url, RATE_LIMIT_ENABLED=True, LOGIN_ACCOUNT_LIMIT=2)
    application = create_app(settings)
    try:
        async with client_for(application) as browser:
            form = {"email": "ada@example.com", "password": "wrong"}
            for _ in range(2):
                response = await browser.post("/account/login", data=form, headers=OWN)
                assert response.status_code == 401
            limited = await browser.post("/account/login", data=form, headers=OWN)
            assert "Too many login attempts" in assert_page(limited, 429)
            assert int(limited.headers["Retry-After"]) >= 1
    finally:
        await application.state.engine.dispose()


async def test_logging_out_ends_the_session(browser: httpx.AsyncClient) -> None:
    await register(browser, "ada@example.com")
    await log_in(browser)
    cookie = browser.cookies["access_token"]
    response = await browser.post("/account/logout", headers=OWN)
    assert (response.status_code, response.headers["location"]) == (303, "/account/login")
    assert 'access_token=""' in response.headers["set-cookie"]
    browser.cookies.set("access_token", cookie)  # the old cookie, kept by hand, is dead
    assert (await browser.get("/account/")).status_code == 303


async def test_reset_through_the_pages(
    area: FastAPI, browser: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await register(browser, "ada@example.com")
    forgot = assert_page(await browser.get("/account/forgot-password"))
    assert 'action="/account/forgot-password"' in forgot
    sent = await browser.post(
        "/account/forgot-password", data={"email": "ada@example.com"}, headers=OWN
    )
    assert "If that email has an account, a reset link is on its way." in assert_page(sent)
    unknown = await browser.post(
        "/account/forgot-password", data={"email": "nobody@example.com"}, headers=OWN
    )
    assert unknown.text.replace(unknown.headers["x-request-id"], "") == sent.text.replace(
        sent.headers["x-request-id"], ""
    )
    await deliver_queued(area)
    link = urlsplit(await smtp.mailbox.link("ada@example.com", "reset-password"))
    token = parse_qs(link.query)["token"][0]

    form = await browser.get(f"{link.path}?{link.query}")
    page = assert_page(form)
    assert form.headers["Referrer-Policy"] == "no-referrer"
    assert '<meta name="referrer" content="no-referrer">' in page
    assert f'name="token" value="{token}"' in page and 'method="post"' in page

    def fields(new: str, confirm: str) -> dict[str, Any]:
        return {"token": token, "new_password": new, "confirm_password": confirm}

    # Posted as the page would be: this page sends no Referer and `Origin: null`.
    null_origin = {"Origin": "null"}
    differ = await browser.post(
        "/account/reset-password",
        data=fields("new-password-1", "new-password-2"),
        headers=null_origin,
    )
    assert "not the same" in assert_page(differ, 400)
    assert f'name="token" value="{token}"' in differ.text
    short = await browser.post("/account/reset-password", data=fields("short", "short"))
    assert "8 to 128 characters" in assert_page(short, 400)
    done = await browser.post(
        "/account/reset-password",
        data=fields("new-password-1", "new-password-1"),
        headers=null_origin,
    )
    assert "Your password has been changed" in assert_page(done)
    reused = await browser.post(
        "/account/reset-password", data=fields("new-password-3", "new-password-3")
    )
    assert "already used" in assert_page(reused, 400)
    dead = await browser.get(f"{link.path}?{link.query}")
    assert "already used" in assert_page(dead, 400)
    login = await browser.post(
        "/account/login",
        data={"email": "ada@example.com", "password": "new-password-1"},
        headers=OWN,
    )
    assert login.status_code == 303


async def test_link_pages_answer_bad_links_as_pages(browser: httpx.AsyncClient) -> None:
    for page in ("reset-password", "verify-email", "confirm-email"):
        response = await browser.get(f"/account/{page}?token=" + "C" * 43)
        assert "not valid" in assert_page(response, 400)
        missing = await browser.get(f"/account/{page}")
        assert missing.status_code == 422 and "text/html" in missing.headers["content-type"]


async def test_resend_from_the_home_page(
    area: FastAPI, browser: httpx.AsyncClient, smtp: SmtpServer
) -> None:
    await register(browser, "ada@example.com")
    await deliver_queued(area)
    await smtp.mailbox.link("ada@example.com", "verify-email")
    await log_in(browser)
    sent = await browser.post("/account/verify-email/resend", headers=OWN)
    assert "A new verification link is on its way." in assert_page(sent)
    await deliver_queued(area)
    link = urlsplit(await smtp.mailbox.link("ada@example.com", "verify-email", 2))
    assert "Email confirmed" in assert_page(await browser.get(f"{link.path}?{link.query}"))
    home = assert_page(await browser.get("/account/"))
    assert "confirmed" in home and "/account/verify-email/resend" not in home
