"""Quality API schemas."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator
from pydantic.config import JsonDict

from core.common.schemas import Code, Name, OrmModel, PatchModel, Quantity
from core.quality.models import (
    CharacteristicKind,
    Disposition,
    InspectionStatus,
    NcStatus,
    Severity,
)


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


Measure = Annotated[
    Decimal,
    Field(max_digits=18, decimal_places=6),
    PlainSerializer(_number, return_type=float, when_used="json"),
]
"""A measured value or limit: exact Decimal inside, a JSON number outside; may be negative."""

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Text = Annotated[str, Field(max_length=2000)]


def check_limits(
    kind: CharacteristicKind,
    lsl: Decimal | None,
    usl: Decimal | None,
    target: Decimal | None,
) -> str | None:
    """Why these limits do not fit the kind, or None when they do.

    >>> check_limits(CharacteristicKind.NUMERIC, Decimal(2), Decimal(1), None)
    'lsl must be below usl'
    >>> check_limits(CharacteristicKind.ATTRIBUTE, None, None, None) is None
    True
    """
    if kind == CharacteristicKind.ATTRIBUTE:
        if lsl is not None or usl is not None or target is not None:
            return "an attribute characteristic has no lsl, usl or target"
        return None
    if lsl is None and usl is None:
        return "a numeric characteristic needs lsl, usl or both"
    if lsl is not None and usl is not None and not lsl < usl:
        return "lsl must be below usl"
    if target is not None and (
        (lsl is not None and target < lsl) or (usl is not None and target > usl)
    ):
        return "target must lie within the limits"
    return None


# --- plans and characteristics -------------------------------------------------------------


class CharacteristicBase(BaseModel):
    """Fields shared by create and read."""

    name: Name = Field(examples=["Outer diameter"])
    kind: CharacteristicKind = Field(examples=[CharacteristicKind.NUMERIC])
    position: int = Field(default=0, ge=0, le=10_000, description="order within the plan")
    unit: str | None = Field(default=None, min_length=1, max_length=16, examples=["mm"])
    lsl: Measure | None = Field(default=None, description="lower specification limit")
    usl: Measure | None = Field(default=None, description="upper specification limit")
    target: Measure | None = None
    sample_size: int = Field(
        default=1, ge=1, le=100, description="samples per inspection (2-10 for X-bar/R charts)"
    )


class CharacteristicCreate(CharacteristicBase):
    """A characteristic to check."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "OD",
                    "name": "Outer diameter",
                    "kind": "numeric",
                    "unit": "mm",
                    "lsl": 19.95,
                    "usl": 20.05,
                    "target": 20.0,
                    "sample_size": 5,
                }
            ]
        },
    )

    code: Code = Field(examples=["OD"])

    @model_validator(mode="after")
    def _limits_fit_kind(self) -> CharacteristicCreate:
        problem = check_limits(self.kind, self.lsl, self.usl, self.target)
        if problem:
            raise ValueError(problem)
        return self


class CharacteristicUpdate(PatchModel):
    """Fields to change; code and kind are permanent."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"usl": 20.04}]})
    nullable = frozenset({"unit", "lsl", "usl", "target"})

    name: Name | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)
    unit: str | None = Field(default=None, min_length=1, max_length=16)
    lsl: Measure | None = None
    usl: Measure | None = None
    target: Measure | None = None
    sample_size: int | None = Field(default=None, ge=1, le=100)


# examples: plan QP-SHAFT-FINAL of SHAFT-20 with two characteristics
_CHARACTERISTIC_OD: JsonDict = {
    "id": 1,
    "plan_id": 1,
    "code": "OD",
    "name": "Outer diameter",
    "kind": "numeric",
    "position": 0,
    "unit": "mm",
    "lsl": 19.95,
    "usl": 20.05,
    "target": 20.0,
    "sample_size": 5,
}
_CHARACTERISTIC_BURR: JsonDict = {
    "id": 2,
    "plan_id": 1,
    "code": "BURR",
    "name": "Free of burrs",
    "kind": "attribute",
    "position": 1,
    "unit": None,
    "lsl": None,
    "usl": None,
    "target": None,
    "sample_size": 1,
}


class CharacteristicOut(CharacteristicBase, OrmModel):
    """A characteristic as stored."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CHARACTERISTIC_OD]})

    id: int
    plan_id: int
    code: str


