"""Bookkeeping of the live path: hours to recompute and the latest published snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class LiveDirty(Base):
    """An hour whose derived data (states, counts, downtime, OEE) must be recomputed, for one
    piece of equipment or all (null). Written by any process, consumed by the engine leader."""

    __tablename__ = "live_dirty"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id", ondelete="CASCADE"))
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (Index("ix_live_dirty_equipment_id", "equipment_id"),)


class LiveSnapshot(Base):
    """The newest data published for a key (`kpi/<scope>/<code>`, `line/<code>`), read by every
    process to answer subscriptions with a snapshot."""

    __tablename__ = "live_snapshot"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
