"""OEE facts per equipment and UTC hour, kept by the derivation engine (additive: any window
of whole hours is the sum of its rows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Double, ForeignKey, Index, Integer, func
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class OeeHour(Base):
    """Seconds and counts of one equipment-hour (see core.oee.calc.OeeFacts)."""

    __tablename__ = "oee_hour"

    equipment_id: Mapped[int] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    calendar_s: Mapped[float] = mapped_column(Double, nullable=False)
    planned_stop_s: Mapped[float] = mapped_column(Double, nullable=False)
    no_data_s: Mapped[float] = mapped_column(Double, nullable=False)
    run_s: Mapped[float] = mapped_column(Double, nullable=False)
    micro_stop_s: Mapped[float] = mapped_column(Double, nullable=False)
    micro_stops: Mapped[int] = mapped_column(Integer, nullable=False)
    stops: Mapped[int] = mapped_column(Integer, nullable=False)
    stop_equipment_failure_s: Mapped[float] = mapped_column(Double, nullable=False)
    stop_setup_adjustment_s: Mapped[float] = mapped_column(Double, nullable=False)
    stop_idling_minor_stops_s: Mapped[float] = mapped_column(Double, nullable=False)
    stop_reduced_speed_s: Mapped[float] = mapped_column(Double, nullable=False)
    stop_process_defects_s: Mapped[float] = mapped_column(Double, nullable=False)
    stop_reduced_yield_s: Mapped[float] = mapped_column(Double, nullable=False)
    good: Mapped[int] = mapped_column(Integer, nullable=False)
    scrap: Mapped[int] = mapped_column(Integer, nullable=False)
    startup_scrap: Mapped[int] = mapped_column(Integer, nullable=False)
    ideal_s: Mapped[float] = mapped_column(Double, nullable=False)
    ideal_good_s: Mapped[float] = mapped_column(Double, nullable=False)
    ideal_startup_scrap_s: Mapped[float] = mapped_column(Double, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (Index("ix_oee_hour_hour", "hour"),)
