"""Downtime reason codes: a tree of categories and reasons with planned flag and OEE loss.

Revision ID: 0102_downtime_reasons
Revises: 0101_bom
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0102_downtime_reasons"
down_revision: str | Sequence[str] | None = "0101_bom"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "downtime_reason",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("planned", sa.Boolean(), nullable=False),
        sa.Column("loss_category", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('category', 'reason')", name=op.f("ck_downtime_reason_kind_known")
        ),
        sa.CheckConstraint(
            "loss_category IS NULL OR loss_category IN ('equipment_failure', 'setup_adjustment',"
            " 'idling_minor_stops', 'reduced_speed', 'process_defects', 'reduced_yield')",
            name=op.f("ck_downtime_reason_loss_category_known"),
        ),
        sa.CheckConstraint(
            "kind = 'category' OR planned OR loss_category IS NOT NULL",
            name=op.f("ck_downtime_reason_loss_category_when_unplanned"),
        ),
        sa.CheckConstraint(
            "NOT planned OR loss_category IS NULL",
            name=op.f("ck_downtime_reason_no_loss_when_planned"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["downtime_reason.id"],
            name=op.f("fk_downtime_reason_parent_id_downtime_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downtime_reason")),
        sa.UniqueConstraint("code", name=op.f("uq_downtime_reason_code")),
    )
    op.create_index("ix_downtime_reason_parent_id", "downtime_reason", ["parent_id"])


def downgrade() -> None:
    op.drop_table("downtime_reason")
