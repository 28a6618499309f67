"""What every page of the vendor area (`/account/`) shares: never indexed nor cached, the way back
after logging in, and the redirect to the login form for a page asked for without a session."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import HTMLResponse

from app.api.authentication import LoginRequired
from app.web.pages import Pages

HOME = "/account/"
LOGIN = "/account/login"
PAGE_HEADERS = {"X-Robots-Tag": "noindex, nofollow", "Cache-Control": "private, no-store"}


def account_page(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render `account/<name>` (it extends base.html or account/layout.html)."""
    pages: Pages = request.app.state.pages
    return pages.response(
        f"account/{name}",
        status_code=status_code,
        headers={**PAGE_HEADERS, **(headers or {})},
        **context,
    )


def message_page(
    request: Request,
    *,
    title: str,
    message: str,
    status_code: int = 200,
    link_url: str | None = None,
    link_text: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A short page saying what happened (an error from status 400 on), with one link on."""
    return account_page(
        request,
        "message.html",
        status_code=status_code,
        headers=headers,
        title=title,
        message=message,
        error=status_code >= 400,
        link_url=link_url,
        link_text=link_text,
    )


def form_text(fields: dict[str, object], name: str, max_length: int) -> str:
    """A text field of a posted form, cut at `max_length` ("" when missing or a file)."""
    value = fields.get(name)
    return value[:max_length] if isinstance(value, str) else ""


def safe_next(value: object) -> str:
    """Where to go after logging in: a path of this area, never another site or page."""
    if not isinstance(value, str) or not value:
        return HOME
    parts = urlsplit(value)
    inside = parts.path == "/account" or parts.path.startswith("/account/")
    if (
        parts.scheme
        or parts.netloc
        or not inside
        or ".." in unquote(value)
        or any(c in value for c in "\\\r\n\t")
    ):
        return HOME
    return value


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)


async def _to_login(request: Request, exc: Exception) -> RedirectResponse:
    next_path = exc.next_path if isinstance(exc, LoginRequired) else HOME
    return see_other(f"{LOGIN}?{urlencode({'next': safe_next(next_path)})}")


def install_login_redirect(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _to_login)
