"""BOM headers (one version per row) and their lines."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin
from core.items.models import Item


class BomStatus(enum.StrEnum):
    """Life cycle of a BOM version: drafts are edited, one version is active, old ones archived."""

    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class Bom(TimestampMixin, Base):
    """One version of the bill of materials of an item.

    Lines give component quantities for `quantity` units of the item. A version is effective on
    dates in [effective_from, effective_to); activating a version archives the previous active one
    and closes its range, so the effective ranges of an item never overlap.
    """

    __tablename__ = "bom"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=BomStatus.DRAFT)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, default=1)
    effective_from: Mapped[date | None] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)

    item: Mapped[Item] = relationship(lazy="raise")
    lines: Mapped[list[BomLine]] = relationship(
        back_populates="bom",
        cascade="all, delete-orphan",
        order_by="BomLine.position",
        lazy="raise",
    )

    @property
    def item_code(self) -> str:
        """Code of the item (the relationship must be loaded)."""
        return self.item.code

    @property
    def item_name(self) -> str:
        """Name of the item (the relationship must be loaded)."""
        return self.item.name

    __table_args__ = (
        UniqueConstraint("item_id", "version"),
        CheckConstraint("status IN ('draft', 'active', 'archived')", name="status_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "effective_to IS NULL OR effective_from IS NULL OR effective_to >= effective_from",
            name="effective_range",
        ),
        CheckConstraint(
            "status = 'draft' OR effective_from IS NOT NULL", name="effective_from_when_used"
        ),
        Index(
            "uq_bom_item_active",
            "item_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )


class BomLine(TimestampMixin, Base):
    """A component of a BOM version: how much of it goes into the BOM's base quantity."""

    __tablename__ = "bom_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bom_id: Mapped[int] = mapped_column(ForeignKey("bom.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    component_item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    unit: Mapped[str] = mapped_column(String(16), nullable=False)
    scrap_factor: Mapped[Decimal] = mapped_column(Numeric(9, 6), nullable=False, default=0)
    operation_seq: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)

    bom: Mapped[Bom] = relationship(back_populates="lines", lazy="raise")
    component: Mapped[Item] = relationship(lazy="raise")

    @property
    def component_code(self) -> str:
        """Code of the component item (the relationship must be loaded)."""
        return self.component.code

    @property
    def component_name(self) -> str:
        """Name of the component item (the relationship must be loaded)."""
        return self.component.name

    __table_args__ = (
        UniqueConstraint("bom_id", "position"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("scrap_factor >= 0 AND scrap_factor < 1", name="scrap_factor_range"),
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint(
            "operation_seq IS NULL OR operation_seq >= 1", name="operation_seq_positive"
        ),
        Index("ix_bom_line_component_item_id", "component_item_id"),
    )


class BomGeneration(Base):
    """The one-row counter of BOM structure changes (migration 0108 keeps it current).

    Statement triggers on `item`, `bom` and `bom_line` set `value` to a new sequence value in the
    writing transaction; cached explosions are valid only under the value they were computed at.
    """

    __tablename__ = "bom_generation"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


bom_change = Table(
    "bom_change",
    Base.metadata,
    Column("generation", BigInteger, nullable=False),
    Column("item_id", Integer, nullable=True),  # NULL: every item
    Index("ix_bom_change_generation", "generation"),
)
"""The items whose explosion inputs each BOM generation changed (a BOM version's lines or
header, an item's code, name or unit); written by triggers (migration 0111), read by
core.bom.structures to keep or patch cached explosions."""