class PlanCreate(BaseModel):
    """A new inspection plan with its characteristics."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "QP-SHAFT-FINAL",
                    "name": "Shaft final inspection",
                    "item_id": 2,
                    "characteristics": [
                        {
                            "code": "OD",
                            "name": "Outer diameter",
                            "kind": "numeric",
                            "unit": "mm",
                            "lsl": 19.95,
                            "usl": 20.05,
                            "sample_size": 5,
                        },
                        {"code": "BURR", "name": "Free of burrs", "kind": "attribute"},
                    ],
                }
            ]
        },
    )

    code: Code = Field(examples=["QP-SHAFT-FINAL"])
    name: Name = Field(examples=["Shaft final inspection"])
    item_id: Id
    operation_id: Id | None = Field(default=None, description="routing operation inspected")
    active: bool = True
    description: Text | None = None
    characteristics: list[CharacteristicCreate] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _unique_codes(self) -> PlanCreate:
        codes = [c.code for c in self.characteristics]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"characteristic codes must be unique: {', '.join(duplicates)}")
        return self


class PlanUpdate(PatchModel):
    """Fields to change; code and item are permanent."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})
    nullable = frozenset({"operation_id", "description"})

    name: Name | None = None
    operation_id: Id | None = None
    active: bool | None = None
    description: Text | None = None


# example: the shaft plan, the characteristics left out
_PLAN_SUMMARY: JsonDict = {
    "id": 1,
    "code": "QP-SHAFT-FINAL",
    "name": "Shaft final inspection",
    "item_id": 2,
    "operation_id": 4,
    "active": True,
    "description": "SHAFT-20 after grinding, 5 pieces per work order",
    "created_at": "2026-11-02T08:00:00Z",
    "updated_at": "2026-11-02T08:00:00Z",
}


class PlanSummary(OrmModel):
    """An inspection plan without its characteristics."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PLAN_SUMMARY]})

    id: int
    code: str
    name: str
    item_id: int
    operation_id: int | None
    active: bool
    description: str | None
    created_at: datetime
    updated_at: datetime


class PlanOut(PlanSummary):
    """An inspection plan with its characteristics."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**_PLAN_SUMMARY, "characteristics": [_CHARACTERISTIC_OD, _CHARACTERISTIC_BURR]}
            ]
        }
    )

    characteristics: list[CharacteristicOut]


# --- inspections ---------------------------------------------------------------------------


class InspectionCreate(BaseModel):
    """Start an inspection of a work order's output and/or a lot against a plan."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"plan_id": 1, "work_order_id": 12, "lot_id": 9}]},
    )

    plan_id: Id
    work_order_id: Id | None = None
    lot_id: Id | None = None
    notes: Text | None = None

    @model_validator(mode="after")
    def _has_subject(self) -> InspectionCreate:
        if self.work_order_id is None and self.lot_id is None:
            raise ValueError("give work_order_id, lot_id or both")
        return self


class ResultCreate(BaseModel):
    """One sample's result: `value` for numeric characteristics, `passed` for attributes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"characteristic_id": 1, "sample_no": 1, "value": 20.01},
                {"characteristic_id": 2, "passed": False, "notes": "burr at the keyway"},
            ]
        },
    )

    characteristic_id: Id
    sample_no: int | None = Field(
        default=None, ge=1, le=100, description="1..sample size; next free sample when omitted"
    )
    value: Measure | None = None
    passed: bool | None = Field(default=None, description="attribute characteristics only")
    measured_at: datetime | None = Field(default=None, description="defaults to now")
    notes: Text | None = None


