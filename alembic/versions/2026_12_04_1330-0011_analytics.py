"""storefront analytics: daily counts, the day's key and visitor marks

Revision ID: 0011_analytics
Revises: 0010_orders
Create Date: 2026-12-04 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.types import Money

revision: str = "0011_analytics"
down_revision: str | Sequence[str] | None = "0010_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False)


def _vendor(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("vendor_id", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["users.id"],
            name=op.f(f"fk_{table}_vendor_id_users"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "analytics_days",
        *_vendor("analytics_days"),
        _count("views"),
        _count("visitors"),
        _count("product_views"),
        _count("taps"),
        _count("orders"),
        sa.Column("order_total", Money(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("vendor_id", "day", name=op.f("pk_analytics_days")),
    )
    op.create_table(
        "analytics_product_days",
        *_vendor("analytics_product_days"),
        sa.Column("product_id", sa.String(), nullable=False),
        _count("views"),
        _count("taps"),
        _count("orders"),
        sa.PrimaryKeyConstraint(
            "vendor_id", "day", "product_id", name=op.f("pk_analytics_product_days")
        ),
    )
    op.create_table(
        "analytics_source_days",
        *_vendor("analytics_source_days"),
        sa.Column("source", sa.String(length=32), nullable=False),
        _count("views"),
        _count("visitors"),
        sa.PrimaryKeyConstraint(
            "vendor_id", "day", "source", name=op.f("pk_analytics_source_days")
        ),
    )
    op.create_table(
        "analytics_day_keys",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_analytics_day_keys")),
    )
    op.create_table(
        "analytics_visitors",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("mark", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("day", "mark", name=op.f("pk_analytics_visitors")),
    )


def downgrade() -> None:
    for table in (
        "analytics_visitors",
        "analytics_day_keys",
        "analytics_source_days",
        "analytics_product_days",
        "analytics_days",
    ):
        op.drop_table(table)
