"""Downtime API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.common.schemas import Code, Name, OrmModel, PatchModel
from core.downtime.models import DowntimeSource, LossCategory, ReasonKind

REASON_EXAMPLE: dict[str, Any] = {
    "code": "BRK-SPINDLE",
    "name": "Spindle failure",
    "kind": "reason",
    "parent_id": 2,
    "planned": False,
    "loss_category": "equipment_failure",
}
EVENT_EXAMPLE: dict[str, Any] = {
    "id": 31,
    "equipment_id": 6,
    "equipment_code": "CNC-101",
    "start_ts": "2026-12-01T03:12:00Z",
    "end_ts": "2026-12-01T03:40:00Z",
    "duration_seconds": 1680,
    "reason_id": 7,
    "reason_code": "BRK-SPINDLE",
    "reason_name": "Spindle failure",
    "loss_category": "equipment_failure",
    "planned": False,
    "source": "manual",
    "comment": "bearing noise",
    "created_at": "2026-12-01T03:12:05Z",
    "updated_at": "2026-12-01T03:41:00Z",
}


class _ReasonRules(BaseModel):
    @model_validator(mode="after")
    def _loss_rules(self) -> _ReasonRules:
        planned = getattr(self, "planned", None)
        loss = getattr(self, "loss_category", None)
        if planned and loss is not None:
            raise ValueError("a planned reason has no loss category (planned time excludes it)")
        return self


class ReasonCreate(_ReasonRules):
    """A new category or reason of the reason tree."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [REASON_EXAMPLE]})

    code: Code = Field(examples=["BRK-SPINDLE"])
    name: Name = Field(examples=["Spindle failure"])
    kind: ReasonKind = Field(description="categories group; events use reasons")
    parent_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="a category; none for a top category"
    )
    planned: bool = Field(default=False, description="planned stop (break, planned maintenance)")
    loss_category: LossCategory | None = Field(
        default=None, description="OEE six-big-losses category; required for unplanned reasons"
    )
    active: bool = True
    sort_order: int = Field(default=0, ge=0, le=100000)
    description: str | None = Field(default=None, max_length=2000)


class ReasonUpdate(PatchModel, _ReasonRules):
    """Fields to change; code and kind are permanent."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})
    nullable = frozenset({"parent_id", "loss_category", "description"})

    name: Name | None = None
    parent_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    planned: bool | None = None
    loss_category: LossCategory | None = None
    active: bool | None = None
    sort_order: int | None = Field(default=None, ge=0, le=100000)
    description: str | None = Field(default=None, max_length=2000)


class ReasonOut(OrmModel):
    """A node of the reason tree."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    **REASON_EXAMPLE,
                    "id": 7,
                    "active": True,
                    "sort_order": 0,
                    "description": None,
                    "created_at": "2026-11-01T08:00:00Z",
                    "updated_at": "2026-11-01T08:00:00Z",
                }
            ]
        },
    )

    id: int
    code: str
    name: str
    kind: ReasonKind
    parent_id: int | None
    planned: bool
    loss_category: LossCategory | None
    active: bool
    sort_order: int
    description: str | None
    created_at: datetime
    updated_at: datetime


class ReasonNode(BaseModel):
    """The reason tree, nested."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "code": "BREAKDOWN",
                    "name": "Breakdowns",
                    "kind": "category",
                    "planned": False,
                    "loss_category": "equipment_failure",
                    "active": True,
                    "children": [],
                }
            ]
        }
    )

    id: int
    code: str
    name: str
    kind: ReasonKind
    planned: bool
    loss_category: LossCategory | None
    active: bool
    children: list[ReasonNode] = Field(default_factory=list)


class EventCreate(BaseModel):
    """A stop of a piece of equipment: open (no end) or already over."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "equipment_id": 6,
                    "start_ts": "2026-12-01T03:12:00Z",
                    "reason_id": 7,
                    "comment": "bearing noise",
                }
            ]
        },
    )

    equipment_id: int = Field(ge=1, le=2**31 - 1, examples=[6])
    start_ts: datetime
    end_ts: datetime | None = None
    reason_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="assign later")
    planned: bool | None = Field(default=None, description="defaults to the reason's flag")
    source: DowntimeSource = DowntimeSource.MANUAL
    comment: str | None = Field(default=None, max_length=2000, examples=["bearing noise"])


class EventUpdate(PatchModel):
    """Corrections and reason assignment."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason_id": 7, "comment": "confirmed"}]}
    )
    nullable = frozenset({"end_ts", "reason_id", "comment"})

    start_ts: datetime | None = None
    end_ts: datetime | None = None
    reason_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    planned: bool | None = None
    comment: str | None = Field(default=None, max_length=2000)


class EventClose(BaseModel):
    """End an open event (now by default), optionally giving the reason."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"end_ts": "2026-12-01T03:40:00Z", "reason_id": 7}]},
    )

    end_ts: datetime | None = None
    reason_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    comment: str | None = Field(default=None, max_length=2000)


class EventOut(OrmModel):
    """A downtime event with its equipment and reason."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EVENT_EXAMPLE]})

    id: int
    equipment_id: int
    equipment_code: str
    start_ts: datetime
    end_ts: datetime | None
    duration_seconds: float | None = Field(description="null while the event is open")
    reason_id: int | None
    reason_code: str | None
    reason_name: str | None
    loss_category: LossCategory | None
    planned: bool
    source: DowntimeSource
    comment: str | None
    created_at: datetime
    updated_at: datetime
