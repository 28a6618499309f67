"""initial schema; adopts the earlier backend's tables when it finds them

On an empty database this creates the schema. On a database the earlier backend made with
`create_all` (no Alembic), it converts that database in place into the very same schema:
see app/adoption/legacy.py.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 06:51:47.689347
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.types
from app.adoption.legacy import adopt_legacy_database, has_legacy_tables

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    if has_legacy_tables(connection):
        adopt_legacy_database(connection, create_schema)
    else:
        create_schema()


def create_schema() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("hashed_password", sa.String(), nullable=False),
        sa.Column("whatsapp_number", sa.String(), nullable=False),
        sa.Column("store_name", sa.String(), nullable=True),
        sa.Column("store_slug", sa.String(), nullable=False),
        sa.Column("banner_url", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            app.models.types.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("updated_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lowercase")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_email"), "users", ["email"], unique=True)
    op.create_index(op.f("ix_users_store_slug"), "users", ["store_slug"], unique=True)
    op.create_table(
        "products",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("price", app.models.types.Money(precision=12, scale=2), nullable=False),
        sa.Column("image_url_1", sa.String(), nullable=True),
        sa.Column("image_url_2", sa.String(), nullable=True),
        sa.Column("image_url_3", sa.String(), nullable=True),
        sa.Column("image_url_4", sa.String(), nullable=True),
        sa.Column("image_url_5", sa.String(), nullable=True),
        sa.Column("is_available", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("click_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column(
            "created_at",
            app.models.types.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("updated_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("click_count >= 0", name=op.f("ck_products_click_count_non_negative")),
        sa.CheckConstraint("price > 0", name=op.f("ck_products_price_positive")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_products_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(
        "ix_products_user_id_created_at", "products", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("created_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"], unique=False)
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"], unique=False)
    op.create_table(
        "store_aliases",
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_store_aliases_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_store_aliases")),
    )
    op.create_index(op.f("ix_store_aliases_user_id"), "store_aliases", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_store_aliases_user_id"), table_name="store_aliases")
    op.drop_table("store_aliases")
    op.drop_index(op.f("ix_sessions_user_id"), table_name="sessions")
    op.drop_index(op.f("ix_sessions_expires_at"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_products_user_id_created_at", table_name="products")
    op.drop_table("products")
    op.drop_index(op.f("ix_users_store_slug"), table_name="users")
    op.drop_index(op.f("ix_users_email"), table_name="users")
    op.drop_table("users")
