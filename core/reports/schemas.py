"""Report schemas."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from core.common.schemas import Quantity


class Dimension(StrEnum):
    """What a production report groups by."""

    DAY = "day"
    SHIFT = "shift"
    LINE = "line"
    ITEM = "item"


class DowntimeBy(StrEnum):
    """What the downtime Pareto ranks."""

    REASON = "reason"
    CATEGORY = "category"
    LOSS = "loss_category"
    EQUIPMENT = "equipment"


class ScrapBy(StrEnum):
    """What the scrap Pareto ranks."""

    REASON = "reason"
    ITEM = "item"
    EQUIPMENT = "equipment"
    OPERATION = "operation"


class ProductionRow(BaseModel):
    """Planned and actual output of one group."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "day": "2026-12-01",
                    "shift": None,
                    "line": "L1",
                    "item": "SHAFT-A100",
                    "planned": 800,
                    "good": 742,
                    "scrap": 11,
                    "yield_pct": 98.54,
                    "attainment_pct": 92.75,
                }
            ]
        }
    )

    day: date | None = None
    shift: str | None = Field(default=None, description="shift code (with the day it started)")
    line: str | None = None
    item: str | None = None
    planned: Quantity | None = Field(
        description="quantity of work orders due in the group (not defined per shift)"
    )
    good: Quantity = Field(description="good output of final operations")
    scrap: Quantity = Field(description="scrap at every operation")
    yield_pct: float | None = Field(description="good / (good + scrap), percent")
    attainment_pct: float | None = Field(description="good / planned, percent")


class ProductionReport(BaseModel):
    """Production by the chosen dimensions over [start, end)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-12-01T00:00:00+09:00",
                    "end": "2026-12-08T00:00:00+09:00",
                    "timezone": "Asia/Seoul",
                    "group_by": ["day", "line"],
                    "rows": [],
                    "total": {
                        "planned": 2400,
                        "good": 2210,
                        "scrap": 31,
                        "yield_pct": 98.6,
                        "attainment_pct": 92.1,
                    },
                }
            ]
        }
    )

    start: datetime
    end: datetime
    timezone: str
    group_by: list[Dimension]
    rows: list[ProductionRow]
    total: ProductionRow


class ParetoRow(BaseModel):
    """One bar of a Pareto chart."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key": "BD-TOOL",
                    "label": "Tool breakage",
                    "count": 4,
                    "value": 5400,
                    "share_pct": 41.2,
                    "cumulative_pct": 41.2,
                }
            ]
        }
    )

    key: str
    label: str
    count: int = Field(description="events or reports in the bar")
    value: float = Field(description="seconds of downtime, or scrapped quantity")
    share_pct: float
    cumulative_pct: float


class Pareto(BaseModel):
    """Largest contributors first, with shares and cumulative shares."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-12-01T00:00:00Z",
                    "end": "2026-12-08T00:00:00Z",
                    "by": "reason",
                    "unit": "s",
                    "total": 13100,
                    "rows": [],
                }
            ]
        }
    )

    start: datetime
    end: datetime
    by: str
    unit: str = Field(description="s for downtime, the item unit (or pcs) for scrap")
    total: float
    rows: list[ParetoRow]


class LeadTimeRow(BaseModel):
    """Lead-time statistics of completed work orders of one item (hours)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item": "SHAFT-A100",
                    "orders": 12,
                    "lead_avg_h": 30.5,
                    "lead_median_h": 28.0,
                    "lead_p90_h": 44.1,
                    "flow_avg_h": 9.2,
                    "wait_avg_h": 21.3,
                }
            ]
        }
    )

    item: str
    orders: int
    lead_avg_h: float = Field(description="created -> completed")
    lead_median_h: float
    lead_p90_h: float
    flow_avg_h: float = Field(description="started -> completed")
    wait_avg_h: float = Field(description="created -> started")


class LeadTimes(BaseModel):
    """Lead times of work orders completed in [start, end), per item and overall."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-12-01T00:00:00Z",
                    "end": "2026-12-08T00:00:00Z",
                    "rows": [],
                    "overall": None,
                }
            ]
        }
    )

    start: datetime
    end: datetime
    rows: list[LeadTimeRow]
    overall: LeadTimeRow | None
