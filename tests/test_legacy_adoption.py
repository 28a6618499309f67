"""`alembic upgrade head` adopts the earlier backend's database in each of its three shapes:
every row kept, old bcrypt logins and old storefront links still working, bad rows refused."""

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import bcrypt
import httpx
import pytest
from alembic.script import ScriptDirectory

from app.adoption.legacy import SCRATCH_SCHEMA, LegacyDataError
from app.main import create_app
from tests.conftest import alembic_config, client_for, make_settings, postgres_only
from tests.legacy_schema import SHAPE_1, SHAPES
from tests.migration_helpers import autogenerate_diff, fetch, pg_dump, run_sql, upgrade

pytestmark = postgres_only

NewDatabase = Callable[[], Awaitable[str]]
OLD_PASSWORD = "old-backend-pass-1"


def legacy_bcrypt_hash(password: str) -> str:
    """A `$2b$` bcrypt hash as the earlier backend stored it, cheap rounds for speed."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=b"2b")).decode()


def user_row(uid: str, email: str, phone: str, created: str | None) -> str:
    created_sql = f"'{created}'" if created else "NULL"
    return (
        f"INSERT INTO users (id, email, hashed_password, whatsapp_number, created_at) VALUES "
        f"('{uid}', '{email}', '{legacy_bcrypt_hash(OLD_PASSWORD)}', '{phone}', {created_sql});\n"
    )


def product_row(pid: str, uid: str, price: str, available: str, clicks: int = 0) -> str:
    return (
        "INSERT INTO products (id, name, description, price, image_url_1, is_available, "
        f"click_count, user_id) VALUES ('{pid}', 'Item {pid}', 'Made by hand', {price}, "
        f"'https://cdn.example/{pid}.jpg', {available}, {clicks}, '{uid}');\n"
    )


# Vendors by registration order; their WhatsApp numbers tell them apart in the storefront.
ADA_DOT = ("user_" + "a" * 32, "Ada.B@Example.com", "+2348010000001", "2024-01-01T10:00:00Z")
ADA_UNDERSCORE = ("user_" + "b" * 32, "ada_b@other.example", "+2348010000002", "2024-02-01")
FABRICS = ("user_" + "c" * 32, "Ada.Fabrics_NG@example.com", "+2348010000003", "2024-03-01")
SHORT = ("user_" + "d" * 32, "jo@example.com", "+2348010000004", None)
WITH_SLUG = ("user_" + "e" * 32, "mama@example.com", "+2348010000005", "2024-04-01")
ODD_SLUG = ("user_" + "f" * 32, "kemi@example.com", "+2348010000006", "2024-05-01")
BASE_VENDORS = (ADA_DOT, ADA_UNDERSCORE, FABRICS, SHORT)

PRICES = {
    "product_" + "1" * 32: ("19.999", Decimal("20.00")),
    "product_" + "2" * 32: ("0.1 + 0.2", Decimal("0.30")),
    "product_" + "3" * 32: ("1500.5", Decimal("1500.50")),
    "product_" + "4" * 32: ("2500", Decimal("2500.00")),
    "product_" + "5" * 32: ("9999999999.99", Decimal("9999999999.99")),
}
P1, P2, P3, P4, P5 = PRICES


def legacy_data(shape: str) -> str:
    sql = "".join(user_row(*vendor) for vendor in BASE_VENDORS)
    sql += (
        "UPDATE users SET store_url = 'https://quickvendor.example/store/Ada.B' "
        f"WHERE id = '{ADA_DOT[0]}';\n"
        "UPDATE users SET store_url = 'https://quickvendor.example/store/fabrics-ng/' "
        f"WHERE id = '{FABRICS[0]}';\n"
        # Stray spaces around an email: the vendor still logs in with the address alone.
        f"UPDATE users SET email = ' ' || email || ' ' WHERE id = '{SHORT[0]}';\n"
    )
    sql += product_row(P1, ADA_DOT[0], "19.999", "NULL", clicks=7)
    sql += product_row(P2, ADA_DOT[0], "0.1 + 0.2", "true")
    sql += product_row(P3, ADA_DOT[0], "1500.5", "false")
    sql += product_row(P4, ADA_UNDERSCORE[0], "2500", "true")
    sql += product_row(P5, FABRICS[0], "9999999999.99", "true")
    if shape != "shape1":
        sql += user_row(*WITH_SLUG) + user_row(*ODD_SLUG)
        sql += (
            "UPDATE users SET store_slug = 'mama-put', store_name = 'Mama Put', "
            f"banner_url = 'https://cdn.example/banner.jpg' WHERE id = '{WITH_SLUG[0]}';\n"
            f"UPDATE users SET store_slug = 'Kemi_Styles' WHERE id = '{ODD_SLUG[0]}';\n"
        )
    return sql


async def legacy_database(new_database: NewDatabase, shape: str) -> str:
    url = await new_database()
    await run_sql(url, SHAPES[shape] + legacy_data(shape))
    return url


async def storefront(http: httpx.AsyncClient, link: str) -> dict[str, Any]:
    response = await http.get(f"/api/store/{link}")
    assert response.status_code == 200, (link, response.text)
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_upgrade_adopts_every_row_and_keeps_old_logins_and_links(
    scratch_databases: NewDatabase, shape: str
) -> None:
    url = await legacy_database(scratch_databases, shape)
    users_before = await fetch(
        url, "SELECT id, lower(btrim(email)) AS email FROM users ORDER BY id"
    )

    await upgrade(url)

    assert await fetch(url, "SELECT id, email FROM users ORDER BY id") == users_before
    # Nobody proved they read an adopted address: every adopted vendor starts unverified.
    assert await fetch(url, "SELECT DISTINCT email_verified FROM users") == [(False,)]
    products = {
        row["id"]: row
        for row in await fetch(url, "SELECT id, price, is_available, click_count FROM products")
    }
    assert {pid: row["price"] for pid, row in products.items()} == {
        pid: expected for pid, (_, expected) in PRICES.items()
    }
    assert products[P1]["is_available"] is True  # NULL flag repaired
    assert products[P1]["click_count"] == 7
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert await fetch(url, "SELECT version_num FROM alembic_version") == [(head,)]
    assert not await fetch(url, "SELECT 1 FROM pg_namespace WHERE nspname = $1", SCRATCH_SCHEMA)

    app = create_app(make_settings(url))
    try:
        async with client_for(app) as http:
            # The old bcrypt hash logs in (whatever the email's case) and is upgraded to Argon2.
            response = await http.post(
                "/api/auth/login", json={"email": ADA_DOT[1], "password": OLD_PASSWORD}
            )
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            [(stored,)] = await fetch(
                url, "SELECT hashed_password FROM users WHERE id = $1", ADA_DOT[0]
            )
            assert stored.startswith("$argon2id$")
            again = await http.post(
                "/api/auth/login", json={"email": "ada.b@example.com", "password": OLD_PASSWORD}
            )
            assert again.status_code == 200
            spaced = await http.post(
                "/api/auth/login", json={"email": SHORT[1], "password": OLD_PASSWORD}
            )
            assert spaced.status_code == 200, spaced.text
            wrong = await http.post(
                "/api/auth/login", json={"email": ADA_DOT[1], "password": "not-the-password"}
            )
            assert wrong.status_code == 401
            me = await http.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200
            assert (me.json()["email_verified"], me.json()["pending_email"]) == (False, None)
            own_slug = me.json()["store_slug"]

            # Every link the earlier backend served still reaches the same vendor.
            links = {
                "Ada.B": ADA_DOT,
                "ada.b": ADA_DOT,
                own_slug: ADA_DOT,
                "ada_b": ADA_UNDERSCORE,
                "Ada.Fabrics_NG": FABRICS,
                "ada.fabrics_ng": FABRICS,
                "jo": SHORT,
                "fabrics-ng": FABRICS,
            }
            if shape != "shape1":
                links |= {"mama-put": WITH_SLUG, "Kemi_Styles": ODD_SLUG}
            for link, vendor in links.items():
                assert (await storefront(http, link))["whatsapp_number"] == vendor[2], link

            # Each vendor's own (new) slug reaches them too, and shows only available products.
            for (slug,) in await fetch(url, "SELECT store_slug FROM users"):
                page = await storefront(http, slug)
                assert page["store_slug"] == slug
            ada = await storefront(http, "Ada.B")
            assert {p["id"]: p["price"] for p in ada["products"]} == {P1: 20.0, P2: 0.3}
            if shape != "shape1":
                mama = await storefront(http, "mama-put")
                assert mama["vendor_name"] == "Mama Put"
                assert mama["banner_url"] == "https://cdn.example/banner.jpg"
            assert (await http.get("/api/store/nobody-here")).status_code == 404

            # A kept old link stays its vendor's: newcomers cannot take it as their slug.
            newcomer = await http.post(
                "/api/users/register",
                json={
                    "email": "fabrics-ng@new.example",
                    "password": "newcomer-pass-1",
                    "whatsapp_number": "+2348010000099",
                },
            )
            assert newcomer.status_code == 201, newcomer.text
            assert newcomer.json()["store_slug"] == "fabrics-ng-2"
            http.cookies.clear()
            taken = await http.put(
                "/api/users/me/store",
                json={"store_slug": "fabrics-ng"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert taken.status_code == 409, taken.text
            assert (await storefront(http, "fabrics-ng"))["whatsapp_number"] == FABRICS[2]
    finally:
        await app.state.engine.dispose()


async def test_adopted_and_fresh_databases_have_the_same_schema(
    scratch_databases: NewDatabase,
) -> None:
    fresh = await scratch_databases()
    await upgrade(fresh)
    expected = await pg_dump(fresh, "--schema-only")
    assert await autogenerate_diff(fresh) == []
    for shape in sorted(SHAPES):
        adopted = await legacy_database(scratch_databases, shape)
        await upgrade(adopted)
        assert await pg_dump(adopted, "--schema-only") == expected, shape
        assert await autogenerate_diff(adopted) == [], shape


async def assert_refused(url: str, *expected_in_message: str) -> None:
    before = await pg_dump(url)
    with pytest.raises(LegacyDataError) as refused:
        await upgrade(url)
    message = str(refused.value)
    assert "nothing was changed" in message
    for text in expected_in_message:
        assert text in message
    assert await pg_dump(url) == before


async def test_emails_differing_only_by_case_stop_the_upgrade(
    scratch_databases: NewDatabase,
) -> None:
    url = await legacy_database(scratch_databases, "shape3")
    twin = ("user_" + "9" * 32, "ADA.b@example.COM", "+2348010000009", "2025-01-01")
    await run_sql(url, user_row(*twin))
    await assert_refused(url, "differ only by case", f"({ADA_DOT[0]}, {twin[0]})")


async def test_prices_that_cannot_be_stored_stop_the_upgrade(
    scratch_databases: NewDatabase,
) -> None:
    url = await legacy_database(scratch_databases, "shape2")
    bad = {
        "product_zero": "0",
        "product_negative": "-5",
        "product_rounds_to_zero": "0.004",
        "product_nan": "'NaN'",
        "product_infinite": "'Infinity'",
        "product_too_large": "1e12",
    }
    await run_sql(
        url, "".join(product_row(pid, ADA_DOT[0], price, "true") for pid, price in bad.items())
    )
    await assert_refused(url, "price", *bad)
    [(listed,)] = await fetch(url, "SELECT count(*) FROM products")
    assert listed == len(PRICES) + len(bad)


async def test_orphaned_products_stop_the_upgrade(scratch_databases: NewDatabase) -> None:
    url = await scratch_databases()
    # A database whose foreign key had been dropped by hand can hold products of no vendor.
    await run_sql(
        url,
        SHAPE_1
        + legacy_data("shape1")
        + "ALTER TABLE products DROP CONSTRAINT products_user_id_fkey;\n"
        + product_row("product_orphan", "user_gone", "10", "true"),
    )
    await assert_refused(url, "vendor does not exist", "product_orphan")
