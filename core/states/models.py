"""Machine states derived from signals: per-equipment configuration, the state timeline, the
current status, reason rules for automatic downtime and the link to the events it created."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TimestampMixin

STOP_CLASSES = (
    "idle",
    "setup",
    "blocked",
    "starved",
    "breakdown",
    "planned_maintenance",
)
_STOP_CLASS_SQL = ", ".join(f"'{c}'" for c in STOP_CLASSES)


class EquipmentStateConfig(TimestampMixin, Base):
    """How the state of one piece of equipment is derived; equipment without a row uses the
    defaults (its `state`, `good_count`, `scrap_count` and `alarm_code` signals)."""

    __tablename__ = "equipment_state_config"

    equipment_id: Mapped[int] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(String(16), nullable=False, default="signal")
    state_signal: Mapped[str | None] = mapped_column(String(200))
    good_signal: Mapped[str | None] = mapped_column(String(200))
    scrap_signal: Mapped[str | None] = mapped_column(String(200))
    alarm_signal: Mapped[str | None] = mapped_column(String(200))
    rules: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    default_state: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0)
    maintenance: Mapped[str] = mapped_column(String(16), nullable=False, default="auto")
    micro_stop_s: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    startup_s: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))

    __table_args__ = (
        CheckConstraint("mode IN ('signal', 'rules')", name="mode_known"),
        CheckConstraint(
            "maintenance IN ('auto', 'planned', 'unplanned')", name="maintenance_known"
        ),
        CheckConstraint("default_state BETWEEN 0 AND 6", name="default_state_known"),
        CheckConstraint("micro_stop_s IS NULL OR micro_stop_s >= 0", name="micro_stop_positive"),
        CheckConstraint("startup_s IS NULL OR startup_s >= 0", name="startup_positive"),
    )


class EquipmentStateInterval(Base):
    """A stretch of one state, split at UTC hour boundaries (each hour is recomputed alone).
    `state` -1 is unknown (Bad quality); `planned` marks planned maintenance."""

    __tablename__ = "equipment_state_interval"

    equipment_id: Mapped[int] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), primary_key=True
    )
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    end_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    state: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    planned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    __table_args__ = (
        CheckConstraint("end_ts > start_ts", name="end_after_start"),
        CheckConstraint("state BETWEEN -1 AND 6", name="state_known"),
    )


class EquipmentStatus(Base):
    """The current live status of one piece of equipment, kept by the derivation engine."""

    __tablename__ = "equipment_status"

    equipment_id: Mapped[int] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[int | None] = mapped_column(SmallInteger)
    planned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    data_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    downtime_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("downtime_event.id", ondelete="SET NULL")
    )
    work_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_order.id", ondelete="SET NULL")
    )
    operation_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_order_operation.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (Index("ix_equipment_status_state", "state"),)


class DowntimeRule(TimestampMixin, Base):
    """Assigns a reason to automatic downtime of a stop class (and alarm code), for one piece
    of equipment or for all (equipment_id null); operators' own choices always win."""

    __tablename__ = "downtime_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id", ondelete="CASCADE"))
    stop_class: Mapped[str] = mapped_column(String(24), nullable=False)
    alarm_code: Mapped[int | None] = mapped_column(Integer)
    reason_id: Mapped[int] = mapped_column(ForeignKey("downtime_reason.id"), nullable=False)

    __table_args__ = (
        CheckConstraint(f"stop_class IN ({_STOP_CLASS_SQL})", name="stop_class_known"),
        Index("ix_downtime_rule_equipment_id", "equipment_id"),
        Index("ix_downtime_rule_reason_id", "reason_id"),
    )


class AutoDowntime(Base):
    """Marks a downtime event as created by the engine, with the stop class it came from and
    the reason a rule gave it (an operator's different reason is never overwritten)."""

    __tablename__ = "auto_downtime"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("downtime_event.id", ondelete="CASCADE"), primary_key=True
    )
    equipment_id: Mapped[int] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), nullable=False
    )
    stop_class: Mapped[str] = mapped_column(String(24), nullable=False)
    rule_reason_id: Mapped[int | None] = mapped_column(
        ForeignKey("downtime_reason.id", ondelete="SET NULL")
    )

    __table_args__ = (
        CheckConstraint(f"stop_class IN ({_STOP_CLASS_SQL})", name="stop_class_known"),
        Index("ix_auto_downtime_equipment_id", "equipment_id"),
        Index("ix_auto_downtime_rule_reason_id", "rule_reason_id"),
    )
