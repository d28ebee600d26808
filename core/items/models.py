"""Item master."""

from __future__ import annotations

import enum
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TimestampMixin


class ItemType(enum.StrEnum):
    """What role an item plays in production."""

    RAW = "raw"
    SEMI_FINISHED = "semi_finished"
    FINISHED = "finished"
    CONSUMABLE = "consumable"


class Item(TimestampMixin, Base):
    """A material or product, identified by its code."""

    __tablename__ = "item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    unit: Mapped[str] = mapped_column(String(16), nullable=False)
    lot_tracked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    safety_stock: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, default=0)
    lead_time_days: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    description: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "type IN ('raw', 'semi_finished', 'finished', 'consumable')", name="type_known"
        ),
        CheckConstraint("safety_stock >= 0", name="safety_stock_non_negative"),
        CheckConstraint("lead_time_days >= 0", name="lead_time_non_negative"),
        Index(
            "ix_item_code_trgm",
            "code",
            postgresql_using="gin",
            postgresql_ops={"code": "gin_trgm_ops"},
        ),
        Index(
            "ix_item_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        Index("ix_item_type", "type"),
    )
