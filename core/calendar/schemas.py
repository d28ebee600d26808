"""Calendar API schemas."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from core.common.schemas import Code, Name, OrmModel, PatchModel

LocalTime = Annotated[
    time,
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$",
            "description": "local wall-clock time, HH:MM",
            "examples": ["06:00"],
        }
    ),
]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown IANA time zone {name!r}") from err
    return name


TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_zone)]
ShiftCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$"
    ),
]
ShortName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

SHIFTS_EXAMPLE: Any = [
    {
        "code": "A",
        "name": "Early",
        "start": "06:00",
        "end": "14:00",
        "days": [1, 2, 3, 4, 5],
        "breaks": [{"name": "Lunch", "start": "10:00", "end": "10:30"}],
    },
    {
        "code": "B",
        "name": "Late",
        "start": "14:00",
        "end": "22:00",
        "days": [1, 2, 3, 4, 5],
        "breaks": [{"name": "Dinner", "start": "18:00", "end": "18:30"}],
    },
    {
        "code": "C",
        "name": "Night",
        "start": "22:00",
        "end": "06:00",
        "days": [1, 2, 3, 4, 5],
        "breaks": [{"name": "Meal", "start": "02:00", "end": "02:30"}],
    },
]


class BreakIn(BaseModel):
    """A planned break inside a shift (local times)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Lunch", "start": "10:00", "end": "10:30"}]},
    )

    name: ShortName = Field(examples=["Lunch"])
    start: LocalTime = Field(examples=["10:00"])
    end: LocalTime = Field(examples=["10:30"])

    @model_validator(mode="after")
    def _not_empty(self) -> BreakIn:
        if self.start == self.end:
            raise ValueError("a break must not start and end at the same time")
        return self


class ShiftIn(BaseModel):
    """A shift: local start and end (an end at or before the start is the next day) and the
    ISO weekdays (1 = Monday) it starts on."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [SHIFTS_EXAMPLE[2]]})

    code: ShiftCode = Field(examples=["C"])
    name: ShortName = Field(examples=["Night"])
    start: LocalTime = Field(examples=["22:00"])
    end: LocalTime = Field(examples=["06:00"])
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        min_length=1, max_length=7, examples=[[1, 2, 3, 4, 5]]
    )
    breaks: list[BreakIn] = Field(default_factory=list, max_length=20)

    @field_validator("days")
    @classmethod
    def _unique_days(cls, days: list[int]) -> list[int]:
        if len(set(days)) != len(days):
            raise ValueError("days must not repeat")
        return sorted(days)

    @field_validator("start", "end")
    @classmethod
    def _whole_minutes(cls, t: time) -> time:
        if t.second or t.microsecond or t.tzinfo:
            raise ValueError("give a local time in whole minutes, without a time zone")
        return t


class ShiftsIn(BaseModel):
    """The complete set of shifts of a pattern (replaces the current one)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"shifts": SHIFTS_EXAMPLE}]}
    )

    shifts: list[ShiftIn] = Field(max_length=50)


class PatternCreate(BaseModel):
    """A new shift pattern with its shifts."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "3SHIFT-5D",
                    "name": "Three shifts, Monday to Friday",
                    "timezone": "Asia/Seoul",
                    "shifts": SHIFTS_EXAMPLE,
                }
            ]
        },
    )

    code: Code = Field(examples=["3SHIFT-5D"])
    name: Name = Field(examples=["Three shifts, Monday to Friday"])
    timezone: TimeZone = Field(description="IANA time zone of the times", examples=["Asia/Seoul"])
    active: bool = True
    description: str | None = Field(default=None, max_length=2000)
    shifts: list[ShiftIn] = Field(default_factory=list, max_length=50)


class PatternUpdate(PatchModel):
    """Header fields to change (shifts are replaced with PUT .../shifts)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})
    nullable = frozenset({"description"})

    name: Name | None = None
    timezone: TimeZone | None = None
    active: bool | None = None
    description: str | None = Field(default=None, max_length=2000)


class BreakOut(OrmModel):
    """A break as stored."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [{"id": 3, "name": "Lunch", "start_time": "10:00", "end_time": "10:30"}]
        },
    )

    id: int
    name: str
    start_time: LocalTime
    end_time: LocalTime


class ShiftOut(OrmModel):
    """A shift as stored, with its planned minutes (length minus breaks)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "code": "A",
                    "name": "Early",
                    "start_time": "06:00",
                    "end_time": "14:00",
                    "days": [1, 2, 3, 4, 5],
                    "planned_minutes": 450,
                    "breaks": [],
                }
            ]
        },
    )

    id: int
    code: str
    name: str
    start_time: LocalTime
    end_time: LocalTime
    days: list[int]
    planned_minutes: int
    breaks: list[BreakOut]