class ResultsCreate(BaseModel):
    """Results to record, in one transaction."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {"characteristic_id": 1, "value": 20.01},
                        {"characteristic_id": 1, "value": 19.99},
                        {"characteristic_id": 2, "passed": True},
                    ]
                }
            ]
        },
    )

    results: list[ResultCreate] = Field(min_length=1, max_length=1000)


# examples: two results of inspection 3 (shaft lot L-2026-0415 of work order 12)
_RESULTS: list[JsonDict] = [
    {
        "id": 31,
        "characteristic_id": 1,
        "sample_no": 1,
        "value": 20.01,
        "passed": True,
        "measured_at": "2026-12-01T10:40:00Z",
        "recorded_by": "inspector",
        "notes": None,
    },
    {
        "id": 32,
        "characteristic_id": 2,
        "sample_no": 1,
        "value": None,
        "passed": False,
        "measured_at": "2026-12-01T10:41:00Z",
        "recorded_by": "inspector",
        "notes": "burr at the keyway",
    },
]


class ResultOut(OrmModel):
    """A recorded result."""

    model_config = ConfigDict(json_schema_extra={"examples": [*_RESULTS]})

    id: int
    characteristic_id: int
    sample_no: int
    value: Measure | None
    passed: bool
    measured_at: datetime
    recorded_by: str
    notes: str | None


# example: inspection 3, still open
_INSPECTION_SUMMARY: JsonDict = {
    "id": 3,
    "plan_id": 1,
    "work_order_id": 12,
    "lot_id": 9,
    "status": "open",
    "inspector": "inspector",
    "completed_at": None,
    "notes": None,
    "created_at": "2026-12-01T10:35:00Z",
    "updated_at": "2026-12-01T10:41:00Z",
}


class InspectionSummary(OrmModel):
    """An inspection without its results."""

    model_config = ConfigDict(json_schema_extra={"examples": [_INSPECTION_SUMMARY]})

    id: int
    plan_id: int
    work_order_id: int | None
    lot_id: int | None
    status: InspectionStatus
    inspector: str
    completed_at: datetime | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class InspectionOut(InspectionSummary):
    """An inspection with its results and progress."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_INSPECTION_SUMMARY,
                    "results": [*_RESULTS],
                    "samples_recorded": 2,
                    "samples_required": 6,
                    "failed_results": 1,
                }
            ]
        }
    )

    results: list[ResultOut]
    samples_recorded: int
    samples_required: int
    failed_results: int


# --- non-conformances ----------------------------------------------------------------------


class NcCreate(BaseModel):
    """Report a non-conformance found in an inspection, a lot or a work order."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Outer diameter above USL",
                    "severity": "major",
                    "inspection_id": 3,
                    "quantity": 12,
                }
            ]
        },
    )

    title: Name = Field(examples=["Outer diameter above USL"])
    description: Text | None = None
    severity: Severity
    inspection_id: Id | None = None
    lot_id: Id | None = None
    work_order_id: Id | None = None
    quantity: Quantity | None = Field(default=None, gt=0, description="quantity affected")
    disposition: Disposition | None = None
    disposition_note: Text | None = None

    @model_validator(mode="after")
    def _has_source(self) -> NcCreate:
        if self.inspection_id is None and self.lot_id is None and self.work_order_id is None:
            raise ValueError("give inspection_id, lot_id or work_order_id")
        return self


class NcUpdate(PatchModel):
    """Fields to change while the non-conformance is not closed."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"disposition": "rework"}]}
    )
    nullable = frozenset({"description", "quantity", "disposition", "disposition_note"})

    title: Name | None = None
    description: Text | None = None
    severity: Severity | None = None
    quantity: Quantity | None = Field(default=None, gt=0)
    disposition: Disposition | None = None
    disposition_note: Text | None = None


class NcTransition(BaseModel):
    """Move a non-conformance on: open -> under_review -> closed (closing needs a
    disposition, given here or before)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "closed", "disposition": "scrap"}]},
    )

    status: NcStatus
    disposition: Disposition | None = None
    disposition_note: Text | None = None


class NcOut(OrmModel):
    """A non-conformance as stored."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 5,
                    "title": "Outer diameter above USL",
                    "description": "12 of 40 shafts measured up to 20.07 mm",
                    "severity": "major",
                    "status": "under_review",
                    "inspection_id": 3,
                    "lot_id": 9,
                    "work_order_id": 12,
                    "item_id": 2,
                    "quantity": 12,
                    "disposition": "rework",
                    "disposition_note": "regrind to 20.00 mm",
                    "reported_by": "inspector",
                    "review_started_at": "2026-12-01T11:05:00Z",
                    "reviewed_by": "quality-lead",
                    "closed_at": None,
                    "closed_by": None,
                    "created_at": "2026-12-01T10:50:00Z",
                    "updated_at": "2026-12-01T11:05:00Z",
                }
            ]
        }
    )

    id: int
    title: str
    description: str | None
    severity: Severity
    status: NcStatus
    inspection_id: int | None
    lot_id: int | None
    work_order_id: int | None
    item_id: int | None
    quantity: Quantity | None
    disposition: Disposition | None
    disposition_note: str | None
    reported_by: str
    review_started_at: datetime | None
    reviewed_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    created_at: datetime
    updated_at: datetime


# --- SPC -----------------------------------------------------------------------------------


