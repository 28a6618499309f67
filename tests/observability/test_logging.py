"""Log lines: JSON outside development, the request id on every line, no personal data."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncEngine

from app.http.addresses import ClientFingerprints
from app.main import create_app
from app.observability.logging import JsonFormatter
from app.settings import Settings
from tests.conftest import (
    ROOT,
    client_for,
    create_product,
    is_postgres,
    login,
    make_settings,
    register,
)

EMAIL = "ada.fabrics@example.com"
PASSWORD = "correct-horse-42"
WHATSAPP = "+234 803 555 0199"
TEST_TOKEN = "operator-check-1234"


def production(database_url: str, **overrides: Any) -> Settings:
    return make_settings(
        database_url,
        ENVIRONMENT="production",
        ALLOW_SQLITE_IN_PRODUCTION=not is_postgres(),
        **overrides,
    )


def _capture_root_log() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return stream


async def test_production_lines_are_json_with_request_ids_and_no_personal_data(
    database_url: str, engine: AsyncEngine
) -> None:
    settings = production(database_url, SENTRY_TEST_TOKEN=TEST_TOKEN)
    app = create_app(settings)
    stream = _capture_root_log()
    async with client_for(app) as client:
        await register(client, EMAIL, PASSWORD, WHATSAPP)
        token = await login(client, EMAIL, PASSWORD)
        wrong = {"email": EMAIL, "password": "wrong-password-1"}
        assert (await client.post("/api/auth/login", json=wrong)).status_code == 401
        headers = {"Authorization": f"Bearer {token}"}
        await create_product(client, headers)
        listed = await client.get("/api/products", headers=headers)
        failed = await client.get(
            f"/api/sentry/test-error?email={quote(EMAIL)}",
            headers={"X-Sentry-Test-Token": TEST_TOKEN, **headers},
        )
    await app.state.engine.dispose()
    assert failed.status_code == 500

    text = stream.getvalue()
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]
    assert all(line["request_id"] not in (None, "") for line in lines)
    [access] = [line for line in lines if line["request_id"] == listed.headers["X-Request-ID"]]
    assert access["logger"] == "app.access"
    assert (access["method"], access["route"], access["status"]) == ("GET", "/api/products", 200)
    assert access["user_id"].startswith("user_")
    assert access["duration_ms"] >= 0
    [login_failed] = [line for line in lines if line.get("event") == "login.failed"]
    assert login_failed["level"] == "WARNING"
    assert re.fullmatch(r"[0-9a-f]{12}", login_failed["email_hash"])
    [unhandled] = [line for line in lines if line["logger"] == "app.errors.unhandled"]
    assert unhandled["request_id"] == failed.headers["X-Request-ID"]
    assert "SentryTestError" in unhandled["exception"]
    for secret in (
        EMAIL,
        quote(EMAIL),
        PASSWORD,
        "wrong-password-1",
        WHATSAPP,
        "2348035550199",
        token,
        TEST_TOKEN,
    ):
        assert secret not in text, f"{secret!r} was logged"


async def test_development_lines_are_readable_and_level_is_a_setting(
    database_url: str, engine: AsyncEngine
) -> None:
    app = create_app(make_settings(database_url))
    stream = _capture_root_log()
    async with client_for(app) as client:
        response = await client.get("/", headers={"X-Request-ID": "dev-req-1"})
    assert response.status_code == 200
    assert re.search(
        r" INFO \[dev-req-1\] app\.access: GET / 200 [0-9.]+ms user=-", stream.getvalue()
    )
    await app.state.engine.dispose()

    quiet = create_app(make_settings(database_url, LOG_LEVEL="warning"))
    stream = _capture_root_log()
    async with client_for(quiet) as client:
        assert (await client.get("/")).status_code == 200
        wrong = {"email": EMAIL, "password": "wrong-password-1"}
        assert (await client.post("/api/auth/login", json=wrong)).status_code == 401
    await quiet.state.engine.dispose()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert re.search(
        r" WARNING \[\w+\] app\.events: Login failed event=login\.failed "
        r"email_hash=[0-9a-f]{12}$",
        lines[0],
    )


async def test_an_unknown_method_is_logged_as_other(database_url: str, engine: AsyncEngine) -> None:
    # The access line is not searched for personal data, so nothing a client chose goes in it.
    app = create_app(make_settings(database_url, ENVIRONMENT="development"))
    stream = _capture_root_log()
    async with client_for(app) as client:
        await client.request("ADA@EXAMPLE.COM", "/api/products")
        await client.request("PROPFIND", "/api/store/ada")
    await app.state.engine.dispose()
    # The test client's own lines (httpx) name the method; the app's must not.
    text = "\n".join(line for line in stream.getvalue().splitlines() if " app." in line)
    assert "ADA@EXAMPLE.COM" not in text and "PROPFIND" not in text
    assert text.count("app.access: OTHER ") == 2


async def test_access_line_carries_a_keyed_hash_of_the_resolved_client(
    database_url: str, engine: AsyncEngine
) -> None:
    settings = production(database_url, TRUSTED_PROXIES=["127.0.0.1"])
    app = create_app(settings)
    stream = _capture_root_log()
    forwarded = ("81.2.69.160", "::ffff:81.2.69.160", "10.1.2.3", "2001:db8::1")
    async with client_for(app) as client:
        for address in forwarded:
            await client.get("/api/health/live", headers={"X-Forwarded-For": address})
        await client.get("/api/health/live")  # the peer itself: loopback
        await client.head("/api/health/live")
    await app.state.engine.dispose()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [
        (line["client_hash"], line["client_private"])
        for line in lines
        if line["logger"] == "app.access"
    ]
    fingerprints = ClientFingerprints(settings.SECRET_KEY)
    public, mapped, private, documentation, loopback, head = access
    assert public == mapped == fingerprints.of("81.2.69.160") == (public[0], False)
    assert re.fullmatch(r"[0-9a-f]{16}", public[0])
    assert private[1] and documentation[1] and loopback[1]
    assert head == loopback
    # A HEAD, served as a GET, is logged as what the client sent.
    methods = [line["method"] for line in lines if line["logger"] == "app.access"]
    assert methods == ["GET"] * 5 + ["HEAD"]
    assert len({public[0], private[0], documentation[0], loopback[0]}) == 4
    # The hash is keyed: another deployment's secret gives another one; the address never shows.
    assert ClientFingerprints("another-secret-that-is-long-enough-0123").of("81.2.69.160") != public
    assert not any(address in stream.getvalue() for address in ("81.2.69.160", "10.1.2.3"))


def test_the_operator_computes_the_hash_of_a_known_address() -> None:
    secret = "operator-secret-that-is-long-enough-01234567"
    result = subprocess.run(
        [sys.executable, "-m", "app.http.addresses", "::ffff:81.2.69.160"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": secret, "ENVIRONMENT": "development"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    client_hash, _ = ClientFingerprints(secret).of("81.2.69.160")
    assert result.stdout == f"81.2.69.160 client_hash={client_hash} client_private=False\n"


def test_a_json_line_holds_what_orjson_refuses() -> None:
    record = logging.LogRecord("app.test", logging.INFO, "", 0, "odd \ud800 text", None, None)
    record.big = 2**70
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["big"]) == ("odd \ud800 text", 2**70)
    plain = logging.LogRecord("app.test", logging.INFO, "", 0, "naïra ₦", None, None)
    assert json.loads(JsonFormatter().format(plain))["message"] == "naïra ₦"
