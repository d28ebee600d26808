"""Equipment: the ISA-95 hierarchy and ideal cycle times per item.

Revision ID: 0103_equipment
Revises: 0102_downtime_reasons
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0103_equipment"
down_revision: str | Sequence[str] | None = "0102_downtime_reasons"
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
        "equipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "capabilities",
            postgresql.ARRAY(sa.String(length=64)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("ideal_cycle_time_s", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("vendor", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("serial_number", sa.String(length=100), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *timestamps(),
        sa.CheckConstraint(
            "level IN ('site', 'area', 'line', 'cell', 'machine')",
            name=op.f("ck_equipment_level_known"),
        ),
        sa.CheckConstraint(
            "status IN ('in_service', 'maintenance', 'out_of_service', 'decommissioned')",
            name=op.f("ck_equipment_status_known"),
        ),
        sa.CheckConstraint(
            "(level = 'site') = (parent_id IS NULL)", name=op.f("ck_equipment_parent_unless_site")
        ),
        sa.CheckConstraint(
            "ideal_cycle_time_s IS NULL OR ideal_cycle_time_s > 0",
            name=op.f("ck_equipment_cycle_time_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["equipment.id"], name=op.f("fk_equipment_parent_id_equipment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment")),
        sa.UniqueConstraint("code", name=op.f("uq_equipment_code")),
    )
    op.create_index("ix_equipment_parent_id", "equipment", ["parent_id"])
    op.create_index("ix_equipment_level", "equipment", ["level"])
    op.create_index("ix_equipment_type", "equipment", ["type"])
    op.create_index(
        "ix_equipment_capabilities", "equipment", ["capabilities"], postgresql_using="gin"
    )
    op.create_index(
        "ix_equipment_code_trgm",
        "equipment",
        ["code"],
        postgresql_using="gin",
        postgresql_ops={"code": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_equipment_name_trgm",
        "equipment",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_table(
        "equipment_cycle_time",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("ideal_cycle_time_s", sa.Numeric(precision=12, scale=3), nullable=False),
        *timestamps(),
        sa.CheckConstraint(
            "ideal_cycle_time_s > 0", name=op.f("ck_equipment_cycle_time_cycle_time_positive")
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"],
            ["equipment.id"],
            name=op.f("fk_equipment_cycle_time_equipment_id_equipment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_equipment_cycle_time_item_id_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment_cycle_time")),
        sa.UniqueConstraint(
            "equipment_id", "item_id", name=op.f("uq_equipment_cycle_time_equipment_id_item_id")
        ),
    )
    op.create_index("ix_equipment_cycle_time_item_id", "equipment_cycle_time", ["item_id"])


def downgrade() -> None:
    op.drop_table("equipment_cycle_time")
    op.drop_table("equipment")
