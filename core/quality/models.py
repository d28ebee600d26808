"""Quality tables: inspection plans and characteristics, inspections and results,
non-conformances."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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

from core.db import Base, TimestampMixin


class CharacteristicKind(enum.StrEnum):
    """Measured value against limits, or a pass/fail check."""

    NUMERIC = "numeric"
    ATTRIBUTE = "attribute"


class InspectionStatus(enum.StrEnum):
    """Open until every sample of every characteristic is recorded, then the verdict."""

    OPEN = "open"
    PASSED = "passed"
    FAILED = "failed"


class Severity(enum.StrEnum):
    """How bad a non-conformance is."""

    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class Disposition(enum.StrEnum):
    """What is done with non-conforming material."""

    REWORK = "rework"
    SCRAP = "scrap"
    USE_AS_IS = "use_as_is"


class NcStatus(enum.StrEnum):
    """Life cycle of a non-conformance: open -> under_review -> closed."""

    OPEN = "open"
    UNDER_REVIEW = "under_review"
    CLOSED = "closed"


def _values(enum_cls: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{m.value}'" for m in enum_cls)


class InspectionPlan(TimestampMixin, Base):
    """What to check on an item (optionally at one routing operation)."""

    __tablename__ = "inspection_plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), nullable=False)
    operation_id: Mapped[int | None] = mapped_column(
        ForeignKey("routing_operation.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    description: Mapped[str | None] = mapped_column(Text)

    characteristics: Mapped[list[Characteristic]] = relationship(
        back_populates="plan",
        order_by="Characteristic.position, Characteristic.id",
        lazy="raise",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        Index("ix_inspection_plan_item_id", "item_id"),
        Index("ix_inspection_plan_operation_id", "operation_id"),
        Index(
            "ix_inspection_plan_code_trgm",
            "code",
            postgresql_using="gin",
            postgresql_ops={"code": "gin_trgm_ops"},
        ),
        Index(
            "ix_inspection_plan_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )


class Characteristic(TimestampMixin, Base):
    """One thing checked: a numeric value with spec limits, or an attribute (pass/fail)."""

    __tablename__ = "inspection_characteristic"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("inspection_plan.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unit: Mapped[str | None] = mapped_column(String(16))
    lsl: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    usl: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    target: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    sample_size: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    plan: Mapped[InspectionPlan] = relationship(back_populates="characteristics", lazy="raise")

    __table_args__ = (
        UniqueConstraint("plan_id", "code"),
        CheckConstraint(f"kind IN ({_values(CharacteristicKind)})", name="kind_known"),
        CheckConstraint("sample_size BETWEEN 1 AND 100", name="sample_size_range"),
        CheckConstraint(
            "kind <> 'numeric' OR (lsl IS NOT NULL OR usl IS NOT NULL)",
            name="numeric_has_a_limit",
        ),
        CheckConstraint("lsl IS NULL OR usl IS NULL OR lsl < usl", name="limits_ordered"),
        CheckConstraint(
            "target IS NULL OR ((lsl IS NULL OR target >= lsl) AND (usl IS NULL OR target <= usl))",
            name="target_within_limits",
        ),
        CheckConstraint(
            "kind <> 'attribute' OR (lsl IS NULL AND usl IS NULL AND target IS NULL)",
            name="attribute_has_no_limits",
        ),
    )


class Inspection(TimestampMixin, Base):
    """An inspection of a work order's output and/or a lot, following one plan."""

    __tablename__ = "inspection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("inspection_plan.id"), nullable=False)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=InspectionStatus.OPEN)
    inspector: Mapped[str] = mapped_column(String(200), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"status IN ({_values(InspectionStatus)})", name="status_known"),
        CheckConstraint(
            "work_order_id IS NOT NULL OR lot_id IS NOT NULL", name="has_work_order_or_lot"
        ),
        CheckConstraint(
            "(status = 'open') = (completed_at IS NULL)", name="completed_when_decided"
        ),
        Index("ix_inspection_plan_id", "plan_id"),
        Index("ix_inspection_work_order_id", "work_order_id"),
        Index("ix_inspection_lot_id", "lot_id"),
        Index("ix_inspection_status", "status"),
    )


class InspectionResult(Base):
    """One sample's result for one characteristic; `passed` is decided when recorded."""

    __tablename__ = "inspection_result"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspection.id", ondelete="CASCADE"), nullable=False
    )
    characteristic_id: Mapped[int] = mapped_column(
        ForeignKey("inspection_characteristic.id"), nullable=False
    )
    sample_no: Mapped[int] = mapped_column(Integer, nullable=False)
    value: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    passed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    measured_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    recorded_by: Mapped[str] = mapped_column(String(200), nullable=False)
    notes: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("inspection_id", "characteristic_id", "sample_no"),
        CheckConstraint("sample_no >= 1", name="sample_no_positive"),
        Index(
            "ix_inspection_result_characteristic_id_measured_at", "characteristic_id", "measured_at"
        ),
    )


class NonConformance(TimestampMixin, Base):
    """A recorded non-conformance, its disposition and its review."""

    __tablename__ = "non_conformance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=NcStatus.OPEN)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id"))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    disposition: Mapped[str | None] = mapped_column(String(20))
    disposition_note: Mapped[str | None] = mapped_column(Text)
    reported_by: Mapped[str] = mapped_column(String(200), nullable=False)
    review_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint(f"severity IN ({_values(Severity)})", name="severity_known"),
        CheckConstraint(f"status IN ({_values(NcStatus)})", name="status_known"),
        CheckConstraint(
            f"disposition IS NULL OR disposition IN ({_values(Disposition)})",
            name="disposition_known",
        ),
        CheckConstraint(
            "inspection_id IS NOT NULL OR lot_id IS NOT NULL OR work_order_id IS NOT NULL",
            name="has_source",
        ),
        CheckConstraint(
            "status <> 'closed' OR (disposition IS NOT NULL AND closed_at IS NOT NULL)",
            name="closed_has_disposition",
        ),
        CheckConstraint("quantity IS NULL OR quantity > 0", name="quantity_positive"),
        Index("ix_non_conformance_status", "status"),
        Index("ix_non_conformance_lot_id", "lot_id"),
        Index("ix_non_conformance_work_order_id", "work_order_id"),
        Index("ix_non_conformance_inspection_id", "inspection_id"),
        Index(
            "ix_non_conformance_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
    )
