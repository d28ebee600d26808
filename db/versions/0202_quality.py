"""Quality: inspection plans and characteristics, inspections and results, non-conformances.

Revision ID: 0202_quality
Revises: 0201_inventory
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0202_quality"
down_revision: str | Sequence[str] | None = "0201_inventory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
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
        "inspection_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_inspection_plan_item_id_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_plan")),
        sa.UniqueConstraint("code", name=op.f("uq_inspection_plan_code")),
    )
    op.create_index("ix_inspection_plan_item_id", "inspection_plan", ["item_id"])
    op.create_index(
        "ix_inspection_plan_code_trgm",
        "inspection_plan",
        ["code"],
        postgresql_using="gin",
        postgresql_ops={"code": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_inspection_plan_name_trgm",
        "inspection_plan",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )

    op.create_table(
        "inspection_characteristic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("lsl", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("usl", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("target", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("sample_size", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "kind IN ('numeric', 'attribute')", name=op.f("ck_inspection_characteristic_kind_known")
        ),
        sa.CheckConstraint(
            "sample_size BETWEEN 1 AND 100",
            name=op.f("ck_inspection_characteristic_sample_size_range"),
        ),
        sa.CheckConstraint(
            "kind <> 'numeric' OR (lsl IS NOT NULL OR usl IS NOT NULL)",
            name=op.f("ck_inspection_characteristic_numeric_has_a_limit"),
        ),
        sa.CheckConstraint(
            "lsl IS NULL OR usl IS NULL OR lsl < usl",
            name=op.f("ck_inspection_characteristic_limits_ordered"),
        ),
        sa.CheckConstraint(
            "target IS NULL OR ((lsl IS NULL OR target >= lsl) AND (usl IS NULL OR target <= usl))",
            name=op.f("ck_inspection_characteristic_target_within_limits"),
        ),
        sa.CheckConstraint(
            "kind <> 'attribute' OR (lsl IS NULL AND usl IS NULL AND target IS NULL)",
            name=op.f("ck_inspection_characteristic_attribute_has_no_limits"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["inspection_plan.id"],
            name=op.f("fk_inspection_characteristic_plan_id_inspection_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_characteristic")),
        sa.UniqueConstraint(
            "plan_id", "code", name=op.f("uq_inspection_characteristic_plan_id_code")
        ),
    )

    op.create_table(
        "inspection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("inspector", sa.String(length=200), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('open', 'passed', 'failed')", name=op.f("ck_inspection_status_known")
        ),
        sa.CheckConstraint(
            "work_order_id IS NOT NULL OR lot_id IS NOT NULL",
            name=op.f("ck_inspection_has_work_order_or_lot"),
        ),
        sa.CheckConstraint(
            "(status = 'open') = (completed_at IS NULL)",
            name=op.f("ck_inspection_completed_when_decided"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["inspection_plan.id"], name=op.f("fk_inspection_plan_id_inspection_plan")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_inspection_lot_id_lot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection")),
    )
    op.create_index("ix_inspection_plan_id", "inspection", ["plan_id"])
    op.create_index("ix_inspection_work_order_id", "inspection", ["work_order_id"])
    op.create_index("ix_inspection_lot_id", "inspection", ["lot_id"])
    op.create_index("ix_inspection_status", "inspection", ["status"])

    op.create_table(
        "inspection_result",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("characteristic_id", sa.Integer(), nullable=False),
        sa.Column("sample_no", sa.Integer(), nullable=False),
        sa.Column("value", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column(
            "measured_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.CheckConstraint("sample_no >= 1", name=op.f("ck_inspection_result_sample_no_positive")),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspection.id"],
            name=op.f("fk_inspection_result_inspection_id_inspection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["characteristic_id"],
            ["inspection_characteristic.id"],
            name=op.f("fk_inspection_result_characteristic_id_inspection_characteristic"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_result")),
        sa.UniqueConstraint(
            "inspection_id",
            "characteristic_id",
            "sample_no",
            name=op.f("uq_inspection_result_inspection_id_characteristic_id_sample_no"),
        ),
    )
    op.create_index(
        "ix_inspection_result_characteristic_id_measured_at",
        "inspection_result",
        ["characteristic_id", "measured_at"],
    )

    op.create_table(
        "non_conformance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("disposition", sa.String(length=20), nullable=True),
        sa.Column("disposition_note", sa.Text(), nullable=True),
        sa.Column("reported_by", sa.String(length=200), nullable=False),
        sa.Column("review_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "severity IN ('minor', 'major', 'critical')",
            name=op.f("ck_non_conformance_severity_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'under_review', 'closed')",
            name=op.f("ck_non_conformance_status_known"),
        ),
        sa.CheckConstraint(
            "disposition IS NULL OR disposition IN ('rework', 'scrap', 'use_as_is')",
            name=op.f("ck_non_conformance_disposition_known"),
        ),
        sa.CheckConstraint(
            "inspection_id IS NOT NULL OR lot_id IS NOT NULL OR work_order_id IS NOT NULL",
            name=op.f("ck_non_conformance_has_source"),
        ),
        sa.CheckConstraint(
            "status <> 'closed' OR (disposition IS NOT NULL AND closed_at IS NOT NULL)",
            name=op.f("ck_non_conformance_closed_has_disposition"),
        ),
        sa.CheckConstraint(
            "quantity IS NULL OR quantity > 0", name=op.f("ck_non_conformance_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspection.id"],
            name=op.f("fk_non_conformance_inspection_id_inspection"),
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_non_conformance_lot_id_lot")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_non_conformance_item_id_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_non_conformance")),
    )
    op.create_index("ix_non_conformance_status", "non_conformance", ["status"])
    op.create_index("ix_non_conformance_lot_id", "non_conformance", ["lot_id"])
    op.create_index("ix_non_conformance_work_order_id", "non_conformance", ["work_order_id"])
    op.create_index("ix_non_conformance_inspection_id", "non_conformance", ["inspection_id"])
    op.create_index(
        "ix_non_conformance_title_trgm",
        "non_conformance",
        ["title"],
        postgresql_using="gin",
        postgresql_ops={"title": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_table("non_conformance")
    op.drop_table("inspection_result")
    op.drop_table("inspection")
    op.drop_table("inspection_characteristic")
    op.drop_table("inspection_plan")
