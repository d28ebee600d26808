"""Inventory tables: locations, lots, on-hand stock, the movement ledger and lot genealogy."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.common.search import UNMAPPED, search_text_column, search_text_index
from core.db import Base, TimestampMixin
from core.items.models import Item


class LocationType(enum.StrEnum):
    """What a location is used for."""

    WAREHOUSE = "warehouse"
    LINE_SIDE = "line_side"
    QUARANTINE = "quarantine"
    SHIPPING = "shipping"


class LotStatus(enum.StrEnum):
    """Whether a lot may be consumed or shipped."""

    RELEASED = "released"
    QUARANTINE = "quarantine"
    BLOCKED = "blocked"


class LotOrigin(enum.StrEnum):
    """How a lot came into being."""

    RECEIPT = "receipt"
    PRODUCTION = "production"


class TransactionType(enum.StrEnum):
    """Kinds of stock movement."""

    RECEIPT = "receipt"
    ISSUE = "issue"
    TRANSFER = "transfer"
    ADJUSTMENT = "adjustment"
    PRODUCTION_RECEIPT = "production_receipt"
    BACKFLUSH = "backflush"


def _values(enum_cls: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{m.value}'" for m in enum_cls)


class Location(TimestampMixin, Base):
    """A place stock is kept: a warehouse, a line-side buffer, quarantine, shipping."""

    __tablename__ = "location"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    description: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"type IN ({_values(LocationType)})", name="type_known"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        Index(
            "ix_location_code_trgm",
            "code",
            postgresql_using="gin",
            postgresql_ops={"code": "gin_trgm_ops"},
        ),
        Index(
            "ix_location_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        Index("ix_location_parent_id", "parent_id"),
    )


class Lot(TimestampMixin, Base):
    """A batch of one item with a shared history; its code is unique per item.

    `received_quantity` is what entered the lot by receipt or production (on-hand is in `stock`).
    """

    __tablename__ = "lot"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=False)
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=LotStatus.RELEASED)
    origin: Mapped[str] = mapped_column(String(20), nullable=False)
    received_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    expires_on: Mapped[date | None] = mapped_column(Date)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"))
    supplier_lot: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)

    item: Mapped[Item] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(f"status IN ({_values(LotStatus)})", name="status_known"),
        CheckConstraint(f"origin IN ({_values(LotOrigin)})", name="origin_known"),
        CheckConstraint("received_quantity >= 0", name="received_quantity_non_negative"),
        CheckConstraint(
            "origin <> 'production' OR work_order_id IS NOT NULL",
            name="production_has_work_order",
        ),
        UniqueConstraint("item_id", "code"),
        Index(
            "ix_lot_code_trgm",
            "code",
            postgresql_using="gin",
            postgresql_ops={"code": "gin_trgm_ops"},
        ),
        Index("ix_lot_work_order_id", "work_order_id"),
    )


class Stock(Base):
    """On-hand quantity of one item (and lot, if any) at one location; never negative.

    Maintained only by the movement service, in the transaction that writes the ledger row.
    """

    __tablename__ = "stock"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=False)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"), nullable=False)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    item: Mapped[Item] = relationship(lazy="raise")
    location: Mapped[Location] = relationship(lazy="raise")
    lot: Mapped[Lot | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        Index(
            "uq_stock_item_id_location_id_lot_id",
            "item_id",
            "location_id",
            "lot_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_stock_lot_id", "lot_id"),
        Index("ix_stock_location_id", "location_id"),
        search_text_column(),
        search_text_index("stock", "location_id"),
    )
    __mapper_args__ = UNMAPPED  # search_text: kept by triggers, read by the list only


class InventoryTransaction(Base):
    """One stock movement in the ledger (immutable).

    `quantity` is signed by its effect on total stock: positive for receipts and production
    receipts, negative for issues and backflushes, either sign for adjustments, and the moved
    (positive) quantity for transfers. Stock leaves `from_location_id` and arrives at
    `to_location_id`.
    """

    __tablename__ = "inventory_transaction"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=False)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"))
    user_id: Mapped[str] = mapped_column(String(100), nullable=False)
    username: Mapped[str] = mapped_column(String(200), nullable=False)
    ts: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), nullable=False
    )
    reason: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint(f"type IN ({_values(TransactionType)})", name="type_known"),
        CheckConstraint(
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
            " ELSE false END",
            name="shape",
        ),
        Index("ix_inventory_transaction_item_id_ts", "item_id", "ts"),
        Index("ix_inventory_transaction_lot_id", "lot_id"),
        Index("ix_inventory_transaction_work_order_id", "work_order_id"),
        Index("ix_inventory_transaction_ts", "ts"),
        Index("ix_inventory_transaction_from_location_id", "from_location_id"),
        Index("ix_inventory_transaction_to_location_id", "to_location_id"),
    )


class LotLink(Base):
    """Genealogy edge: `quantity` of component lot `child_lot_id` went into `parent_lot_id`."""

    __tablename__ = "lot_link"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parent_lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), nullable=False)
    child_lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"))
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_transaction.id"))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint("parent_lot_id <> child_lot_id", name="not_self"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_lot_link_parent_lot_id", "parent_lot_id"),
        Index("ix_lot_link_child_lot_id", "child_lot_id"),
        Index("ix_lot_link_work_order_id", "work_order_id"),
    )
