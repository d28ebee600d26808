"""Work orders, their operations, state transitions and quantity reports."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
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
from core.equipment.models import Equipment
from core.items.models import Item


class WorkOrderStatus(enum.StrEnum):
    """planned -> released -> in_progress <-> paused -> completed; cancelled before work ends."""

    PLANNED = "planned"
    RELEASED = "released"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class WorkOrderAction(enum.StrEnum):
    """The named edges of the state machine."""

    RELEASE = "release"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    COMPLETE = "complete"
    CANCEL = "cancel"


S = WorkOrderStatus
A = WorkOrderAction
EDGES: dict[WorkOrderAction, tuple[frozenset[WorkOrderStatus], WorkOrderStatus]] = {
    A.RELEASE: (frozenset({S.PLANNED}), S.RELEASED),
    A.START: (frozenset({S.RELEASED}), S.IN_PROGRESS),
    A.PAUSE: (frozenset({S.IN_PROGRESS}), S.PAUSED),
    A.RESUME: (frozenset({S.PAUSED}), S.IN_PROGRESS),
    A.COMPLETE: (frozenset({S.IN_PROGRESS, S.PAUSED}), S.COMPLETED),
    A.CANCEL: (frozenset({S.PLANNED, S.RELEASED, S.PAUSED}), S.CANCELLED),
}
"""Action -> (states it may start from, resulting state)."""
OPEN_STATUSES = frozenset({S.PLANNED, S.RELEASED, S.IN_PROGRESS, S.PAUSED})
REPORTABLE_STATUSES = frozenset({S.IN_PROGRESS, S.PAUSED})


class OperationStatus(enum.StrEnum):
    """Progress of one operation of a work order."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class ReportSource(enum.StrEnum):
    """Who reported quantities: an operator, or machine counters."""

    MANUAL = "manual"
    AUTO = "auto"


class WorkOrder(TimestampMixin, Base):
    """An order to make a quantity of one item."""

    __tablename__ = "work_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=S.PLANNED)
    plan_line_id: Mapped[int | None] = mapped_column(ForeignKey("production_plan_line.id"))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=500)
    due_date: Mapped[date | None] = mapped_column(Date)
    planned_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    planned_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actual_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actual_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    good_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, default=0)
    scrap_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, default=0)
    lot_code: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    item: Mapped[Item] = relationship(lazy="raise")
    line: Mapped[Equipment | None] = relationship(foreign_keys=[line_id], lazy="raise")
    equipment: Mapped[Equipment | None] = relationship(foreign_keys=[equipment_id], lazy="raise")
    operations: Mapped[list[WorkOrderOperation]] = relationship(
        back_populates="work_order",
        cascade="all, delete-orphan",
        order_by="WorkOrderOperation.sequence",
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

    @property
    def unit(self) -> str:
        """Unit of the item (the relationship must be loaded)."""
        return self.item.unit

    @property
    def line_code(self) -> str | None:
        """Code of the production line (the relationship must be loaded)."""
        return self.line.code if self.line is not None else None

    @property
    def equipment_code(self) -> str | None:
        """Code of the dispatched equipment (the relationship must be loaded)."""
        return self.equipment.code if self.equipment is not None else None

    __table_args__ = (
        CheckConstraint(
            "status IN ('planned', 'released', 'in_progress', 'paused', 'completed', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("good_quantity >= 0", name="good_non_negative"),
        CheckConstraint("scrap_quantity >= 0", name="scrap_non_negative"),
        CheckConstraint("priority BETWEEN 1 AND 1000", name="priority_range"),
        CheckConstraint(
            "planned_end IS NULL OR planned_start IS NULL OR planned_end >= planned_start",
            name="planned_ordered",
        ),
        CheckConstraint(
            "actual_end IS NULL OR actual_start IS NULL OR actual_end >= actual_start",
            name="actual_ordered",
        ),
        Index("ix_work_order_status", "status"),
        Index("ix_work_order_item_id", "item_id"),
        Index("ix_work_order_line_id", "line_id"),
        Index("ix_work_order_equipment_id", "equipment_id"),
        Index("ix_work_order_plan_line_id", "plan_line_id"),
        Index("ix_work_order_due_date", "due_date"),
        Index(
            "ix_work_order_code_trgm",
            "code",
            postgresql_using="gin",
            postgresql_ops={"code": "gin_trgm_ops"},
        ),
        search_text_column(),
        search_text_index("work_order", "status"),
    )
    __mapper_args__ = UNMAPPED  # search_text: kept by triggers, read by the list only


class WorkOrderOperation(TimestampMixin, Base):
    """A work order's copy of a routing operation, with its own progress and quantities."""

    __tablename__ = "work_order_operation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False
    )
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    work_center_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    equipment_type: Mapped[str | None] = mapped_column(String(64))
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    setup_time_s: Mapped[Decimal] = mapped_column(Numeric(12, 3), nullable=False, default=0)
    ideal_cycle_time_s: Mapped[Decimal] = mapped_column(Numeric(12, 3), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=OperationStatus.PENDING)
    good_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, default=0)
    scrap_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, default=0)
    actual_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actual_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    work_order: Mapped[WorkOrder] = relationship(back_populates="operations", lazy="raise")
    equipment: Mapped[Equipment | None] = relationship(foreign_keys=[equipment_id], lazy="raise")

    @property
    def equipment_code(self) -> str | None:
        """Code of the dispatched equipment (the relationship must be loaded)."""
        return self.equipment.code if self.equipment is not None else None

    __table_args__ = (
        UniqueConstraint("work_order_id", "sequence"),
        CheckConstraint("status IN ('pending', 'in_progress', 'done')", name="status_known"),
        CheckConstraint("good_quantity >= 0", name="good_non_negative"),
        CheckConstraint("scrap_quantity >= 0", name="scrap_non_negative"),
        Index("ix_work_order_operation_equipment_id", "equipment_id"),
    )


class WorkOrderTransition(Base):
    """One state change of a work order: from, to, when and by whom."""

    __tablename__ = "work_order_transition"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), nullable=False
    )
    user_id: Mapped[str] = mapped_column(String(100), nullable=False)
    username: Mapped[str] = mapped_column(String(200), nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_work_order_transition_work_order_id", "work_order_id", "id"),)


class WorkOrderReport(Base):
    """Good and scrap quantities reported against a work order operation at a time."""

    __tablename__ = "work_order_report"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False
    )
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("work_order_operation.id"))
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    good_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    scrap_quantity: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False)
    scrap_reason: Mapped[str | None] = mapped_column(String(200))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False, default=ReportSource.MANUAL)
    user_id: Mapped[str] = mapped_column(String(100), nullable=False)
    username: Mapped[str] = mapped_column(String(200), nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("good_quantity >= 0", name="good_non_negative"),
        CheckConstraint("scrap_quantity >= 0", name="scrap_non_negative"),
        CheckConstraint("good_quantity + scrap_quantity > 0", name="something_reported"),
        CheckConstraint("source IN ('manual', 'auto')", name="source_known"),
        Index("ix_work_order_report_work_order_id", "work_order_id"),
        Index("ix_work_order_report_reported_at", "reported_at"),
        Index("ix_work_order_report_equipment_id", "equipment_id", "reported_at"),
    )
