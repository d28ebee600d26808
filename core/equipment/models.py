"""Equipment hierarchy and ideal cycle times per item."""

from __future__ import annotations

import enum
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, TimestampMixin
from core.items.models import Item


class EquipmentLevel(enum.StrEnum):
    """ISA-95 role-based equipment levels, top down."""

    SITE = "site"
    AREA = "area"
    LINE = "line"
    CELL = "cell"
    MACHINE = "machine"


# Which level a parent must have for each level (a site has none).
PARENT_LEVELS: dict[EquipmentLevel, frozenset[EquipmentLevel]] = {
    EquipmentLevel.SITE: frozenset(),
    EquipmentLevel.AREA: frozenset({EquipmentLevel.SITE}),
    EquipmentLevel.LINE: frozenset({EquipmentLevel.AREA}),
    EquipmentLevel.CELL: frozenset({EquipmentLevel.LINE}),
    EquipmentLevel.MACHINE: frozenset({EquipmentLevel.LINE, EquipmentLevel.CELL}),
}


class EquipmentStatus(enum.StrEnum):
    """Administrative status (the live machine state comes from its `state` signal)."""

    IN_SERVICE = "in_service"
    MAINTENANCE = "maintenance"
    OUT_OF_SERVICE = "out_of_service"
    DECOMMISSIONED = "decommissioned"


class Equipment(TimestampMixin, Base):
    """A node of the plant hierarchy; its code binds telemetry signals (`signal.equipment_code`)."""

    __tablename__ = "equipment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))
    type: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default=EquipmentStatus.IN_SERVICE
    )
    capabilities: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), nullable=False, default=list, server_default=text("'{}'")
    )
    ideal_cycle_time_s: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    vendor: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    serial_number: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("level IN ('site', 'area', 'line', 'cell', 'machine')", name="level_known"),
        CheckConstraint(
            "status IN ('in_service', 'maintenance', 'out_of_service', 'decommissioned')",
            name="status_known",
        ),
        CheckConstraint("(level = 'site') = (parent_id IS NULL)", name="parent_unless_site"),
        CheckConstraint(
            "ideal_cycle_time_s IS NULL OR ideal_cycle_time_s > 0", name="cycle_time_positive"
        ),
        Index("ix_equipment_parent_id", "parent_id"),
        Index("ix_equipment_level", "level"),
        Index("ix_equipment_type", "type"),
        Index("ix_equipment_capabilities", "capabilities", postgresql_using="gin"),
        Index(
            "ix_equipment_code_trgm",
            "code",
            postgresql_using="gin",
            postgresql_ops={"code": "gin_trgm_ops"},
        ),
        Index(
            "ix_equipment_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )


class EquipmentCycleTime(TimestampMixin, Base):
    """The ideal (nameplate) cycle time of one item on one piece of equipment."""

    __tablename__ = "equipment_cycle_time"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    equipment_id: Mapped[int] = mapped_column(
        ForeignKey("equipment.id", ondelete="CASCADE"), nullable=False
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=False)
    ideal_cycle_time_s: Mapped[Decimal] = mapped_column(Numeric(12, 3), nullable=False)

    item: Mapped[Item] = relationship(lazy="raise")

    @property
    def item_code(self) -> str:
        """Code of the item (the relationship must be loaded)."""
        return self.item.code

    @property
    def item_name(self) -> str:
        """Name of the item (the relationship must be loaded)."""
        return self.item.name

    __table_args__ = (
        UniqueConstraint("equipment_id", "item_id"),
        CheckConstraint("ideal_cycle_time_s > 0", name="cycle_time_positive"),
        Index("ix_equipment_cycle_time_item_id", "item_id"),
    )
