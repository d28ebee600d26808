"""Downtime reason codes (a tree of categories and reasons) and downtime events."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin
from core.equipment.models import Equipment


class ReasonKind(enum.StrEnum):
    """Categories group reasons; events are booked on reasons."""

    CATEGORY = "category"
    REASON = "reason"


class LossCategory(enum.StrEnum):
    """The six big losses of OEE."""

    EQUIPMENT_FAILURE = "equipment_failure"
    SETUP_ADJUSTMENT = "setup_adjustment"
    IDLING_MINOR_STOPS = "idling_minor_stops"
    REDUCED_SPEED = "reduced_speed"
    PROCESS_DEFECTS = "process_defects"
    REDUCED_YIELD = "reduced_yield"


class DowntimeSource(enum.StrEnum):
    """Who opened the event: an operator, or the machine-state engine."""

    MANUAL = "manual"
    AUTO = "auto"


class DowntimeReason(TimestampMixin, Base):
    """A node of the reason tree. Unplanned reasons name their OEE loss category; planned ones
    (breaks, planned maintenance) have none: planned time excludes them."""

    __tablename__ = "downtime_reason"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("downtime_reason.id"))
    planned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    loss_category: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    description: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("kind IN ('category', 'reason')", name="kind_known"),
        CheckConstraint(
            "loss_category IS NULL OR loss_category IN ('equipment_failure', 'setup_adjustment',"
            " 'idling_minor_stops', 'reduced_speed', 'process_defects', 'reduced_yield')",
            name="loss_category_known",
        ),
        CheckConstraint(
            "kind = 'category' OR planned OR loss_category IS NOT NULL",
            name="loss_category_when_unplanned",
        ),
        CheckConstraint("NOT planned OR loss_category IS NULL", name="no_loss_when_planned"),
        Index("ix_downtime_reason_parent_id", "parent_id"),
    )


class DowntimeEvent(TimestampMixin, Base):
    """A stop of one piece of equipment; open while `end_ts` is null. Events of one equipment
    never overlap (exclusion constraint)."""

    __tablename__ = "downtime_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), nullable=False)
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    end_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason_id: Mapped[int | None] = mapped_column(ForeignKey("downtime_reason.id"))
    planned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False, default=DowntimeSource.MANUAL)
    comment: Mapped[str | None] = mapped_column(Text)

    reason: Mapped[DowntimeReason | None] = relationship(lazy="raise")
    equipment: Mapped[Equipment] = relationship(lazy="raise")

    @property
    def equipment_code(self) -> str:
        """Code of the equipment (the relationship must be loaded)."""
        return self.equipment.code

    @property
    def reason_code(self) -> str | None:
        """Code of the reason (the relationship must be loaded)."""
        return self.reason.code if self.reason is not None else None

    @property
    def reason_name(self) -> str | None:
        """Name of the reason (the relationship must be loaded)."""
        return self.reason.name if self.reason is not None else None

    @property
    def loss_category(self) -> str | None:
        """OEE loss category of the reason (the relationship must be loaded)."""
        return self.reason.loss_category if self.reason is not None else None

    @property
    def duration_seconds(self) -> float | None:
        """Length of a closed event."""
        return (self.end_ts - self.start_ts).total_seconds() if self.end_ts else None

    __table_args__ = (
        CheckConstraint("source IN ('manual', 'auto')", name="source_known"),
        CheckConstraint("end_ts IS NULL OR end_ts > start_ts", name="end_after_start"),
        ExcludeConstraint(
            ("equipment_id", "="),
            (func.tstzrange(start_ts, end_ts, "[)"), "&&"),  # type: ignore[arg-type]
            name="ex_downtime_event_no_overlap",
            using="gist",
        ),
        Index("ix_downtime_event_equipment_id_start_ts", "equipment_id", "start_ts"),
        Index("ix_downtime_event_start_ts", "start_ts"),
        Index("ix_downtime_event_reason_id", "reason_id"),
    )