# examples: X-bar and R charts of the shaft's outer diameter; point 1 beyond 3 sigma
_POINTS: list[JsonDict] = [
    {"index": 0, "value": 20.004, "rules": [], "inspection_id": 3, "at": "2026-12-01T10:40:00Z"},
    {"index": 1, "value": 20.031, "rules": [1], "inspection_id": 4, "at": "2026-12-01T14:10:00Z"},
]
_RANGE_POINTS: list[JsonDict] = [
    {"index": 0, "value": 0.018, "rules": [], "inspection_id": 3, "at": "2026-12-01T10:40:00Z"},
    {"index": 1, "value": 0.022, "rules": [], "inspection_id": 4, "at": "2026-12-01T14:10:00Z"},
]
_RULE_1: JsonDict = {"rule": 1, "description": "a point beyond 3 sigma", "points": 1}
_XBAR_CHART: JsonDict = {
    "center": 20.002,
    "lcl": 19.991,
    "ucl": 20.013,
    "points": [*_POINTS],
    "violations": [_RULE_1],
}
_RANGE_CHART: JsonDict = {
    "center": 0.019,
    "lcl": 0.0,
    "ucl": 0.040,
    "points": [*_RANGE_POINTS],
    "violations": [],
}


class ChartPointOut(BaseModel):
    """A plotted point; `rules` are the Nelson rules it violates."""

    model_config = ConfigDict(json_schema_extra={"examples": [*_POINTS]})

    index: int
    value: float
    rules: list[int]
    inspection_id: int | None = Field(description="the inspection the point comes from")
    at: datetime = Field(description="when it was measured (first sample of a subgroup)")


class RuleCount(BaseModel):
    """How many points a rule flagged."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RULE_1]})

    rule: int = Field(ge=1, le=8)
    description: str
    points: int


class ChartOut(BaseModel):
    """Centre line, control limits and points of one chart."""

    model_config = ConfigDict(json_schema_extra={"examples": [_XBAR_CHART]})

    center: float
    lcl: float
    ucl: float
    points: list[ChartPointOut]
    violations: list[RuleCount]


class XbarROut(BaseModel):
    """X-bar and R charts of a characteristic (one subgroup per inspection)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "characteristic_id": 1,
                    "subgroup_size": 5,
                    "subgroups": 2,
                    "incomplete_skipped": 0,
                    "sigma_within": 0.0082,
                    "lsl": 19.95,
                    "usl": 20.05,
                    "xbar": _XBAR_CHART,
                    "range": _RANGE_CHART,
                }
            ]
        }
    )

    characteristic_id: int
    subgroup_size: int
    subgroups: int
    incomplete_skipped: int = Field(description="inspections without a full subgroup, left out")
    sigma_within: float
    lsl: float | None
    usl: float | None
    xbar: ChartOut
    range: ChartOut


class IndividualsOut(BaseModel):
    """Individuals and moving-range charts of a characteristic."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "characteristic_id": 1,
                    "values": 2,
                    "sigma_within": 0.0239,
                    "lsl": 19.95,
                    "usl": 20.05,
                    "individuals": {
                        "center": 20.018,
                        "lcl": 19.946,
                        "ucl": 20.090,
                        "points": [
                            {**_POINTS[0], "value": 20.01, "rules": []},
                            {**_POINTS[1], "value": 20.037, "rules": []},
                        ],
                        "violations": [],
                    },
                    "moving_range": {
                        "center": 0.027,
                        "lcl": 0.0,
                        "ucl": 0.088,
                        "points": [{**_POINTS[1], "index": 0, "value": 0.027, "rules": []}],
                        "violations": [],
                    },
                }
            ]
        }
    )

    characteristic_id: int
    values: int
    sigma_within: float
    lsl: float | None
    usl: float | None
    individuals: ChartOut
    moving_range: ChartOut


class CapabilityOut(BaseModel):
    """Process capability of a characteristic against its spec limits."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "characteristic_id": 1,
                    "n": 125,
                    "mean": 20.004,
                    "sigma_within": 0.0082,
                    "sigma_method": "rbar/d2",
                    "sigma_overall": 0.0095,
                    "lsl": 19.95,
                    "usl": 20.05,
                    "cp": 2.03,
                    "cpk": 1.87,
                    "pp": 1.75,
                    "ppk": 1.61,
                }
            ]
        }
    )

    characteristic_id: int
    n: int
    mean: float
    sigma_within: float
    sigma_method: str = Field(examples=["rbar/d2"], description="rbar/d2 or mrbar/d2")
    sigma_overall: float
    lsl: float | None
    usl: float | None
    cp: float | None
    cpk: float
    pp: float | None
    ppk: float