class NonWorkingIn(BaseModel):
    """A period without production (holiday, shutdown)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "start_ts": "2026-12-24T22:00:00+09:00",
                    "end_ts": "2026-12-26T06:00:00+09:00",
                    "reason": "Christmas",
                }
            ]
        },
    )

    start_ts: datetime
    end_ts: datetime
    reason: Name = Field(examples=["Christmas"])

    @model_validator(mode="after")
    def _ordered(self) -> NonWorkingIn:
        if self.start_ts.tzinfo is None or self.end_ts.tzinfo is None:
            raise ValueError("give times with a time zone")
        if self.end_ts <= self.start_ts:
            raise ValueError("end_ts must be after start_ts")
        return self


class NonWorkingOut(OrmModel):
    """A non-working period as stored."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "pattern_id": 1,
                    "start_ts": "2026-12-24T13:00:00Z",
                    "end_ts": "2026-12-25T21:00:00Z",
                    "reason": "Christmas",
                }
            ]
        },
    )

    id: int
    pattern_id: int
    start_ts: datetime
    end_ts: datetime
    reason: str


class PatternOut(OrmModel):
    """A shift pattern with its shifts."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "code": "3SHIFT-5D",
                    "name": "Three shifts, Monday to Friday",
                    "timezone": "Asia/Seoul",
                    "active": True,
                    "description": None,
                    "shifts": [],
                    "created_at": "2026-11-01T08:00:00Z",
                    "updated_at": "2026-11-01T08:00:00Z",
                }
            ]
        },
    )

    id: int
    code: str
    name: str
    timezone: str
    active: bool
    description: str | None
    shifts: list[ShiftOut]
    created_at: datetime
    updated_at: datetime


class AssignmentCreate(BaseModel):
    """Apply a pattern to a piece of equipment (and everything below it) from a day on."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"equipment_id": 1, "pattern_id": 1, "valid_from": "2026-01-01"}]
        },
    )

    equipment_id: int = Field(ge=1, le=2**31 - 1, examples=[1])
    pattern_id: int = Field(ge=1, le=2**31 - 1, examples=[1])
    valid_from: date = Field(examples=["2026-01-01"])
    valid_to: date | None = Field(default=None, description="first day it no longer applies")

    @model_validator(mode="after")
    def _ordered(self) -> AssignmentCreate:
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class AssignmentOut(OrmModel):
    """A pattern assignment."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "equipment_id": 1,
                    "equipment_code": "KNU",
                    "pattern_id": 1,
                    "pattern_code": "3SHIFT-5D",
                    "valid_from": "2026-01-01",
                    "valid_to": None,
                    "created_at": "2026-11-01T08:00:00Z",
                }
            ]
        },
    )

    id: int
    equipment_id: int
    equipment_code: str
    pattern_id: int
    pattern_code: str
    valid_from: date
    valid_to: date | None
    created_at: datetime


class IntervalOut(BaseModel):
    """A UTC time interval."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"start": "2026-12-01T21:00:00Z", "end": "2026-12-02T01:00:00Z"}]
        }
    )

    start: datetime
    end: datetime


class ShiftInstanceOut(BaseModel):
    """A dated occurrence of a shift for a piece of equipment."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pattern_id": 1,
                    "pattern_code": "3SHIFT-5D",
                    "shift_id": 2,
                    "shift_code": "A",
                    "shift_name": "Early",
                    "day": "2026-12-01",
                    "start": "2026-11-30T21:00:00Z",
                    "end": "2026-12-01T05:00:00Z",
                    "planned_seconds": 27000,
                    "planned": [],
                }
            ]
        }
    )

    pattern_id: int
    pattern_code: str
    shift_id: int
    shift_code: str
    shift_name: str
    day: date = Field(description="local day the shift starts on")
    start: datetime
    end: datetime
    planned_seconds: float = Field(description="working time inside the asked range")
    planned: list[IntervalOut] = Field(description="working intervals inside the asked range")


class PlannedTimeOut(BaseModel):
    """Planned production time of a piece of equipment in [start, end)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "equipment_id": 6,
                    "start": "2026-12-01T00:00:00Z",
                    "end": "2026-12-02T00:00:00Z",
                    "planned_seconds": 81000,
                    "shifts": [],
                }
            ]
        }
    )

    equipment_id: int
    start: datetime
    end: datetime
    planned_seconds: float
    shifts: list[ShiftInstanceOut]


class ShiftAtOut(BaseModel):
    """The shift containing a moment, if any."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"equipment_id": 6, "at": "2026-12-01T02:00:00Z", "shift": None}]
        }
    )

    equipment_id: int
    at: datetime
    shift: ShiftInstanceOut | None
    in_break: bool = Field(
        default=False, description="the moment is in a break or non-working period"
    )
