"""Telemetry API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.common.schemas import OrmModel, example_of


class SignalOut(OrmModel):
    """A measured point (tag) registered by a gateway, bound to an equipment code."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "key": "CNC-101.spindle_speed",
                    "equipment_code": "CNC-101",
                    "name": "spindle_speed",
                    "unit": "rpm",
                    "data_type": "float32",
                    "protocol": "opcua",
                    "source": "nsu=urn:knu-mes:simulator;s=CNC-101.spindle_speed",
                    "description": "Spindle speed",
                    "meta": {},
                    "active": True,
                    "created_at": "2026-11-20T06:00:00Z",
                    "updated_at": "2026-11-20T06:00:00Z",
                }
            ]
        }
    )

    id: int
    key: str = Field(examples=["CNC-101.spindle_speed"])
    equipment_code: str | None = Field(examples=["CNC-101"])
    name: str = Field(examples=["spindle_speed"])
    unit: str | None = Field(examples=["rpm"])
    data_type: str = Field(examples=["float32"])
    protocol: str | None = Field(examples=["opcua"])
    source: str | None = Field(examples=["nsu=urn:knu-mes:simulator;s=CNC-101.spindle_speed"])
    description: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    active: bool
    created_at: datetime
    updated_at: datetime


class PointOut(BaseModel):
    """One stored reading; quality: 0 good, > 0 uncertain, < 0 bad (OPC UA StatusCode >> 16)."""

    ts: datetime = Field(examples=["2026-12-01T03:12:00.250Z"])
    value: float | None = Field(examples=[1480.5])
    quality: int = Field(examples=[0])


class LatestOut(PointOut):
    """The newest reading of a signal."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signal_id": 7,
                    "key": "CNC-101.spindle_speed",
                    "ts": "2026-12-01T03:12:00.250Z",
                    "value": 1480.5,
                    "quality": 0,
                }
            ]
        }
    )

    signal_id: int
    key: str


class BucketOut(BaseModel):
    """Aggregate over one bucket: count, min, max, average of values not of Bad quality."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ts": "2026-12-01T03:00:00Z",
                    "n": 600,
                    "min": 1462.0,
                    "max": 1501.5,
                    "avg": 1480.2,
                }
            ]
        }
    )

    ts: datetime
    n: int
    min: float | None
    max: float | None
    avg: float | None


class SeriesOut(BaseModel):
    """One signal's series: raw points, LTTB-selected points, or buckets."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signal_id": 7,
                    "key": "CNC-101.spindle_speed",
                    "unit": "rpm",
                    "points": [],
                    "buckets": [example_of(BucketOut)],
                    "truncated": False,
                }
            ]
        }
    )

    signal_id: int
    key: str
    unit: str | None
    points: list[PointOut] = Field(default_factory=list)
    buckets: list[BucketOut] = Field(default_factory=list)
    truncated: bool = Field(default=False, description="more raw points exist than were returned")


class SeriesResponse(BaseModel):
    """Series for a chart, with how they were computed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "buckets",
                    "resolution": "1m",
                    "bucket_seconds": 3600,
                    "series": [example_of(SeriesOut)],
                }
            ]
        }
    )

    mode: Literal["raw", "lttb", "buckets"]
    resolution: Literal["raw", "1m", "1h"] = Field(description="source: raw rows or a rollup")
    bucket_seconds: int | None = Field(description="bucket width in buckets mode")
    series: list[SeriesOut]


class StatsOut(BaseModel):
    """Descriptive statistics of one signal over a range (values of Bad quality left out)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signal_id": 7,
                    "key": "CNC-101.spindle_speed",
                    "unit": "rpm",
                    "n": 3600,
                    "min": 1462.0,
                    "max": 1501.5,
                    "mean": 1480.2,
                    "std": 6.4,
                }
            ]
        }
    )

    signal_id: int
    key: str
    unit: str | None
    n: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None = Field(description="sample standard deviation")
