"""Which work order runs on which equipment when, and the parts machine counters counted."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class WorkOrderRun(Base):
    """A stretch of time a work order (operation) is in progress or paused on one piece of
    equipment, derived from its transitions and dispatches; open while `end_ts` is null.
    Readings and counted parts are attributed by these intervals."""

    __tablename__ = "work_order_run"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_order.id", ondelete="CASCADE"), nullable=False
    )
    operation_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_order_operation.id", ondelete="CASCADE")
    )
    equipment_id: Mapped[int] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), nullable=False
    )
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    end_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("end_ts IS NULL OR end_ts > start_ts", name="end_after_start"),
        Index("ix_work_order_run_equipment_id_start_ts", "equipment_id", "start_ts"),
        Index("ix_work_order_run_work_order_id", "work_order_id"),
        Index("ix_work_order_run_operation_id", "operation_id"),
    )


class ProductionCount(Base):
    """Parts counted by one machine's counters in one minute, for one work order (operation)
    or none; `ideal_cycle_s` is the ideal time per part that applied."""

    __tablename__ = "production_count"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    equipment_id: Mapped[int] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), nullable=False
    )
    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_order.id", ondelete="CASCADE")
    )
    operation_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_order_operation.id", ondelete="CASCADE")
    )
    good: Mapped[int] = mapped_column(Integer, nullable=False)
    scrap: Mapped[int] = mapped_column(Integer, nullable=False)
    ideal_cycle_s: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))

    __table_args__ = (
        CheckConstraint("good >= 0 AND scrap >= 0", name="counts_non_negative"),
        Index("ix_production_count_equipment_id_minute", "equipment_id", "minute"),
        Index("ix_production_count_work_order_id", "work_order_id"),
        Index("ix_production_count_operation_id", "operation_id"),
    )
