"""Bills of materials: versioned headers per item (one active version) and lines.

Revision ID: 0101_bom
Revises: 0003_items
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101_bom"
down_revision: str | Sequence[str] | None = "0003_items"
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
        "bom",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *timestamps(),
        sa.CheckConstraint(
            "status IN ('draft', 'active', 'archived')", name=op.f("ck_bom_status_known")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_bom_version_positive")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_bom_quantity_positive")),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from",
            name=op.f("ck_bom_effective_range"),
        ),
        sa.CheckConstraint(
            "status = 'draft' OR effective_from IS NOT NULL",
            name=op.f("ck_bom_effective_from_when_used"),
        ),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_bom_item_id_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom")),
        sa.UniqueConstraint("item_id", "version", name=op.f("uq_bom_item_id_version")),
    )
    op.create_index(
        "uq_bom_item_active",
        "bom",
        ["item_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "bom_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bom_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("component_item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("scrap_factor", sa.Numeric(precision=9, scale=6), nullable=False),
        sa.Column("operation_seq", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *timestamps(),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_bom_line_quantity_positive")),
        sa.CheckConstraint(
            "scrap_factor >= 0 AND scrap_factor < 1", name=op.f("ck_bom_line_scrap_factor_range")
        ),
        sa.CheckConstraint("position >= 1", name=op.f("ck_bom_line_position_positive")),
        sa.CheckConstraint(
            "operation_seq IS NULL OR operation_seq >= 1",
            name=op.f("ck_bom_line_operation_seq_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["bom_id"], ["bom.id"], name=op.f("fk_bom_line_bom_id_bom"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["component_item_id"],
            ["item.id"],
            name=op.f("fk_bom_line_component_item_id_item"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bom_line")),
        sa.UniqueConstraint("bom_id", "position", name=op.f("uq_bom_line_bom_id_position")),
    )
    op.create_index("ix_bom_line_component_item_id", "bom_line", ["component_item_id"])


def downgrade() -> None:
    op.drop_table("bom_line")
    op.drop_table("bom")
