"""feedback reports and the delivery outbox

Revision ID: 0007_feedback
Revises: 0006_rate_limits
Create Date: 2026-12-04 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.types

revision: str = "0007_feedback"
down_revision: str | Sequence[str] | None = "0006_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_jobs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("vendor_id", sa.String(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("run_after", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("expires_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'expired')",
            name=op.f("ck_delivery_jobs_status_known"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_delivery_jobs_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["users.id"],
            name=op.f("fk_delivery_jobs_vendor_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_jobs")),
    )
    op.create_index(
        "ix_delivery_jobs_status_run_after", "delivery_jobs", ["status", "run_after"], unique=False
    )
    op.create_index(
        op.f("ix_delivery_jobs_vendor_id"), "delivery_jobs", ["vendor_id"], unique=False
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("client_timestamp", sa.String(length=100), nullable=False),
        sa.Column("vendor_id", sa.String(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", app.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivery_job_id", sa.String(), nullable=True),
        sa.Column("delivered_at", app.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_job_id"],
            ["delivery_jobs.id"],
            name=op.f("fk_feedback_delivery_job_id_delivery_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["users.id"],
            name=op.f("fk_feedback_vendor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_created_at"), "feedback", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_feedback_delivery_job_id"), "feedback", ["delivery_job_id"], unique=False
    )
    op.create_index(op.f("ix_feedback_vendor_id"), "feedback", ["vendor_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_vendor_id"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_delivery_job_id"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_created_at"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index(op.f("ix_delivery_jobs_vendor_id"), table_name="delivery_jobs")
    op.drop_index("ix_delivery_jobs_status_run_after", table_name="delivery_jobs")
    op.drop_table("delivery_jobs")
