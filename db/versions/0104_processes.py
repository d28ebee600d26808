"""Routings (one per item) and routing operations.

Revision ID: 0104_processes
Revises: 0103_equipment
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0104_processes"
down_revision: str | Sequence[str] | None = "0103_equipment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamps() -> list[sa.Column[object]]:
    return [
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
    ]


def upgrade() -> None:
    op.create_table(
        "routing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *timestamps(),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_routing_item_id_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing")),
        sa.UniqueConstraint("item_id", name=op.f("uq_routing_item_id")),
    )
    op.create_table(
        "routing_operation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("routing_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("work_center_id", sa.Integer(), nullable=True),
        sa.Column("equipment_type", sa.String(length=64), nullable=True),
        sa.Column("setup_time_s", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("ideal_cycle_time_s", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *timestamps(),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_routing_operation_sequence_positive")),
        sa.CheckConstraint(
            "setup_time_s >= 0", name=op.f("ck_routing_operation_setup_time_non_negative")
        ),
        sa.CheckConstraint(
            "ideal_cycle_time_s > 0", name=op.f("ck_routing_operation_cycle_time_positive")
        ),
        sa.CheckConstraint(
            "work_center_id IS NOT NULL OR equipment_type IS NOT NULL",
            name=op.f("ck_routing_operation_where_it_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["routing_id"],
            ["routing.id"],
            name=op.f("fk_routing_operation_routing_id_routing"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["work_center_id"],
            ["equipment.id"],
            name=op.f("fk_routing_operation_work_center_id_equipment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_operation")),
        sa.UniqueConstraint(
            "routing_id", "sequence", name=op.f("uq_routing_operation_routing_id_sequence")
        ),
    )
    op.create_index("ix_routing_operation_work_center_id", "routing_operation", ["work_center_id"])


def downgrade() -> None:
    op.drop_table("routing_operation")
    op.drop_table("routing")
