"""Shift patterns, shifts, breaks, non-working periods and their assignment to equipment."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.calendar.timeline import length_minutes
from core.db import Base, TimestampMixin
from core.equipment.models import Equipment


class ShiftPattern(TimestampMixin, Base):
    """A weekly shift model (e.g. three shifts Monday to Friday) in a local time zone."""

    __tablename__ = "shift_pattern"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    description: Mapped[str | None] = mapped_column(Text)

    shifts: Mapped[list[Shift]] = relationship(
        back_populates="pattern",
        cascade="all, delete-orphan",
        order_by="Shift.start_time",
        lazy="raise",
    )
    non_working: Mapped[list[NonWorkingPeriod]] = relationship(
        cascade="all, delete-orphan", order_by="NonWorkingPeriod.start_ts", lazy="raise"
    )


class Shift(TimestampMixin, Base):
    """A shift of a pattern: local start and end time, and the weekdays it starts on. An end at
    or before the start means the shift ends the next day."""

    __tablename__ = "shift"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern_id: Mapped[int] = mapped_column(
        ForeignKey("shift_pattern.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    start_time: Mapped[time] = mapped_column(Time, nullable=False)
    end_time: Mapped[time] = mapped_column(Time, nullable=False)
    days: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), nullable=False)

    pattern: Mapped[ShiftPattern] = relationship(back_populates="shifts", lazy="raise")
    breaks: Mapped[list[ShiftBreak]] = relationship(
        cascade="all, delete-orphan", order_by="ShiftBreak.start_time", lazy="raise"
    )

    @property
    def planned_minutes(self) -> int:
        """Length minus breaks (the breaks must be loaded)."""
        return length_minutes(self.start_time, self.end_time) - sum(
            length_minutes(b.start_time, b.end_time) for b in self.breaks
        )

    __table_args__ = (
        UniqueConstraint("pattern_id", "code"),
        CheckConstraint("cardinality(days) BETWEEN 1 AND 7", name="days_given"),
        CheckConstraint("days <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]", name="days_iso"),
    )


class ShiftBreak(Base):
    """A planned break inside a shift (local times)."""

    __tablename__ = "shift_break"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shift_id: Mapped[int] = mapped_column(
        ForeignKey("shift.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    start_time: Mapped[time] = mapped_column(Time, nullable=False)
    end_time: Mapped[time] = mapped_column(Time, nullable=False)

    __table_args__ = (
        CheckConstraint("start_time <> end_time", name="not_empty"),
        Index("ix_shift_break_shift_id", "shift_id"),
    )


class NonWorkingPeriod(Base):
    """A time the pattern does not work (holiday, shutdown): no planned time inside it."""

    __tablename__ = "non_working_period"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pattern_id: Mapped[int] = mapped_column(
        ForeignKey("shift_pattern.id", ondelete="CASCADE"), nullable=False
    )
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    end_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)

    __table_args__ = (
        CheckConstraint("end_ts > start_ts", name="end_after_start"),
        Index("ix_non_working_period_pattern_id", "pattern_id", "start_ts"),
    )


class CalendarAssignment(TimestampMixin, Base):
    """A pattern applies to a piece of equipment and everything below it, on the days in
    [valid_from, valid_to); the nearest assignment up the hierarchy wins. Ranges of one piece
    of equipment never overlap."""

    __tablename__ = "calendar_assignment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), nullable=False)
    pattern_id: Mapped[int] = mapped_column(ForeignKey("shift_pattern.id"), nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[date | None] = mapped_column(Date)

    equipment: Mapped[Equipment] = relationship(lazy="raise")
    pattern: Mapped[ShiftPattern] = relationship(lazy="raise")

    @property
    def equipment_code(self) -> str:
        """Code of the equipment (the relationship must be loaded)."""
        return self.equipment.code

    @property
    def pattern_code(self) -> str:
        """Code of the pattern (the relationship must be loaded)."""
        return self.pattern.code

    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="range_ordered"),
        ExcludeConstraint(
            ("equipment_id", "="),
            (func.daterange(valid_from, valid_to, "[)"), "&&"),  # type: ignore[arg-type]
            name="ex_calendar_assignment_no_overlap",
            using="gist",
        ),
        Index("ix_calendar_assignment_pattern_id", "pattern_id"),
    )
