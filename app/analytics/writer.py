"""The flush's write: each table's additions in one multi-row additive upsert
(INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n), so every worker's and instance's
counts add up and none overwrites another's. Rows go in key order, so two workers upserting the
same rows cannot deadlock."""

from decimal import Decimal
from typing import Any

from sqlalchemy import FromClause, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.analytics.tally import (
    ORDERS,
    P_ORDERS,
    P_TAPS,
    P_VIEWS,
    PRODUCT_VIEWS,
    S_VIEWS,
    S_VISITORS,
    TAPS,
    VIEWS,
    VISITORS,
    Counts,
)
from app.analytics.visitors import CHUNK, insert_for
from app.models import AnalyticsDay, AnalyticsProductDay, AnalyticsSourceDay, User


async def _upsert(
    connection: AsyncConnection,
    table: FromClause,
    rows: list[dict[str, Any]],
    keys: tuple[str, ...],
) -> None:
    if not rows:
        return
    insert = insert_for(connection)
    added = [name for name in rows[0] if name not in keys]
    rows.sort(key=lambda row: tuple(str(row[name]) for name in keys))
    for start in range(0, len(rows), CHUNK):
        statement = insert(table).values(rows[start : start + CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=[table.c[name] for name in keys],
            set_={name: table.c[name] + statement.excluded[name] for name in added},
        )
        await connection.execute(statement)


async def write_counts(connection: AsyncConnection, counts: Counts) -> None:
    """Add `counts` to the stored rows, in the caller's transaction."""
    days = [
        {
            "vendor_id": vendor_id,
            "day": day,
            "views": c[VIEWS],
            "visitors": c[VISITORS],
            "product_views": c[PRODUCT_VIEWS],
            "taps": c[TAPS],
            "orders": c[ORDERS],
            "order_total": counts.order_totals.get((vendor_id, day), Decimal(0)),
        }
        for (vendor_id, day), c in counts.days.items()
    ]
    products = [
        {
            "vendor_id": vendor_id,
            "day": day,
            "product_id": product_id,
            "views": c[P_VIEWS],
            "taps": c[P_TAPS],
            "orders": c[P_ORDERS],
        }
        for (vendor_id, day, product_id), c in counts.products.items()
    ]
    sources = [
        {
            "vendor_id": vendor_id,
            "day": day,
            "source": source,
            "views": c[S_VIEWS],
            "visitors": c[S_VISITORS],
        }
        for (vendor_id, day, source), c in counts.sources.items()
    ]
    await _upsert(connection, AnalyticsDay.__table__, days, ("vendor_id", "day"))
    await _upsert(
        connection, AnalyticsProductDay.__table__, products, ("vendor_id", "day", "product_id")
    )
    await _upsert(connection, AnalyticsSourceDay.__table__, sources, ("vendor_id", "day", "source"))


async def existing_vendors(connection: AsyncConnection, vendor_ids: set[str]) -> set[str]:
    """Which of these vendors still exist (a batch may count a vendor deleted since)."""
    found = await connection.scalars(select(User.id).where(User.id.in_(sorted(vendor_ids))))
    return set(found)


def without_vendors(counts: Counts, gone: set[str]) -> Counts:
    return Counts(
        days={k: v for k, v in counts.days.items() if k[0] not in gone},
        order_totals={k: v for k, v in counts.order_totals.items() if k[0] not in gone},
        products={k: v for k, v in counts.products.items() if k[0] not in gone},
        sources={k: v for k, v in counts.sources.items() if k[0] not in gone},
    )
