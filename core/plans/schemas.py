"""Production plan API schemas."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.common.schemas import Code, Name, OrmModel, PatchModel, Quantity, detail_example
from core.plans.models import PlanStatus
from core.work_orders.schemas import WorkOrderOut

LINE_EXAMPLE: dict[str, Any] = {
    "item_id": 3,
    "line_id": 4,
    "quantity": "1200",
    "due_date": "2026-12-04",
}


PLAN_EXAMPLE: dict[str, Any] = {
    "id": 2,
    "code": "MPS-2026-W49",
    "name": "Week 49",
    "period_start": "2026-11-30",
    "period_end": "2026-12-06",
    "status": "released",
    "description": None,
    "created_at": "2026-11-25T10:00:00Z",
    "updated_at": "2026-11-27T08:00:00Z",
}


class PlanLineCreate(BaseModel):
    """A quantity of one item to make on one line within the period."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [LINE_EXAMPLE]})

    item_id: int = Field(ge=1, le=2**31 - 1, examples=[3])
    line_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="production line", examples=[4]
    )
    quantity: Quantity = Field(gt=0, examples=["1200"])
    due_date: date | None = Field(
        default=None, description="within the plan's period", examples=["2026-12-04"]
    )
    note: str | None = Field(default=None, max_length=2000)


class PlanLineUpdate(PatchModel):
    """Fields of a plan line to change (the quantity not below what was released)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"quantity": 1500}]})
    nullable = frozenset({"line_id", "due_date", "note"})

    line_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    quantity: Quantity | None = Field(default=None, gt=0)
    due_date: date | None = None
    note: str | None = Field(default=None, max_length=2000)


class PlanLineOut(OrmModel):
    """A plan line with what has been released into work orders."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    **LINE_EXAMPLE,
                    "id": 7,
                    "plan_id": 2,
                    "item_code": "SHAFT-A100",
                    "line_code": "L1",
                    "quantity": 1200,
                    "released_quantity": 600,
                    "note": None,
                }
            ]
        },
    )

    id: int
    plan_id: int
    item_id: int
    item_code: str
    line_id: int | None
    line_code: str | None
    quantity: Quantity
    released_quantity: Quantity
    due_date: date | None
    note: str | None


class _Period(BaseModel):
    @model_validator(mode="after")
    def _ordered(self) -> _Period:
        start = getattr(self, "period_start", None)
        end = getattr(self, "period_end", None)
        if start is not None and end is not None and end < start:
            raise ValueError("period_end must not be before period_start")
        return self


class PlanCreate(_Period):
    """A new draft plan for a period, with its lines."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "MPS-2026-W49",
                    "name": "Week 49",
                    "period_start": "2026-11-30",
                    "period_end": "2026-12-06",
                    "lines": [LINE_EXAMPLE],
                }
            ]
        },
    )

    code: Code = Field(examples=["MPS-2026-W49"])
    name: Name = Field(examples=["Week 49"])
    period_start: date = Field(examples=["2026-11-30"])
    period_end: date = Field(examples=["2026-12-06"])
    description: str | None = Field(default=None, max_length=2000)
    lines: list[PlanLineCreate] = Field(default_factory=list, max_length=2000)


class PlanUpdate(PatchModel, _Period):
    """Header fields to change (draft plans only)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "W49"}]})
    nullable = frozenset({"description"})

    name: Name | None = None
    period_start: date | None = None
    period_end: date | None = None
    description: str | None = Field(default=None, max_length=2000)


class PlanOut(OrmModel):
    """A production plan header."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [PLAN_EXAMPLE]},
    )

    id: int
    code: str
    name: str
    period_start: date
    period_end: date
    status: PlanStatus
    description: str | None
    created_at: datetime
    updated_at: datetime


class PlanDetail(PlanOut):
    """A plan with its lines."""

    model_config = detail_example(PlanOut, lines=PlanLineOut)

    lines: list[PlanLineOut]


class ReleaseRequest(BaseModel):
    """Which lines to turn into work orders, and how."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"batch_size": "500", "release_orders": True}]},
    )

    line_ids: list[int] | None = Field(
        default=None, max_length=2000, description="lines to release; all by default"
    )
    batch_size: Quantity | None = Field(
        default=None,
        gt=0,
        description="split each line into orders of at most this quantity",
        examples=["500"],
    )
    release_orders: bool = Field(
        default=False, description="also move the new orders from planned to released"
    )


class ReleaseOut(BaseModel):
    """The plan after release and the work orders it created."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"plan": {**PLAN_EXAMPLE, "lines": []}, "work_orders": []}]}
    )

    plan: PlanDetail
    work_orders: list[WorkOrderOut]


class MaterialRow(BaseModel):
    """Requirement of one item in a plan's material check."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": 12,
                    "item_code": "BAR-C45-30",
                    "item_name": "Steel bar C45 d30",
                    "unit": "m",
                    "level": 2,
                    "source": "buy",
                    "independent_demand": 0,
                    "dependent_demand": 306,
                    "on_hand": 250,
                    "open_orders": 0,
                    "net_requirement": 56,
                    "shortage": 56,
                }
            ]
        }
    )

    item_id: int
    item_code: str
    item_name: str
    unit: str
    level: int = Field(description="low-level code: 0 for plan items, deepest BOM level below")
    source: str = Field(description="make (the item has an effective BOM) or buy")
    independent_demand: Quantity = Field(description="remaining plan quantity of the item")
    dependent_demand: Quantity = Field(description="needed by the items above it")
    on_hand: Quantity = Field(description="usable stock")
    open_orders: Quantity = Field(description="still to come from open work orders (other plans)")
    net_requirement: Quantity = Field(
        description="independent demand + dependent demand not covered by on-hand and open orders"
    )
    shortage: Quantity = Field(description="net requirement of a bought item (0 for made items)")


class MaterialCheck(BaseModel):
    """MRP-lite for a plan: demand exploded level by level, netted against stock and orders."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"plan_id": 2, "at": "2026-12-01", "rows": [], "shortages": []}]
        }
    )

    plan_id: int
    at: date = Field(description="day whose effective BOM versions were used")
    rows: list[MaterialRow]
    shortages: list[MaterialRow] = Field(description="rows with a shortage, largest first")
