"""Faults: a private PostgreSQL cluster is really stopped and started under a running server,
and the DSN really points at a dead address. Database routes answer 503 in the usual error shape
within a bounded time, liveness stays 200, the service recovers by itself, and a request that
fails half way leaves nothing behind. Time bounds are generous: they catch hangs, not slowness.
"""

import asyncio
import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.main import create_app
from app.models.base import utcnow
from app.security.tokens import create_access_token
from app.services.account_tokens import hash_token
from tests.conftest import (
    PASSWORD,
    bearer,
    client_for,
    make_settings,
    postgres_only,
)
from tests.pg_cluster import PrivateCluster, execute, migrated_cluster
from tests.servers import free_port, running_api, server_env

pytestmark = postgres_only

HANG_BOUND = 20.0
# Crashes of the database while clients keep writing.
CRASHES = 3
NEW_VENDOR = {"email": "new@example.com", "password": PASSWORD, "whatsapp_number": "08011111111"}
FEEDBACK = {"message": "The share button does nothing", "url": "https://qv.test/", "timestamp": "x"}
SERVER_SETTINGS = {
    "RATE_LIMIT_ENABLED": "true",  # counters in the database: they must fail open too
    "LOGIN_IP_LIMIT": "1000",
    "REGISTER_IP_LIMIT": "1000",
    # Every route below is called again and again from one address for one account.
    "PASSWORD_CHECK_RATE_LIMIT_ACCOUNT": "1000",
    "PASSWORD_CHECK_RATE_LIMIT_CLIENT": "1000",
    "PASSWORD_RESET_RATE_LIMIT_PER_EMAIL": "1000",
    "PASSWORD_RESET_RATE_LIMIT_PER_CLIENT": "1000",
    "ACCOUNT_TOKEN_RATE_LIMIT_PER_CLIENT": "1000",
    "EMAIL_VERIFICATION_RATE_LIMIT_PER_ACCOUNT": "1000",
    "FEEDBACK_RATE_LIMIT": "1000",
    "PASSWORD_RESET_RESPONSE_SECONDS": "0.05",
    # Feedback is queued for Slack only when a webhook is set; nobody listens on this port.
    "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook",
    "DB_POOL_TIMEOUT": "2",
    "DB_STATEMENT_TIMEOUT_MS": "1500",
    "HEALTH_DB_TIMEOUT": "2",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    with migrated_cluster() as pg:
        yield pg


@pytest.fixture(scope="module")
def api_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults") / "server.log"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def api(cluster: PrivateCluster, api_log: Path, media: Path, outbox: Path) -> Iterator[str]:
    env = server_env(
        cluster.url("qv"), MEDIA_ROOT=str(media), EMAIL_OUTBOX_DIR=str(outbox), **SERVER_SETTINGS
    )
    with running_api(env, api_log, workers=2) as base_url:
        yield base_url


def login(base_url: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/auth/login",
        json={"email": "ada@example.com", "password": password},
        timeout=HANG_BOUND,
    )


@pytest.fixture(scope="module")
def seeded(api: str) -> dict[str, Any]:
    registered = httpx.post(
        f"{api}/api/users/register",
        json={"email": "ada@example.com", "password": PASSWORD, "whatsapp_number": "0801234567"},
    )
    assert registered.status_code == 201, registered.text
    headers = {"Authorization": f"Bearer {login(api).json()['access_token']}"}
    product = httpx.post(
        f"{api}/api/products", json={"name": "Dress", "price": "1500"}, headers=headers
    )
    assert product.status_code == 201, product.text
    return {"headers": headers, "product_id": product.json()["id"], "slug": "ada"}


def database_routes(seeded: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    auth = {"headers": seeded["headers"]}
    product = seeded["product_id"]
    return [
        ("POST", "/api/auth/login", {"json": {"email": "ada@example.com", "password": PASSWORD}}),
        ("POST", "/api/users/register", {"json": NEW_VENDOR}),
        ("GET", "/api/users/me", auth),
        ("GET", "/api/products", auth),
        ("POST", "/api/products", {"json": {"name": "Hat", "price": "10"}, **auth}),
        ("PUT", f"/api/products/{product}", {"json": {"price": "20"}, **auth}),
        ("POST", f"/api/products/{product}/track-click", {}),
        ("GET", f"/api/store/{seeded['slug']}", {}),
        ("GET", "/api/auth/check-session", auth),
        ("POST", "/api/feedback/report", {"json": FEEDBACK}),
        ("POST", "/api/auth/password-reset", {"json": {"email": "ada@example.com"}}),
        ("POST", "/api/auth/password-reset/confirm",
         {"json": {"token": "A" * 43, "new_password": "another-horse-77"}}),
        ("POST", "/api/auth/verify-email", {"json": {"token": "A" * 43}}),
        ("POST", "/api/auth/verify-email/resend", auth),
        ("PUT", "/api/users/me/email",
         {"json": {"new_email": "ada.new@example.com", "password": PASSWORD}, **auth}),
        ("POST", "/api/auth/confirm-email", {"json": {"token": "A" * 43}}),
    ]  # fmt: skip


def call(base_url: str, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
    started = time.perf_counter()
    response = httpx.request(method, f"{base_url}{path}", timeout=HANG_BOUND + 10, **kwargs)
    assert time.perf_counter() - started < HANG_BOUND, f"{method} {path} hung"
    return response


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["detail"] and body["request_id"] == response.headers["X-Request-ID"]
    assert int(response.headers["Retry-After"]) > 0


def assert_unavailable_page(response: httpx.Response) -> None:
    """The 503 of an HTML route: a page, not JSON, with the same Retry-After."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["X-Request-ID"] in response.text
    assert int(response.headers["Retry-After"]) > 0


def wait_for_health(base_url: str, status: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if httpx.get(f"{base_url}/api/health", timeout=HANG_BOUND).status_code == status:
            return
        time.sleep(0.5)
    raise AssertionError(f"health never answered {status}")


def test_outage_answers_503_then_recovers_without_restart(
    cluster: PrivateCluster, api: str, seeded: dict[str, Any], api_log: Path
) -> None:
    routes = database_routes(seeded)
    assert call(api, "GET", "/api/health", {}).status_code == 200
    cluster.stop("immediate")
    try:
        for _ in range(2):  # two workers, each with its own (now dead) pool
            for method, path, kwargs in routes:
                assert_unavailable(call(api, method, path, kwargs))
            health = call(api, "GET", "/api/health", {})
            assert health.status_code == 503
            assert health.json()["database"] == "unavailable"
            assert call(api, "GET", "/api/health/live", {}).json() == {"status": "ok"}
    finally:
        cluster.start()
    wait_for_health(api, 200)
    for _ in range(2):
        for method, path, kwargs in routes:
            response = call(api, method, path, kwargs)
            assert response.status_code < 500, (path, response.text)
    # The outage was logged, without the emails, passwords or tokens of the failed requests.
    log = api_log.read_text(errors="replace")
    assert "database unavailable" in log
    secrets = ("ada@example.com", "new@example.com", PASSWORD, seeded["headers"]["Authorization"])
    assert not [secret for secret in secrets if secret in log]


def test_password_change_failing_half_way_leaves_nothing(
    cluster: PrivateCluster, api: str, seeded: dict[str, Any]
) -> None:
    # Two live sessions. The change revokes the other one, then writes the new hash; the write
    # of the hash is made to outlive the statement timeout, so the request fails after the
    # revocation already ran inside its transaction.
    first = {"Authorization": f"Bearer {login(api).json()['access_token']}"}
    second = {"Authorization": f"Bearer {login(api).json()['access_token']}"}
    new_password = "another-horse-77"
    change = {"current_password": PASSWORD, "new_password": new_password}
    asyncio.run(
        execute(
            cluster.url("qv"),
            "CREATE FUNCTION qv_stall() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$",
            "CREATE TRIGGER qv_stall BEFORE UPDATE OF hashed_password ON users "
            "FOR EACH ROW EXECUTE FUNCTION qv_stall()",
        )
    )
    try:
        failed = call(api, "POST", "/api/users/me/password", {"json": change, "headers": first})
        assert_unavailable(failed)
    finally:
        asyncio.run(
            execute(cluster.url("qv"), "DROP TRIGGER qv_stall ON users", "DROP FUNCTION qv_stall")
        )
    assert call(api, "GET", "/api/users/me", {"headers": second}).status_code == 200
    assert login(api).status_code == 200
    assert login(api, new_password).status_code == 401
    done = call(api, "POST", "/api/users/me/password", {"json": change, "headers": first})
    assert done.status_code == 204, done.text
    assert call(api, "GET", "/api/users/me", {"headers": second}).status_code == 401
    assert login(api, new_password).status_code == 200


async def test_dead_database_address(database_url: str) -> None:
    """The DSN names a port nobody listens on; a validly signed token still needs the database."""
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/qv"
    settings = make_settings(dead, RATE_LIMIT_ENABLED=True, DB_POOL_TIMEOUT=2)
    token, _ = create_access_token(
        settings, user_id="user_x", session_id="session_x", issued_at=utcnow()
    )
    seeded = {"headers": bearer(token), "product_id": "product_x", "slug": "ada"}
    application = create_app(settings)
    try:
        async with client_for(application) as client:
            for method, path, kwargs in database_routes(seeded):
                started = time.perf_counter()
                assert_unavailable(await client.request(method, path, **kwargs))
                assert time.perf_counter() - started < HANG_BOUND, f"{method} {path} hung"
            assert (await client.get("/api/health")).status_code == 503
            assert (await client.get("/api/health/live")).status_code == 200
    finally:
        await application.state.engine.dispose()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


PHOTO = jpeg()
# A trigger that kills the connection writing the table: while the statement runs, or (deferred)
# at its COMMIT. pg_sleep makes the backend act on its own termination at once.
KILL_FUNCTION = (
    "CREATE OR REPLACE FUNCTION qv_kill() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); "
    "RETURN NULL; END $$"
)
KILL_AT = {
    "statement": "CREATE TRIGGER qv_kill BEFORE INSERT OR UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION qv_kill()",
    "commit": "CREATE CONSTRAINT TRIGGER qv_kill AFTER INSERT OR UPDATE OR DELETE ON {table} "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION qv_kill()",
}
Call = Callable[[httpx.Client, dict[str, Any]], httpx.Response]
STEP_ROUTES: dict[str, tuple[str, Call]] = {
    "create product": ("products", lambda c, v: c.post(
        "/api/products", json={"name": "Hat", "price": "10"}, headers=v["auth"])),
    "create with a photo": ("products", lambda c, v: c.post(
        "/api/products", data={"name": "Cap", "price": "12"},
        files={"image_1": ("a.jpg", PHOTO, "image/jpeg")}, headers=v["auth"])),
    "update product": ("products", lambda c, v: c.put(
        f"/api/products/{v['product']}", json={"price": "21"}, headers=v["auth"])),
    "upload a photo": ("products", lambda c, v: c.post(
        f"/api/products/{v['product']}/images/upload", data={"image_slot": "2"},
        files={"image": ("b.jpg", PHOTO, "image/jpeg")}, headers=v["auth"])),
    "remove a photo": ("products", lambda c, v: c.delete(
        f"/api/products/{v['product']}/images/1", headers=v["auth"])),
    "delete product": ("products", lambda c, v: c.delete(
        f"/api/products/{v['product']}", headers=v["auth"])),
    "count a click": ("products", lambda c, v: c.post(
        f"/api/products/{v['product']}/track-click")),
    "register": ("users", lambda c, v: c.post(
        "/api/users/register", json={**NEW_VENDOR, "email": "steps-new@example.com"})),
    "update profile": ("users", lambda c, v: c.patch(
        "/api/users/me", json={"whatsapp_number": "08012345678"}, headers=v["auth"])),
    "rename store": ("users", lambda c, v: c.put(
        "/api/users/me/store", json={"store_name": "Renamed"}, headers=v["auth"])),
    "upload banner": ("users", lambda c, v: c.post(
        "/api/users/me/banner", files={"banner": ("c.jpg", PHOTO, "image/jpeg")},
        headers=v["auth"])),
    "remove banner": ("users", lambda c, v: c.delete("/api/users/me/banner", headers=v["auth"])),
    "change password": ("users", lambda c, v: c.post(
        "/api/users/me/password", headers=v["auth"],
        json={"current_password": PASSWORD, "new_password": "another-horse-77"})),
    "delete account": ("users", lambda c, v: c.request(
        "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=v["auth"])),
    "log in": ("sessions", lambda c, v: c.post(
        "/api/auth/login", json={"email": v["email"], "password": PASSWORD})),
    "log out": ("sessions", lambda c, v: c.post("/api/auth/logout", headers=v["auth"])),
    "refresh": ("sessions", lambda c, v: c.post("/api/auth/refresh", headers=v["auth"])),
}  # fmt: skip


def stored_files(media: Path) -> set[Path]:
    return {path for path in media.rglob("*") if path.is_file()}


def test_a_connection_lost_at_any_step_is_a_503_and_changes_nothing(
    cluster: PrivateCluster, api: str, media: Path
) -> None:
    """Each write route, its connection killed during the statement and at the commit (so the
    rollback meets a dead connection too): a 503 with Retry-After, the keep-alive connection
    still usable, nothing written and no photo file left behind."""
    email = "steps@example.com"
    with httpx.Client(base_url=api, timeout=HANG_BOUND + 10) as client:
        registered = client.post("/api/users/register", json={**NEW_VENDOR, "email": email})
        assert registered.status_code == 201, registered.text
        token = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        product = client.post(
            "/api/products", data={"name": "Dress", "price": "15"},
            files={"image_1": ("a.jpg", jpeg(), "image/jpeg")}, headers=auth,
        )  # fmt: skip
        assert product.status_code == 201, product.text
        assert (
            client.post(
                "/api/users/me/banner",
                files={"banner": ("d.jpg", jpeg(), "image/jpeg")},
                headers=auth,
            ).status_code
            == 200
        )
        values = {"auth": auth, "product": product.json()["id"], "email": email}
        before = client.get("/api/products", headers=auth).json()
        files = stored_files(media)
        asyncio.run(execute(cluster.url("qv"), KILL_FUNCTION))
        for name, (table, request) in STEP_ROUTES.items():
            for step, trigger in KILL_AT.items():
                asyncio.run(execute(cluster.url("qv"), trigger.format(table=table)))
                try:
                    response = request(client, values)
                finally:
                    asyncio.run(execute(cluster.url("qv"), f"DROP TRIGGER qv_kill ON {table}"))
                assert response.status_code == 503, (name, step, response.text)
                assert_unavailable(response)
                # The connection the 503 went out on still serves the next request.
                assert client.get("/api/health/live").status_code == 200, (name, step)
        assert client.get("/api/products", headers=auth).json() == before
        assert client.get("/api/users/me", headers=auth).json()["store_name"] is None
        assert stored_files(media) == files
        again = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert again.status_code == 200
        new = client.post(
            "/api/auth/login", json={"email": "steps-new@example.com", **{"password": PASSWORD}}
        )
        assert new.status_code == 401


def test_writes_through_a_crash_are_kept_or_answered_503(cluster: PrivateCluster, api: str) -> None:
    """Clients keep writing while PostgreSQL is killed (-m immediate) and started again: every
    answer is the route's success or a 503 with Retry-After, never a 500 or a broken connection,
    and every write acknowledged is there afterwards."""
    email = "crash@example.com"
    with httpx.Client(base_url=api, timeout=HANG_BOUND) as client:
        client.post("/api/users/register", json={**NEW_VENDOR, "email": email})
        token = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        created = client.post("/api/products", json={"name": "Hat", "price": "1"}, headers=auth)
        product = created.json()["id"]
        slug = client.get("/api/users/me", headers=auth).json()["store_slug"]
    writers: dict[str, Callable[[httpx.Client], httpx.Response]] = {
        "create": lambda c: c.post(
            "/api/products", json={"name": "Hat", "price": "10"}, headers=auth
        ),
        "create with photo": lambda c: c.post(
            "/api/products", data={"name": "Cap", "price": "12"},
            files={"image_1": ("a.jpg", PHOTO, "image/jpeg")}, headers=auth,
        ),
        "update": lambda c: c.put(f"/api/products/{product}", json={"price": "21"}, headers=auth),
        "photo": lambda c: c.post(
            f"/api/products/{product}/images/upload", data={"image_slot": "2"},
            files={"image": ("b.jpg", PHOTO, "image/jpeg")}, headers=auth,
        ),
        "login": lambda c: c.post("/api/auth/login", json={"email": email, "password": PASSWORD}),
        "register": lambda c: c.post(
            "/api/users/register", json={**NEW_VENDOR, "email": f"{uuid.uuid4().hex}@example.com"}
        ),
        "click": lambda c: c.post(f"/api/products/{product}/track-click"),
        "profile": lambda c: c.patch(
            "/api/users/me", json={"whatsapp_number": "08012345678"}, headers=auth
        ),
        "store": lambda c: c.get(f"/api/store/{slug}"),
        "own list": lambda c: c.get("/api/products", headers=auth),
    }  # fmt: skip
    answers: list[tuple[str, httpx.Response]] = []
    broken: list[tuple[str, str]] = []
    stop = threading.Event()

    def write(kind: str) -> None:
        # One keep-alive connection per writer, as a browser or Render's proxy keeps it.
        with httpx.Client(base_url=api, timeout=HANG_BOUND + 10) as client:
            while not stop.is_set():
                try:
                    answers.append((kind, writers[kind](client)))
                except httpx.TransportError as exc:
                    broken.append((kind, repr(exc)))

    threads = [threading.Thread(target=write, args=(kind,)) for kind in writers for _ in (1, 2)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(CRASHES):
            time.sleep(1.0)
            cluster.stop("immediate")
            time.sleep(1.5)
            cluster.start()
            wait_for_health(api, 200)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not broken, broken
    failed = [(kind, r.status_code, r.text[:200]) for kind, r in answers if r.status_code >= 400]
    assert all(status == 503 for _, status, _ in failed), failed
    for _, response in answers:
        if response.status_code == 503:
            assert_unavailable(response)
    assert any(r.status_code == 503 for _, r in answers)
    created = [
        r.json()["id"] for kind, r in answers if kind.startswith("create") and r.status_code == 201
    ]
    assert created
    assert asyncio.run(_existing(cluster.url("qv"), created)) == set(created)


async def _existing(url: str, ids: list[str]) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT id FROM products WHERE id = ANY(:ids)"), {"ids": ids}
            )
            return {row.id for row in rows}
    finally:
        await engine.dispose()


async def _rows(url: str, statement: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(text(statement))]
    finally:
        await engine.dispose()


# What the account-recovery and feedback routes write; none of it may change when they fail.
# (Delivery jobs are compared by id: the server's worker sends the ones queued before.)
RECOVERY_STATE = {
    "users": "SELECT id, email, email_verified, hashed_password FROM users ORDER BY id",
    "tokens": "SELECT token_hash, purpose, used_at FROM account_tokens ORDER BY token_hash",
    "jobs": "SELECT id FROM delivery_jobs ORDER BY id",
    "feedback": "SELECT id FROM feedback ORDER BY id",
    "sessions": "SELECT id, revoked_at FROM sessions ORDER BY id",
}
LINKS = {  # a known token per link, stored (as its hash) straight into the database
    "password_reset": "reset-" + "r" * 40,
    "email_verification": "verify-" + "v" * 40,
    "email_change": "change-" + "c" * 40,
}
RECOVERY_ROUTES: dict[str, tuple[str, Call]] = {
    "send feedback": ("feedback", lambda c, v: c.post("/api/feedback/report", json=FEEDBACK)),
    "send feedback (its delivery)": ("delivery_jobs", lambda c, v: c.post(
        "/api/feedback/report", json=FEEDBACK)),
    "ask for a reset link": ("account_tokens", lambda c, v: c.post(
        "/api/auth/password-reset", json={"email": v["email"]})),
    "ask for a reset link (its email)": ("delivery_jobs", lambda c, v: c.post(
        "/api/auth/password-reset", json={"email": v["email"]})),
    "reset the password": ("account_tokens", lambda c, v: c.post(
        "/api/auth/password-reset/confirm",
        json={"token": LINKS["password_reset"], "new_password": "another-horse-77"})),
    "reset the password (the vendor)": ("users", lambda c, v: c.post(
        "/api/auth/password-reset/confirm",
        json={"token": LINKS["password_reset"], "new_password": "another-horse-77"})),
    "verify the address": ("account_tokens", lambda c, v: c.post(
        "/api/auth/verify-email", json={"token": LINKS["email_verification"]})),
    "verify the address (the vendor)": ("users", lambda c, v: c.post(
        "/api/auth/verify-email", json={"token": LINKS["email_verification"]})),
    "resend the verification": ("account_tokens", lambda c, v: c.post(
        "/api/auth/verify-email/resend", headers=v["auth"])),
    "change the email": ("account_tokens", lambda c, v: c.put(
        "/api/users/me/email", headers=v["auth"],
        json={"new_email": "steps-elsewhere@example.com", "password": PASSWORD})),
    "change the email (its emails)": ("delivery_jobs", lambda c, v: c.put(
        "/api/users/me/email", headers=v["auth"],
        json={"new_email": "steps-elsewhere@example.com", "password": PASSWORD})),
    "confirm the new email": ("account_tokens", lambda c, v: c.post(
        "/api/auth/confirm-email", json={"token": LINKS["email_change"]})),
    "confirm the new email (the vendor)": ("users", lambda c, v: c.post(
        "/api/auth/confirm-email", json={"token": LINKS["email_change"]})),
}  # fmt: skip
PAGE_ROUTES: dict[str, tuple[str, Call]] = {
    "log in (form)": ("sessions", lambda c, v: c.post(
        "/account/login", data={"email": v["email"], "password": PASSWORD})),
    "log out (form)": ("sessions", lambda c, v: c.post("/account/logout")),
    "resend the verification (form)": ("account_tokens", lambda c, v: c.post(
        "/account/verify-email/resend")),
    "ask for a reset link (form)": ("account_tokens", lambda c, v: c.post(
        "/account/forgot-password", data={"email": v["email"]})),
    "reset the password (form)": ("account_tokens", lambda c, v: c.post(
        "/account/reset-password", data={"token": LINKS["password_reset"],
        "new_password": "another-horse-77", "confirm_password": "another-horse-77"})),
    "open the verification link": ("account_tokens", lambda c, v: c.get(
        "/account/verify-email", params={"token": LINKS["email_verification"]})),
    "open the new email's link": ("account_tokens", lambda c, v: c.get(
        "/account/confirm-email", params={"token": LINKS["email_change"]})),
}  # fmt: skip


def test_a_connection_lost_in_the_recovery_and_feedback_routes_is_a_503(
    cluster: PrivateCluster, api: str
) -> None:
    """The same kills as above on the feedback, account-recovery and /account/ form routes: JSON
    routes answer the JSON 503, the HTML ones a 503 page, both with Retry-After; the account,
    its links, sessions, queued emails and reports are as they were."""
    email, url = "steps-recovery@example.com", cluster.url("qv")
    with (
        httpx.Client(base_url=api, timeout=HANG_BOUND + 10) as client,
        httpx.Client(base_url=api, timeout=HANG_BOUND + 10, headers={"Origin": api}) as browser,
    ):
        registered = client.post("/api/users/register", json={**NEW_VENDOR, "email": email})
        assert registered.status_code == 201, registered.text
        user_id = registered.json()["id"]
        token = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        signed_in = browser.post("/account/login", data={"email": email, "password": PASSWORD})
        assert signed_in.status_code == 303, signed_in.text
        emails = {"email_change": "steps-moved@example.com"}
        asyncio.run(
            execute(
                url,
                *(
                    "INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at, "  # noqa: S608 - our values
                    f"expires_at) VALUES ('{hash_token(link)}', '{user_id}', '{purpose}', "
                    f"'{emails.get(purpose, email)}', now(), now() + interval '1 hour')"
                    for purpose, link in LINKS.items()
                ),
            )
        )
        values = {"auth": auth, "email": email}
        before = {name: asyncio.run(_rows(url, sql)) for name, sql in RECOVERY_STATE.items()}
        asyncio.run(execute(url, KILL_FUNCTION))
        routes = [
            (client, assert_unavailable, RECOVERY_ROUTES),
            (browser, assert_unavailable_page, PAGE_ROUTES),
        ]
        for http, check, named in routes:
            for name, (table, request) in named.items():
                for step, trigger in KILL_AT.items():
                    asyncio.run(execute(url, trigger.format(table=table)))
                    try:
                        response = request(http, values)
                    finally:
                        asyncio.run(execute(url, f"DROP TRIGGER qv_kill ON {table}"))
                    assert response.status_code == 503, (name, step, response.text)
                    check(response)
                    assert http.get("/api/health/live").status_code == 200, (name, step)
        after = {name: asyncio.run(_rows(url, sql)) for name, sql in RECOVERY_STATE.items()}
        assert after["jobs"] == [job for job in before["jobs"] if job in after["jobs"]]
        before["jobs"] = after["jobs"]  # sent by the worker meanwhile, never added
        assert after == before
        # Nothing was spent: every link still works.
        verified = client.post(
            "/api/auth/verify-email", json={"token": LINKS["email_verification"]}
        )
        assert verified.status_code == 200, verified.text
        assert browser.get("/account/").status_code == 200  # the form's session is alive
