"""Schemas of the OEE API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.oee import calc
from core.oee.calc import OeeFacts

LOSSES_EXAMPLE: dict[str, Any] = {
    "equipment_failure": 480.0,
    "setup_adjustment": 300.0,
    "idling_minor_stops": 120.0,
    "reduced_speed": 200.0,
    "process_defects": 200.0,
    "reduced_yield": 50.0,
}
OEE_EXAMPLE: dict[str, Any] = {
    "equipment_id": 6,
    "equipment_code": "CNC-101",
    "level": "machine",
    "start": "2026-12-01T21:00:00Z",
    "end": "2026-12-01T22:00:00Z",
    "availability": 0.7833,
    "performance": 0.8865,
    "quality": 0.9,
    "oee": 0.625,
    "planned_production_s": 3600.0,
    "operating_s": 2820.0,
    "run_s": 2700.0,
    "fully_productive_s": 2250.0,
    "good": 90,
    "scrap": 10,
    "losses": LOSSES_EXAMPLE,
    "facts": {"calendar_s": 3600.0, "run_s": 2700.0, "good": 90, "scrap": 10},
    "machines": [],
}


class OeeMachine(BaseModel):
    """One machine's share of a group's OEE."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "equipment_id": 6,
                    "equipment_code": "CNC-101",
                    "availability": 0.78,
                    "performance": 0.89,
                    "quality": 0.9,
                    "oee": 0.625,
                    "planned_production_s": 3600.0,
                    "good": 90,
                    "scrap": 10,
                }
            ]
        }
    )

    equipment_id: int
    equipment_code: str
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    reason: str | None = Field(
        default=None,
        description="why `oee` is null: `no_planned_time`, `no_data` or `planned_stop`; null "
        "while it is a number",
    )
    planned_production_s: float
    good: int
    scrap: int


class OeeOut(BaseModel):
    """OEE of a machine or a group of machines (line, area, site: the sums of their machines'
    times and parts) over a window. Factors are null where undefined (no planned time, no
    operating time, no parts); OEE only without planned time, and `reason` says why."""

    model_config = ConfigDict(json_schema_extra={"examples": [OEE_EXAMPLE]})

    equipment_id: int
    equipment_code: str
    level: str
    start: datetime
    end: datetime
    availability: float | None = Field(description="operating time / planned production time")
    performance: float | None = Field(description="ideal time of the parts made / operating time")
    quality: float | None = Field(description="good parts / all parts")
    oee: float | None = Field(
        description="availability x performance x quality (fully productive / planned time "
        "when performance or quality is undefined); null only without planned production time"
    )
    reason: str | None = Field(
        default=None,
        description="why `oee` is null: `no_planned_time`, `no_data` or `planned_stop`; null "
        "while it is a number",
    )
    planned_production_s: float = Field(
        description="calendar time minus planned stops and time without data"
    )
    operating_s: float
    run_s: float
    fully_productive_s: float = Field(description="ideal time of the good parts")
    good: int
    scrap: int
    losses: dict[str, float] = Field(
        description="seconds per six-big-losses category (reduced speed is negative when a "
        "machine beats its ideal cycle time)"
    )
    facts: dict[str, float | int] = Field(description="the additive facts behind the figures")
    machines: list[OeeMachine] = Field(default_factory=list)


class OeeShiftOut(OeeOut):
    """OEE of one shift (or one production day)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**OEE_EXAMPLE, "day": "2026-12-02", "shift_code": "A", "shift_name": "Early"}
            ]
        }
    )

    day: date = Field(description="production day: the local date the shift starts on")
    shift_code: str | None = Field(description="null for a whole day")
    shift_name: str | None


class OeeRunOut(BaseModel):
    """A work order's stretch on one machine and its OEE."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "equipment_id": 6,
                    "equipment_code": "CNC-101",
                    "operation_id": 31,
                    "start": "2026-12-01T21:00:00Z",
                    "end": None,
                    "availability": 0.78,
                    "performance": 0.89,
                    "quality": 0.9,
                    "oee": 0.625,
                    "good": 90,
                    "scrap": 10,
                }
            ]
        }
    )

    equipment_id: int
    equipment_code: str
    operation_id: int | None
    start: datetime
    end: datetime | None
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    reason: str | None = Field(
        default=None,
        description="why `oee` is null: `no_planned_time`, `no_data` or `planned_stop`; null "
        "while it is a number",
    )
    good: int
    scrap: int


class OeeWorkOrderOut(BaseModel):
    """OEE of a work order: over the time it ran on each machine."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "work_order_id": 12,
                    "work_order_code": "WO-000012",
                    "availability": 0.78,
                    "performance": 0.89,
                    "quality": 0.9,
                    "oee": 0.625,
                    "planned_production_s": 3600.0,
                    "good": 90,
                    "scrap": 10,
                    "losses": LOSSES_EXAMPLE,
                    "runs": [],
                }
            ]
        }
    )

    work_order_id: int
    work_order_code: str
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    reason: str | None = Field(
        default=None,
        description="why `oee` is null: `no_planned_time`, `no_data` or `planned_stop`; null "
        "while it is a number",
    )
    planned_production_s: float
    good: int
    scrap: int
    losses: dict[str, float]
    runs: list[OeeRunOut]


class OeeHourOut(BaseModel):
    """The stored facts of one machine-hour (as the engine computed them)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "equipment_id": 6,
                    "hour": "2026-12-01T21:00:00Z",
                    "availability": 0.78,
                    "performance": 0.89,
                    "quality": 0.9,
                    "oee": 0.625,
                    "calendar_s": 3600.0,
                    "run_s": 2700.0,
                    "good": 90,
                    "scrap": 10,
                    "computed_at": "2026-12-01T22:00:03Z",
                }
            ]
        },
    )

    equipment_id: int
    hour: datetime
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    reason: str | None = Field(
        default=None,
        description="why `oee` is null: `no_planned_time`, `no_data` or `planned_stop`; null "
        "while it is a number",
    )
    calendar_s: float
    run_s: float
    good: int
    scrap: int
    computed_at: datetime


def factors(f: OeeFacts) -> dict[str, Any]:
    """The fields every OEE answer shares."""
    return {
        "availability": calc.availability(f),
        "performance": calc.performance(f),
        "quality": calc.quality(f),
        "oee": calc.oee(f),
        "reason": calc.undefined_reason(f),
        "planned_production_s": f.planned_s,
        "good": f.good,
        "scrap": f.scrap,
    }


def oee_out(
    f: OeeFacts,
    *,
    equipment_id: int,
    code: str,
    level: str,
    start: datetime,
    end: datetime,
    machines: list[OeeMachine] | None = None,
) -> dict[str, Any]:
    """The fields of OeeOut for facts."""
    return {
        "equipment_id": equipment_id,
        "equipment_code": code,
        "level": level,
        "start": start,
        "end": end,
        **factors(f),
        "operating_s": f.operating_s,
        "run_s": f.run_s,
        "fully_productive_s": calc.fully_productive_s(f),
        "losses": calc.losses(f),
        "facts": f.as_dict(),
        "machines": machines or [],
    }
