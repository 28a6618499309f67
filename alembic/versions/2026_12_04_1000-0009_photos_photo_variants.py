"""photos: each stored photo's dimensions, WebP widths and JPEG link preview

Revision ID: 0009_photos
Revises: 0007_feedback
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.types

revision: str = "0009_photos"
down_revision: str | Sequence[str] | None = "0007_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "photos",
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("preview_url", sa.String(), nullable=True),
        sa.Column("preview_width", sa.Integer(), nullable=True),
        sa.Column("preview_height", sa.Integer(), nullable=True),
        sa.Column("preview_bytes", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            app.models.types.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_photos")),
    )


def downgrade() -> None:
    op.drop_table("photos")
