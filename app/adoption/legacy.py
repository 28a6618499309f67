"""Convert the earlier backend's tables (made by `create_all`, in one of three shapes) in place.

The legacy tables are moved aside into a scratch schema, the current schema is created by the
same code that creates it on an empty database (so both end identical), every row is copied
across with its id, and the scratch schema is dropped. All of it runs in the migration's one
transaction, after checks that stop it, changing nothing, on rows the new rules would refuse.
"""

import logging
from collections.abc import Callable, Iterable

from sqlalchemy import Connection, inspect, text

from app.adoption.store_links import LegacyVendor, plan_store_links

logger = logging.getLogger(__name__)
SCRATCH_SCHEMA = "quickvendor_legacy_adoption"
LEGACY_TABLES = ("users", "products")
# Ids listed per problem in the error message; the rest are counted.
MAX_LISTED_IDS = 50
# NUMERIC(12,2) holds up to 9,999,999,999.99.
MAX_PRICE = "9999999999.99"


class LegacyDataError(Exception):
    """The earlier backend's data breaks a rule that has no safe repair; nothing was changed."""


def has_legacy_tables(connection: Connection) -> bool:
    inspector = inspect(connection)
    return any(inspector.has_table(table) for table in LEGACY_TABLES)


def _listed(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_LISTED_IDS])
    more = len(ids) - MAX_LISTED_IDS
    return f"{shown} and {more} more" if more > 0 else shown


def _problems(connection: Connection) -> list[str]:
    problems = []
    collisions = connection.execute(
        text(
            "SELECT array_agg(id ORDER BY created_at NULLS LAST, id) FROM users "
            "GROUP BY lower(btrim(email)) HAVING count(*) > 1 ORDER BY min(id)"
        )
    ).scalars()
    groups = ["(" + ", ".join(group) + ")" for group in collisions]
    if groups:
        problems.append(
            "users whose emails differ only by case (merge or rename them, then retry): "
            + _listed(groups)
        )
    bad_prices = connection.execute(
        text(
            # CASE keeps NaN and infinities (which PostgreSQL sorts above every number) away
            # from the cast to NUMERIC.
            "SELECT id FROM products WHERE CASE "
            "WHEN price IS NULL OR price = 'NaN' OR price >= 1e10 OR price <= 0 THEN true "
            f"ELSE round(price::numeric, 2) NOT BETWEEN 0.01 AND {MAX_PRICE} END ORDER BY id"
        )
    ).scalars()
    ids = list(bad_prices)
    if ids:
        problems.append(
            "products whose price is missing, not positive or above "
            f"{MAX_PRICE} once rounded to cents: {_listed(ids)}"
        )
    orphans = list(
        connection.execute(
            text(
                "SELECT p.id FROM products p LEFT JOIN users u ON u.id = p.user_id "
                "WHERE u.id IS NULL ORDER BY p.id"
            )
        ).scalars()
    )
    if orphans:
        problems.append(f"products whose vendor does not exist: {_listed(orphans)}")
    return problems


def _check_shape(connection: Connection) -> set[str]:
    """The legacy users columns; refuses a database that is not the earlier backend's."""
    if connection.dialect.name != "postgresql":
        raise LegacyDataError(
            "found tables from the earlier backend, which can only be adopted on PostgreSQL"
        )
    inspector = inspect(connection)
    missing = [table for table in LEGACY_TABLES if not inspector.has_table(table)]
    if missing:
        raise LegacyDataError(
            "found some of the earlier backend's tables but not " + ", ".join(missing)
        )
    return {column["name"] for column in inspector.get_columns("users")}


def _optional(columns: set[str], name: str) -> str:
    return name if name in columns else "NULL"


