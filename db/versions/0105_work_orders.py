"""Production plans and work orders: operations, state transitions, quantity reports.

Revision ID: 0105_work_orders
Revises: 0104_processes
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0105_work_orders"
down_revision: str | Sequence[str] | None = "0104_processes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # generated work order codes: WO-000001, ...
    op.execute("CREATE SEQUENCE work_order_code_seq")
    op.create_table(
        "production_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
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
            "status IN ('draft', 'released', 'closed', 'cancelled')",
            name=op.f("ck_production_plan_status_known"),
        ),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_production_plan_period_ordered")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_plan")),
        sa.UniqueConstraint("code", name=op.f("uq_production_plan_code")),
    )
    op.create_index("ix_production_plan_period_start", "production_plan", ["period_start"])
    op.create_table(
        "production_plan_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("released_quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
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
        sa.CheckConstraint("quantity > 0", name=op.f("ck_production_plan_line_quantity_positive")),
        sa.CheckConstraint(
            "released_quantity >= 0", name=op.f("ck_production_plan_line_released_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_production_plan_line_item_id_item")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["equipment.id"], name=op.f("fk_production_plan_line_line_id_equipment")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["production_plan.id"],
            name=op.f("fk_production_plan_line_plan_id_production_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_plan_line")),
    )
    op.create_index("ix_production_plan_line_item_id", "production_plan_line", ["item_id"])
    op.create_index("ix_production_plan_line_plan_id", "production_plan_line", ["plan_id"])
    op.create_table(
        "work_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan_line_id", sa.Integer(), nullable=True),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("good_quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("scrap_quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("lot_code", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
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
            "status IN ('planned', 'released', 'in_progress', 'paused', 'completed', 'cancelled')",
            name=op.f("ck_work_order_status_known"),
        ),
        sa.CheckConstraint(
            "actual_end IS NULL OR actual_start IS NULL OR actual_end >= actual_start",
            name=op.f("ck_work_order_actual_ordered"),
        ),
        sa.CheckConstraint("good_quantity >= 0", name=op.f("ck_work_order_good_non_negative")),
        sa.CheckConstraint(
            "planned_end IS NULL OR planned_start IS NULL OR planned_end >= planned_start",
            name=op.f("ck_work_order_planned_ordered"),
        ),
        sa.CheckConstraint(
            "priority BETWEEN 1 AND 1000", name=op.f("ck_work_order_priority_range")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_work_order_quantity_positive")),
        sa.CheckConstraint("scrap_quantity >= 0", name=op.f("ck_work_order_scrap_non_negative")),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_work_order_equipment_id_equipment")
        ),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_work_order_item_id_item")),
        sa.ForeignKeyConstraint(
            ["line_id"], ["equipment.id"], name=op.f("fk_work_order_line_id_equipment")
        ),
        sa.ForeignKeyConstraint(
            ["plan_line_id"],
            ["production_plan_line.id"],
            name=op.f("fk_work_order_plan_line_id_production_plan_line"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order")),
        sa.UniqueConstraint("code", name=op.f("uq_work_order_code")),
    )
    op.create_index(
        "ix_work_order_code_trgm",
        "work_order",
        ["code"],
        postgresql_using="gin",
        postgresql_ops={"code": "gin_trgm_ops"},
    )
    op.create_index("ix_work_order_due_date", "work_order", ["due_date"])
    op.create_index("ix_work_order_equipment_id", "work_order", ["equipment_id"])
    op.create_index("ix_work_order_item_id", "work_order", ["item_id"])
    op.create_index("ix_work_order_line_id", "work_order", ["line_id"])
    op.create_index("ix_work_order_plan_line_id", "work_order", ["plan_line_id"])
    op.create_index("ix_work_order_status", "work_order", ["status"])
    op.create_table(
        "work_order_operation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("work_center_id", sa.Integer(), nullable=True),
        sa.Column("equipment_type", sa.String(length=64), nullable=True),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("setup_time_s", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("ideal_cycle_time_s", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("good_quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("scrap_quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("actual_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_end", sa.DateTime(timezone=True), nullable=True),
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
            "status IN ('pending', 'in_progress', 'done')",
            name=op.f("ck_work_order_operation_status_known"),
        ),
        sa.CheckConstraint(
            "good_quantity >= 0", name=op.f("ck_work_order_operation_good_non_negative")
        ),
        sa.CheckConstraint(
            "scrap_quantity >= 0", name=op.f("ck_work_order_operation_scrap_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"],
            ["equipment.id"],
            name=op.f("fk_work_order_operation_equipment_id_equipment"),
        ),
        sa.ForeignKeyConstraint(
            ["work_center_id"],
            ["equipment.id"],
            name=op.f("fk_work_order_operation_work_center_id_equipment"),
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_order.id"],
            name=op.f("fk_work_order_operation_work_order_id_work_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_operation")),
        sa.UniqueConstraint(
            "work_order_id", "sequence", name=op.f("uq_work_order_operation_work_order_id_sequence")
        ),
    )
    op.create_index(
        "ix_work_order_operation_equipment_id", "work_order_operation", ["equipment_id"]
    )
    op.create_table(
        "work_order_transition",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_order.id"],
            name=op.f("fk_work_order_transition_work_order_id_work_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_transition")),
    )
    op.create_index(
        "ix_work_order_transition_work_order_id", "work_order_transition", ["work_order_id", "id"]
    )
    op.create_table(
        "work_order_report",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Integer(), nullable=True),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("good_quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("scrap_quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("scrap_reason", sa.String(length=200), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "source IN ('manual', 'auto')", name=op.f("ck_work_order_report_source_known")
        ),
        sa.CheckConstraint(
            "good_quantity + scrap_quantity > 0",
            name=op.f("ck_work_order_report_something_reported"),
        ),
        sa.CheckConstraint(
            "good_quantity >= 0", name=op.f("ck_work_order_report_good_non_negative")
        ),
        sa.CheckConstraint(
            "scrap_quantity >= 0", name=op.f("ck_work_order_report_scrap_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"],
            ["equipment.id"],
            name=op.f("fk_work_order_report_equipment_id_equipment"),
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["work_order_operation.id"],
            name=op.f("fk_work_order_report_operation_id_work_order_operation"),
        ),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_order.id"],
            name=op.f("fk_work_order_report_work_order_id_work_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_report")),
    )
    op.create_index(
        "ix_work_order_report_equipment_id", "work_order_report", ["equipment_id", "reported_at"]
    )
    op.create_index("ix_work_order_report_reported_at", "work_order_report", ["reported_at"])
    op.create_index("ix_work_order_report_work_order_id", "work_order_report", ["work_order_id"])


def downgrade() -> None:
    op.drop_table("work_order_report")
    op.drop_table("work_order_transition")
    op.drop_table("work_order_operation")
    op.drop_table("work_order")
    op.drop_table("production_plan_line")
    op.drop_table("production_plan")
    op.execute("DROP SEQUENCE work_order_code_seq")
