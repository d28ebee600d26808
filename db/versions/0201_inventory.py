"""Inventory: locations, lots, on-hand stock, the movement ledger and lot genealogy.

Revision ID: 0201_inventory
Revises: 0003_items
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0201_inventory"
down_revision: str | Sequence[str] | None = "0003_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRANSACTION_SHAPE = (
    "CASE type"
    " WHEN 'receipt' THEN quantity > 0 AND from_location_id IS NULL"
    " AND to_location_id IS NOT NULL"
    " WHEN 'production_receipt' THEN quantity > 0 AND from_location_id IS NULL"
    " AND to_location_id IS NOT NULL AND work_order_id IS NOT NULL"
    " WHEN 'issue' THEN quantity < 0 AND from_location_id IS NOT NULL"
    " AND to_location_id IS NULL"
    " WHEN 'backflush' THEN quantity < 0 AND from_location_id IS NOT NULL"
    " AND to_location_id IS NULL AND work_order_id IS NOT NULL"
    " WHEN 'transfer' THEN quantity > 0 AND from_location_id IS NOT NULL"
    " AND to_location_id IS NOT NULL AND from_location_id <> to_location_id"
    " WHEN 'adjustment' THEN (quantity > 0 AND from_location_id IS NULL"
    " AND to_location_id IS NOT NULL) OR (quantity < 0 AND from_location_id IS NOT NULL"
    " AND to_location_id IS NULL)"
    " ELSE false END"
)


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
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "type IN ('warehouse', 'line_side', 'quarantine', 'shipping')",
            name=op.f("ck_location_type_known"),
        ),
        sa.CheckConstraint(
            "parent_id IS NULL OR parent_id <> id", name=op.f("ck_location_not_own_parent")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["location.id"], name=op.f("fk_location_parent_id_location")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location")),
        sa.UniqueConstraint("code", name=op.f("uq_location_code")),
    )
    op.create_index(
        "ix_location_code_trgm",
        "location",
        ["code"],
        postgresql_using="gin",
        postgresql_ops={"code": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_location_name_trgm",
        "location",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_index("ix_location_parent_id", "location", ["parent_id"])

    op.create_table(
        "lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("received_quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("supplier_lot", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('released', 'quarantine', 'blocked')", name=op.f("ck_lot_status_known")
        ),
        sa.CheckConstraint("origin IN ('receipt', 'production')", name=op.f("ck_lot_origin_known")),
        sa.CheckConstraint(
            "received_quantity >= 0", name=op.f("ck_lot_received_quantity_non_negative")
        ),
        sa.CheckConstraint(
            "origin <> 'production' OR work_order_id IS NOT NULL",
            name=op.f("ck_lot_production_has_work_order"),
        ),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_lot_item_id_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot")),
        sa.UniqueConstraint("item_id", "code", name=op.f("uq_lot_item_id_code")),
    )
    op.create_index(
        "ix_lot_code_trgm",
        "lot",
        ["code"],
        postgresql_using="gin",
        postgresql_ops={"code": "gin_trgm_ops"},
    )
    op.create_index("ix_lot_work_order_id", "lot", ["work_order_id"])

    op.create_table(
        "stock",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_stock_quantity_non_negative")),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_stock_item_id_item")),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_stock_location_id_location")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_stock_lot_id_lot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock")),
    )
    op.create_index(
        "uq_stock_item_id_location_id_lot_id",
        "stock",
        ["item_id", "location_id", "lot_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_index("ix_stock_lot_id", "stock", ["lot_id"])
    op.create_index("ix_stock_location_id", "stock", ["location_id"])

    op.create_table(
        "inventory_transaction",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("from_location_id", sa.Integer(), nullable=True),
        sa.Column("to_location_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column(
            "ts",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "type IN ('receipt', 'issue', 'transfer', 'adjustment', 'production_receipt', "
            "'backflush')",
            name=op.f("ck_inventory_transaction_type_known"),
        ),
        sa.CheckConstraint(TRANSACTION_SHAPE, name=op.f("ck_inventory_transaction_shape")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_inventory_transaction_item_id_item")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lot.id"], name=op.f("fk_inventory_transaction_lot_id_lot")
        ),
        sa.ForeignKeyConstraint(
            ["from_location_id"],
            ["location.id"],
            name=op.f("fk_inventory_transaction_from_location_id_location"),
        ),
        sa.ForeignKeyConstraint(
            ["to_location_id"],
            ["location.id"],
            name=op.f("fk_inventory_transaction_to_location_id_location"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_transaction")),
    )
    op.create_index(
        "ix_inventory_transaction_item_id_ts", "inventory_transaction", ["item_id", "ts"]
    )
    op.create_index("ix_inventory_transaction_lot_id", "inventory_transaction", ["lot_id"])
    op.create_index(
        "ix_inventory_transaction_work_order_id", "inventory_transaction", ["work_order_id"]
    )
    op.create_index("ix_inventory_transaction_ts", "inventory_transaction", ["ts"])
    op.create_index(
        "ix_inventory_transaction_from_location_id", "inventory_transaction", ["from_location_id"]
    )
    op.create_index(
        "ix_inventory_transaction_to_location_id", "inventory_transaction", ["to_location_id"]
    )

    op.create_table(
        "lot_link",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("parent_lot_id", sa.Integer(), nullable=False),
        sa.Column("child_lot_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("transaction_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("parent_lot_id <> child_lot_id", name=op.f("ck_lot_link_not_self")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_lot_link_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["parent_lot_id"], ["lot.id"], name=op.f("fk_lot_link_parent_lot_id_lot")
        ),
        sa.ForeignKeyConstraint(
            ["child_lot_id"], ["lot.id"], name=op.f("fk_lot_link_child_lot_id_lot")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["inventory_transaction.id"],
            name=op.f("fk_lot_link_transaction_id_inventory_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_link")),
    )
    op.create_index("ix_lot_link_parent_lot_id", "lot_link", ["parent_lot_id"])
    op.create_index("ix_lot_link_child_lot_id", "lot_link", ["child_lot_id"])


def downgrade() -> None:
    op.drop_table("lot_link")
    op.drop_table("inventory_transaction")
    op.drop_table("stock")
    op.drop_table("lot")
    op.drop_table("location")
