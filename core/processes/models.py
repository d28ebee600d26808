"""Routings and routing operations."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin
from core.equipment.models import Equipment
from core.items.models import Item


class Routing(TimestampMixin, Base):
    """How an item is made: its operations in sequence (one routing per item)."""

    __tablename__ = "routing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    description: Mapped[str | None] = mapped_column(Text)

    item: Mapped[Item] = relationship(lazy="raise")
    operations: Mapped[list[RoutingOperation]] = relationship(
        back_populates="routing",
        cascade="all, delete-orphan",
        order_by="RoutingOperation.sequence",
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


class RoutingOperation(TimestampMixin, Base):
    """One step of a routing: where it runs (a work center and/or an equipment type), its setup
    time and its ideal cycle time per piece."""

    __tablename__ = "routing_operation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    routing_id: Mapped[int] = mapped_column(
        ForeignKey("routing.id", ondelete="CASCADE"), nullable=False
    )
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    work_center_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    equipment_type: Mapped[str | None] = mapped_column(String(64))
    setup_time_s: Mapped[Decimal] = mapped_column(Numeric(12, 3), nullable=False, default=0)
    ideal_cycle_time_s: Mapped[Decimal] = mapped_column(Numeric(12, 3), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)

    routing: Mapped[Routing] = relationship(back_populates="operations", lazy="raise")
    work_center: Mapped[Equipment | None] = relationship(lazy="raise")

    @property
    def work_center_code(self) -> str | None:
        """Code of the work center (the relationship must be loaded)."""
        return self.work_center.code if self.work_center is not None else None

    __table_args__ = (
        UniqueConstraint("routing_id", "sequence"),
        CheckConstraint("sequence >= 1", name="sequence_positive"),
        CheckConstraint("setup_time_s >= 0", name="setup_time_non_negative"),
        CheckConstraint("ideal_cycle_time_s > 0", name="cycle_time_positive"),
        CheckConstraint(
            "work_center_id IS NOT NULL OR equipment_type IS NOT NULL", name="where_it_runs"
        ),
        Index("ix_routing_operation_work_center_id", "work_center_id"),
    )
