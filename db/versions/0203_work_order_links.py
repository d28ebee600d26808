"""Foreign keys from inventory and quality rows to work orders and routing operations.

Revision ID: 0203_work_order_links
Revises: 0202_quality
Depends on: 0105_work_orders (work_order), which comes after 0104_processes (routing_operation)
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0203_work_order_links"
down_revision: str | Sequence[str] | None = "0202_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0105_work_orders"

WORK_ORDER_REFERENCES = [
    "lot",
    "inventory_transaction",
    "lot_link",
    "inspection",
    "non_conformance",
]


def upgrade() -> None:
    for table in WORK_ORDER_REFERENCES:
        op.create_foreign_key(
            op.f(f"fk_{table}_work_order_id_work_order"),
            table,
            "work_order",
            ["work_order_id"],
            ["id"],
        )
    op.create_foreign_key(
        op.f("fk_inspection_plan_operation_id_routing_operation"),
        "inspection_plan",
        "routing_operation",
        ["operation_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_lot_link_work_order_id", "lot_link", ["work_order_id"])
    op.create_index("ix_inspection_plan_operation_id", "inspection_plan", ["operation_id"])


def downgrade() -> None:
    op.drop_index("ix_inspection_plan_operation_id", table_name="inspection_plan")
    op.drop_index("ix_lot_link_work_order_id", table_name="lot_link")
    op.drop_constraint(
        op.f("fk_inspection_plan_operation_id_routing_operation"),
        "inspection_plan",
        type_="foreignkey",
    )
    for table in reversed(WORK_ORDER_REFERENCES):
        op.drop_constraint(op.f(f"fk_{table}_work_order_id_work_order"), table, type_="foreignkey")
