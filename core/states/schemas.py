"""Schemas of the equipment-state API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.common.schemas import OrmModel

StateName = Literal["idle", "setup", "running", "blocked", "starved", "down", "maintenance"]
StopClassName = Literal["idle", "setup", "blocked", "starved", "breakdown", "planned_maintenance"]
SignalKey = str

STATUS_EXAMPLE: dict[str, Any] = {
    "equipment_id": 6,
    "equipment_code": "CNC-101",
    "equipment_name": "CNC turning centre 1",
    "state": "running",
    "state_code": 2,
    "planned": False,
    "since": "2026-12-01T03:40:12Z",
    "data_ts": "2026-12-01T03:52:07.300Z",
    "downtime_event_id": None,
    "work_order_id": 12,
    "operation_id": 31,
    "updated_at": "2026-12-01T03:52:08Z",
}


class EquipmentStatusOut(BaseModel):
    """The current state of a machine as the derivation engine last saw it."""

    model_config = ConfigDict(json_schema_extra={"examples": [STATUS_EXAMPLE]})

    equipment_id: int
    equipment_code: str
    equipment_name: str
    state: str | None = Field(
        description="running, idle, setup, blocked, starved, down, "
        "maintenance or unknown; null before any data"
    )
    state_code: int | None = Field(description="the `state` signal's value; -1 unknown")
    planned: bool = Field(description="maintenance that is planned (not a repair)")
    since: datetime | None
    data_ts: datetime | None = Field(description="time of the newest reading of the machine")
    downtime_event_id: int | None = Field(description="the open downtime event, if any")
    work_order_id: int | None = Field(description="the work order running on it, if any")
    operation_id: int | None
    updated_at: datetime | None


class TimelineSpan(BaseModel):
    """A stretch of one state."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-12-01T03:12:00Z",
                    "end": "2026-12-01T03:40:00Z",
                    "state": "down",
                    "stop_class": "breakdown",
                    "planned": False,
                    "seconds": 1680.0,
                }
            ]
        }
    )

    start: datetime
    end: datetime
    state: str
    stop_class: str | None = Field(description="null while running or unknown")
    planned: bool
    seconds: float


class TimelineOut(BaseModel):
    """The state timeline of a machine over a range, with seconds per state."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "equipment_id": 6,
                    "equipment_code": "CNC-101",
                    "start": "2026-12-01T03:00:00Z",
                    "end": "2026-12-01T04:00:00Z",
                    "spans": [],
                    "seconds_by_state": {"running": 1920.0, "down": 1680.0},
                    "no_data_s": 0.0,
                }
            ]
        }
    )

    equipment_id: int
    equipment_code: str
    start: datetime
    end: datetime
    spans: list[TimelineSpan]
    seconds_by_state: dict[str, float]
    no_data_s: float = Field(description="time in the range without any derived state")


class RuleIn(BaseModel):
    """`state` applies while the signal compares true with the value (first match wins)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"signal": "spindle_speed", "op": ">", "value": 50, "state": "running"}]
        },
    )

    signal: str = Field(min_length=1, max_length=200, description="signal name of the machine")
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float = Field(allow_inf_nan=False)
    state: StateName


CONFIG_EXAMPLE: dict[str, Any] = {
    "mode": "rules",
    "rules": [
        {"signal": "spindle_speed", "op": ">", "value": 50, "state": "running"},
        {"signal": "motor_current", "op": ">", "value": 0.5, "state": "idle"},
    ],
    "default_state": "down",
    "good_signal": "LATHE-103.good_count",
    "micro_stop_s": 60,
}


class StateConfigIn(BaseModel):
    """How a machine's state is derived: from a state signal, or from rules over other signals
    (speed, current). Signals are given by key; unset ones use the machine's `state`,
    `good_count`, `scrap_count` and `alarm_code` signals. Thresholds unset use the plant
    defaults (MES_LIVE_MICRO_STOP_S, MES_LIVE_STARTUP_S)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [CONFIG_EXAMPLE]})

    mode: Literal["signal", "rules"] = "signal"
    state_signal: SignalKey | None = Field(default=None, max_length=200)
    good_signal: SignalKey | None = Field(default=None, max_length=200)
    scrap_signal: SignalKey | None = Field(default=None, max_length=200)
    alarm_signal: SignalKey | None = Field(default=None, max_length=200)
    rules: list[RuleIn] = Field(default_factory=list, max_length=20)
    default_state: StateName = Field(default="idle", description="rules mode: when none matches")
    maintenance: Literal["auto", "planned", "unplanned"] = Field(
        default="auto",
        description="auto: maintenance right after `down` is repair, other maintenance planned",
    )
    micro_stop_s: float | None = Field(
        default=None,
        ge=0,
        le=86400,
        description="stops shorter than this are minor stops (performance loss)",
    )
    startup_s: float | None = Field(
        default=None,
        ge=0,
        le=86400,
        description="scrap this soon after a setup or repair counts as reduced yield",
    )


class StateConfigOut(BaseModel):
    """The configuration in effect (defaults filled in)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **CONFIG_EXAMPLE,
                    "equipment_id": 8,
                    "equipment_code": "LATHE-103",
                    "configured": True,
                    "state_signal": None,
                    "scrap_signal": "LATHE-103.scrap_count",
                    "alarm_signal": "LATHE-103.alarm_code",
                    "maintenance": "auto",
                    "startup_s": None,
                }
            ]
        }
    )

    equipment_id: int
    equipment_code: str
    configured: bool = Field(description="false: the defaults apply")
    mode: str
    state_signal: str | None
    good_signal: str | None
    scrap_signal: str | None
    alarm_signal: str | None
    rules: list[dict[str, Any]]
    default_state: str
    maintenance: str
    micro_stop_s: float | None
    startup_s: float | None


class RecomputeOut(BaseModel):
    """Hours queued for recomputation."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"hours": ["2026-12-01T03:00:00Z"]}]})

    hours: list[datetime]


class DowntimeRuleCreate(BaseModel):
    """Automatic downtime of this stop class (and alarm code) gets this reason, on one machine
    or on every machine (no equipment_id)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"equipment_id": 6, "stop_class": "breakdown", "alarm_code": 1201, "reason_id": 9}
            ]
        },
    )

    equipment_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    stop_class: StopClassName
    alarm_code: int | None = Field(default=None, ge=0, le=2**31 - 1)
    reason_id: int = Field(ge=1, le=2**31 - 1)


class DowntimeRuleOut(OrmModel):
    """A reason rule."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "equipment_id": 6,
                    "stop_class": "breakdown",
                    "alarm_code": 1201,
                    "reason_id": 9,
                    "created_at": "2026-12-01T03:00:00Z",
                    "updated_at": "2026-12-01T03:00:00Z",
                }
            ]
        },
    )

    id: int
    equipment_id: int | None
    stop_class: str
    alarm_code: int | None
    reason_id: int
    created_at: datetime
    updated_at: datetime
