"""Schemas of the production API: runs, counted parts, linked readings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from core.common.schemas import OrmModel, Quantity
from core.telemetry.schemas import PointOut


class RunOut(BaseModel):
    """A stretch of time an order (operation) ran on a machine; readings and counted parts in
    it belong to the order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "work_order_id": 12,
                    "operation_id": 31,
                    "equipment_id": 6,
                    "equipment_code": "CNC-101",
                    "start": "2026-12-01T21:02:00Z",
                    "end": None,
                }
            ]
        }
    )

    work_order_id: int
    operation_id: int | None
    equipment_id: int
    equipment_code: str
    start: datetime
    end: datetime | None = Field(description="null while the order still runs there")


class CounterTotalOut(BaseModel):
    """Parts the machine counters counted for an operation on a machine, what was reported
    automatically and what is still pending (orders no longer in progress keep it pending)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "operation_id": 31,
                    "equipment_id": 6,
                    "equipment_code": "CNC-101",
                    "counted_good": 120,
                    "counted_scrap": 3,
                    "reported_good": 118,
                    "reported_scrap": 3,
                    "pending_good": 2,
                    "pending_scrap": 0,
                    "last_minute": "2026-12-01T22:41:00Z",
                }
            ]
        }
    )

    operation_id: int | None
    equipment_id: int
    equipment_code: str
    counted_good: int
    counted_scrap: int
    reported_good: Quantity
    reported_scrap: Quantity
    pending_good: Quantity
    pending_scrap: Quantity
    last_minute: datetime | None


class LinkedStatsOut(BaseModel):
    """Statistics of one signal over the stretches the order ran on its machine (values of Bad
    quality left out)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signal_id": 14,
                    "key": "CNC-101.spindle_speed",
                    "name": "spindle_speed",
                    "unit": "rpm",
                    "equipment_code": "CNC-101",
                    "runs": 2,
                    "n": 5400,
                    "min": 1180.2,
                    "max": 1530.9,
                    "mean": 1498.7,
                    "std": 21.4,
                }
            ]
        }
    )

    signal_id: int
    key: str
    name: str
    unit: str | None
    equipment_code: str
    runs: int = Field(description="runs on the signal's machine that contributed")
    n: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None = Field(description="sample standard deviation")


class LinkedSeriesOut(BaseModel):
    """Raw readings of one signal inside the order's runs on its machine."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signal_id": 14,
                    "key": "CNC-101.spindle_speed",
                    "unit": "rpm",
                    "points": [{"ts": "2026-12-01T21:02:01Z", "value": 1498.2, "quality": 0}],
                    "truncated": False,
                }
            ]
        }
    )

    signal_id: int
    key: str
    unit: str | None
    points: list[PointOut]
    truncated: bool = Field(description="more points exist than were returned")


class ProductionCountOut(OrmModel):
    """Parts counted by a machine in one minute for an order (or none)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 501,
                    "equipment_id": 6,
                    "minute": "2026-12-01T21:05:00Z",
                    "work_order_id": 12,
                    "operation_id": 31,
                    "good": 2,
                    "scrap": 0,
                    "ideal_cycle_s": 30,
                }
            ]
        },
    )

    id: int
    equipment_id: int
    minute: datetime
    work_order_id: int | None
    operation_id: int | None
    good: int
    scrap: int
    ideal_cycle_s: Decimal | None