def _vendors(connection: Connection, columns: set[str]) -> list[LegacyVendor]:
    rows = connection.execute(
        text(
            f"SELECT id, btrim(email), {_optional(columns, 'store_slug')}, "
            f"{_optional(columns, 'store_url')} FROM users ORDER BY created_at NULLS LAST, id"
        )
    )
    return [
        LegacyVendor(id=row[0], email=row[1], store_slug=row[2], store_url=row[3]) for row in rows
    ]


def _copy_rows(connection: Connection, columns: set[str]) -> None:
    legacy = SCRATCH_SCHEMA
    connection.execute(
        text(
            "INSERT INTO users (id, email, hashed_password, whatsapp_number, store_name, "
            "store_slug, banner_url, created_at, updated_at) "
            "SELECT id, lower(btrim(email)), hashed_password, whatsapp_number, "
            f"{_optional(columns, 'store_name')}, id, {_optional(columns, 'banner_url')}, "
            f"COALESCE(created_at, updated_at, now()), updated_at FROM {legacy}.users"
        )
    )
    connection.execute(
        text(
            "INSERT INTO products (id, name, description, price, image_url_1, image_url_2, "
            "image_url_3, image_url_4, image_url_5, is_available, click_count, user_id, "
            "created_at, updated_at) "
            "SELECT id, name, description, round(price::numeric, 2), image_url_1, image_url_2, "
            "image_url_3, image_url_4, image_url_5, COALESCE(is_available, true), "
            "GREATEST(COALESCE(click_count, 0), 0), user_id, "
            f"COALESCE(created_at, updated_at, now()), updated_at FROM {legacy}.products"
        )
    )


def _log_dropped_columns(connection: Connection) -> None:
    """Name the legacy columns the new schema has no place for (store_url: links are slugs)."""
    inspector = inspect(connection)
    for table in LEGACY_TABLES:
        new = {column["name"] for column in inspector.get_columns(table)}
        old = {column["name"] for column in inspector.get_columns(table, schema=SCRATCH_SCHEMA)}
        if old - new:
            logger.info("not carried over from %s: %s", table, ", ".join(sorted(old - new)))


def _executemany(connection: Connection, statement: str, rows: Iterable[dict[str, str]]) -> None:
    params = list(rows)
    if params:
        connection.execute(text(statement), params)


def adopt_legacy_database(connection: Connection, create_schema: Callable[[], None]) -> None:
    """Check, then convert the earlier backend's tables into the schema `create_schema` makes."""
    columns = _check_shape(connection)
    # The earlier backend may still be running: nothing may change the rows while we copy them.
    connection.execute(text("LOCK TABLE users, products IN ACCESS EXCLUSIVE MODE"))
    problems = _problems(connection)
    if problems:
        raise LegacyDataError(
            "cannot adopt the earlier backend's database, nothing was changed: "
            + "; ".join(problems)
        )
    vendors = _vendors(connection, columns)
    links = plan_store_links(vendors)
    logger.info(
        "adopting the earlier backend's database (%s the store columns): %d vendors, "
        "%d old store links kept as aliases",
        "with" if "store_slug" in columns else "without",
        len(vendors),
        len(links.aliases),
    )
    connection.execute(text(f"CREATE SCHEMA {SCRATCH_SCHEMA}"))
    for table in LEGACY_TABLES:
        # Indexes and constraints move with their table, so the new ones can take their names.
        connection.execute(text(f"ALTER TABLE {table} SET SCHEMA {SCRATCH_SCHEMA}"))
    create_schema()
    _log_dropped_columns(connection)
    _copy_rows(connection, columns)
    _executemany(
        connection,
        "UPDATE users SET store_slug = :slug WHERE id = :id",
        ({"id": user_id, "slug": slug} for user_id, slug in links.slugs.items()),
    )
    _executemany(
        connection,
        "INSERT INTO store_aliases (alias, user_id) VALUES (:alias, :user_id)",
        ({"alias": alias, "user_id": user_id} for alias, user_id in links.aliases.items()),
    )
    connection.execute(text(f"DROP SCHEMA {SCRATCH_SCHEMA} CASCADE"))
