"""Production plans and their lines."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin
from core.equipment.models import Equipment
from core.items.models import Item


class PlanStatus(enum.StrEnum):
    """Drafts are edited; released plans have work orders; closed and cancelled are final."""

    DRAFT = "draft"
    RELEASED = "released"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class ProductionPlan(TimestampMixin, Base):
    """What to make in a period (a week, a month), line by line."""

    __tablename__ = "production_plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=PlanStatus.DRAFT)
    description: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list[ProductionPlanLine]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        order_by="ProductionPlanLine.id",
        lazy="raise",
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'released', 'closed', 'cancelled')", name="status_known"
        ),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        Index("ix_production_plan_period_start", "period_start"),
    )


class ProductionPlanLine(TimestampMixin, Base):
    """A quantity of one item to make on one production line within the plan's period."""

    __tablename__ = "production_plan_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("production_plan.id", ondelete="CASCADE"), nullable=False
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=False)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    released_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, default=0)
    due_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)

    plan: Mapped[ProductionPlan] = relationship(back_populates="lines", lazy="raise")
    item: Mapped[Item] = relationship(lazy="raise")
    line: Mapped[Equipment | None] = relationship(lazy="raise")

    @property
    def item_code(self) -> str:
        """Code of the item (the relationship must be loaded)."""
        return self.item.code

    @property
    def line_code(self) -> str | None:
        """Code of the production line (the relationship must be loaded)."""
        return self.line.code if self.line is not None else None

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("released_quantity >= 0", name="released_non_negative"),
        Index("ix_production_plan_line_plan_id", "plan_id"),
        Index("ix_production_plan_line_item_id", "item_id"),
    )
