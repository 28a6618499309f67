"""Registration, profile, store settings, password change and account deletion."""

import asyncio
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings
from tests.conftest import PASSWORD, bearer, create_product, login, register, vendor


async def test_register_normalises_email_and_whatsapp(client: httpx.AsyncClient) -> None:
    body = await register(client, "Ada.Fabrics@Example.COM", whatsapp_number="+234 801-234-5678")
    assert body["id"].startswith("user_") and len(body["id"]) == len("user_") + 32
    assert body["email"] == "ada.fabrics@example.com"
    assert body["whatsapp_number"] == "2348012345678"
    assert body["store_slug"] == "ada-fabrics"
    assert body["store_url"] == "http://localhost:3000/store/ada-fabrics"
    assert "hashed_password" not in body and "password" not in body


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("0801 234 5678", "2348012345678"),
        ("+44 20 7946 0958", "442079460958"),
        ("(0803) 555-0100", "2348035550100"),
        ("002348012345678", "2348012345678"),
    ],
)
async def test_whatsapp_numbers_become_wa_me_digits(
    client: httpx.AsyncClient, raw: str, stored: str
) -> None:
    assert (await register(client, whatsapp_number=raw))["whatsapp_number"] == stored


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email", "password": PASSWORD, "whatsapp_number": "08012345678"},
        {"email": "a@example.com", "password": "short", "whatsapp_number": "08012345678"},
        {"email": "a@example.com", "password": "x" * 129, "whatsapp_number": "08012345678"},
        {"email": "a@example.com", "password": PASSWORD, "whatsapp_number": "12345"},
        {"email": "a@example.com", "password": PASSWORD, "whatsapp_number": "+1" + "2" * 20},
        {"email": "a@example.com", "password": PASSWORD, "whatsapp_number": "call me"},
        {"email": "a@example.com", "password": PASSWORD},
    ],
)
async def test_invalid_registrations_are_422_and_store_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, payload: dict[str, str]
) -> None:
    response = await client.post("/api/users/register", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["errors"] and {"loc", "msg", "type"} <= set(body["errors"][0])
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM users"))).scalar_one() == 0


async def test_duplicate_email_is_409_case_insensitively(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    response = await client.post(
        "/api/users/register",
        json={"email": "ADA@Example.com", "password": PASSWORD, "whatsapp_number": "08012345678"},
    )
    assert response.status_code == 409
    assert response.json()["detail"] == "Email already registered"


async def test_concurrent_duplicate_registrations(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    payload = {"email": "race@example.com", "password": PASSWORD, "whatsapp_number": "08012345678"}
    responses = await asyncio.gather(
        *(client.post("/api/users/register", json=payload) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM users"))).scalar_one() == 1


async def test_concurrent_colliding_slugs_all_get_distinct_slugs(
    client: httpx.AsyncClient,
) -> None:
    emails = [f"shop{sep}one@example.com" for sep in (".", "_", "-", "+")]
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/users/register",
                json={"email": e, "password": PASSWORD, "whatsapp_number": "08012345678"},
            )
            for e in emails
        )
    )
    assert [r.status_code for r in responses] == [201] * 4
    slugs = {r.json()["store_slug"] for r in responses}
    assert slugs == {"shop-one", "shop-one-2", "shop-one-3", "shop-one-4"}


async def test_slug_rules(client: httpx.AsyncClient) -> None:
    first = await register(client, "Ada.Fabrics_NG@example.com")
    second = await register(client, "ada_fabrics.ng@example.org")
    assert first["store_slug"] == "ada-fabrics-ng"
    assert second["store_slug"] == "ada-fabrics-ng-2"
    assert (await register(client, "admin@example.com"))["store_slug"] == "admin-2"
    generated = (await register(client, "x@example.com"))["store_slug"]
    assert generated.startswith("store-") and len(generated) > len("store-")
    long_slug = (await register(client, f"{'a' * 60}@example.com"))["store_slug"]
    assert long_slug == "a" * 50
    # The first vendor keeps the bare slug, so their old link still finds them.
    store = await client.get("/api/store/Ada.Fabrics_NG")
    assert store.json()["store_slug"] == "ada-fabrics-ng"


async def test_me_requires_auth(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/users/me")
    assert response.status_code == 401
    assert response.json()["detail"] == "Not authenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_me_returns_the_profile(client: httpx.AsyncClient) -> None:
    headers = await vendor(client, "ada@example.com")
    body = (await client.get("/api/users/me", headers=headers)).json()
    assert set(body) >= {
        "id",
        "email",
        "whatsapp_number",
        "store_url",
        "store_name",
        "store_slug",
        "banner_url",
    }
    assert body["store_url"].endswith("/store/ada")


async def test_store_settings(client: httpx.AsyncClient) -> None:
    headers = await vendor(client, "ada@example.com")
    response = await client.put(
        "/api/users/me/store",
        json={"store_name": "  Ada's Fabrics  ", "store_slug": "ada-fabrics"},
        headers=headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["store_name"] == "Ada's Fabrics"
    assert body["store_slug"] == "ada-fabrics"
    assert body["store_url"] == "http://localhost:3000/store/ada-fabrics"
    store = (await client.get("/api/store/ada-fabrics")).json()
    assert store["vendor_name"] == "Ada's Fabrics"
    # Only the sent field changes; an explicit null clears the name.
    cleared = await client.put("/api/users/me/store", json={"store_name": None}, headers=headers)
    assert cleared.json()["store_name"] is None
    assert cleared.json()["store_slug"] == "ada-fabrics"


async def test_taken_slug_is_409(client: httpx.AsyncClient) -> None:
    await register(client, "bola@example.com")
    headers = await vendor(client, "ada@example.com")
    response = await client.put("/api/users/me/store", json={"store_slug": "bola"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["detail"] == "Store link already taken"
    assert (await client.get("/api/users/me", headers=headers)).json()["store_slug"] == "ada"


@pytest.mark.parametrize(
    "payload",
    [
        {"store_slug": "ab"},
        {"store_slug": "a" * 51},
        {"store_slug": "Has Caps"},
        {"store_slug": "-dash"},
        {"store_slug": "admin"},
        {"store_slug": "api"},
        {"store_slug": "ünï"},
        {"store_name": "ab"},
        {"store_name": "x" * 101},
    ],
)
async def test_invalid_store_settings_are_422(
    client: httpx.AsyncClient, payload: dict[str, str]
) -> None:
    headers = await vendor(client, "ada@example.com")
    response = await client.put("/api/users/me/store", json=payload, headers=headers)
    assert response.status_code == 422, response.text
    assert (await client.get("/api/users/me", headers=headers)).json()["store_slug"] == "ada"


async def test_patch_whatsapp(client: httpx.AsyncClient) -> None:
    headers = await vendor(client, "ada@example.com")
    response = await client.patch(
        "/api/users/me", json={"whatsapp_number": "0905 111 2222"}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["whatsapp_number"] == "2349051112222"
    bad = await client.patch("/api/users/me", json={"whatsapp_number": "123"}, headers=headers)
    assert bad.status_code == 422


async def test_password_change_revokes_other_sessions(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    current = await login(client, "ada@example.com")
    other = await login(client, "ada@example.com")
    client.cookies.clear()
    wrong = await client.post(
        "/api/users/me/password",
        json={"current_password": "nope-nope-nope", "new_password": "brand-new-pass"},
        headers=bearer(current),
    )
    assert wrong.status_code == 400
    assert (await client.get("/api/users/me", headers=bearer(other))).status_code == 200
    response = await client.post(
        "/api/users/me/password",
        json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
        headers=bearer(current),
    )
    assert response.status_code == 204
    assert (await client.get("/api/users/me", headers=bearer(current))).status_code == 200
    assert (await client.get("/api/users/me", headers=bearer(other))).status_code == 401
    old = await client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert old.status_code == 401
    assert await login(client, "ada@example.com", "brand-new-pass")


async def test_new_password_rules(client: httpx.AsyncClient) -> None:
    headers = await vendor(client, "ada@example.com")
    response = await client.post(
        "/api/users/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=headers,
    )
    assert response.status_code == 422


async def test_delete_account_removes_products_and_sessions(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    headers = await vendor(client, "ada@example.com")
    other = await vendor(client, "bola@example.com")
    await create_product(client, headers)
    kept = await create_product(client, other)
    wrong = await client.request(
        "DELETE", "/api/users/me", json={"password": "wrong-password"}, headers=headers
    )
    assert wrong.status_code == 400
    response = await client.request(
        "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=headers
    )
    assert response.status_code == 204
    assert (await client.get("/api/users/me", headers=headers)).status_code == 401
    assert (await client.get("/api/store/ada")).status_code == 404
    async with engine.connect() as conn:
        products = (await conn.execute(text("SELECT id FROM products"))).scalars().all()
        sessions = (await conn.execute(text("SELECT user_id FROM sessions"))).scalars().all()
    assert products == [kept["id"]]
    assert all(user_id != "ada" for user_id in sessions) and len(sessions) == 1
    # The email is free again.
    assert (await register(client, "ada@example.com"))["email"] == "ada@example.com"


async def test_local_numbers_take_the_apps_own_country_code(
    settings: Settings, make_client: Callable[[FastAPI], httpx.AsyncClient]
) -> None:
    """DEFAULT_COUNTRY_CODE given to create_app reaches the validation (not the environment's)."""
    ghana = create_app(settings.model_copy(update={"DEFAULT_COUNTRY_CODE": "233"}))
    client = make_client(ghana)
    profile = await register(client, "kofi@example.com", whatsapp_number="024 123 4567")
    assert profile["whatsapp_number"] == "233241234567"
    headers = bearer(await login(client, "kofi@example.com"))
    changed = await client.patch(
        "/api/users/me", json={"whatsapp_number": "020 765 4321"}, headers=headers
    )
    assert changed.json()["whatsapp_number"] == "233207654321"
    await ghana.state.engine.dispose()
