"""Pure derivation of machine states and counted parts from readings (no I/O).

A state signal (or rules over other signals) becomes a step function: each reading sets the
state until the next one. Readings of Bad quality make the state unknown. Consecutive spans
of the same non-running class form one stop. Counters become increments, with resets and
uint32 rollovers handled.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

U32 = 1 << 32
MaintenancePolicy = Literal["auto", "planned", "unplanned"]


class MachineState(enum.IntEnum):
    """Values of the `state` signal (docs/demo-plant.md); UNKNOWN when the reading is Bad."""

    UNKNOWN = -1
    IDLE = 0
    SETUP = 1
    RUNNING = 2
    BLOCKED = 3
    STARVED = 4
    DOWN = 5
    MAINTENANCE = 6

    @property
    def label(self) -> str:
        """Lower-case name (`running`, `down`, ...)."""
        return self.name.lower()


class StopClass(enum.StrEnum):
    """What kind of stop a non-running state is; downtime events are made per class."""

    IDLE = "idle"
    SETUP = "setup"
    BLOCKED = "blocked"
    STARVED = "starved"
    BREAKDOWN = "breakdown"
    PLANNED_MAINTENANCE = "planned_maintenance"


DEFAULT_LOSS: dict[StopClass, str | None] = {
    StopClass.IDLE: "idling_minor_stops",
    StopClass.BLOCKED: "idling_minor_stops",
    StopClass.STARVED: "idling_minor_stops",
    StopClass.SETUP: "setup_adjustment",
    StopClass.BREAKDOWN: "equipment_failure",
    StopClass.PLANNED_MAINTENANCE: None,
}
"""The six-big-losses category of a stop without an assigned reason (None: planned stop)."""

STATE_NAMES = {s.label: s for s in MachineState}


@dataclass(frozen=True, slots=True)
class Point:
    """One stored reading."""

    ts: datetime
    value: float | None
    quality: int = 0


@dataclass(frozen=True, slots=True)
class Span:
    """[start, end) in one state; `planned` marks planned maintenance."""

    start: datetime
    end: datetime
    state: int
    planned: bool = False

    @property
    def stop_class(self) -> StopClass | None:
        """The stop class, None while running or unknown."""
        return stop_class(self.state, self.planned)

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Stop:
    """Consecutive spans of one stop class."""

    start: datetime
    end: datetime
    cls: StopClass

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()


def stop_class(state: int, planned: bool) -> StopClass | None:
    """The stop class of a state.

    >>> stop_class(5, False), stop_class(6, False), stop_class(6, True), stop_class(2, False)
    (<StopClass.BREAKDOWN: 'breakdown'>, <StopClass.BREAKDOWN: 'breakdown'>, \
<StopClass.PLANNED_MAINTENANCE: 'planned_maintenance'>, None)
    """
    match state:
        case MachineState.IDLE:
            return StopClass.IDLE
        case MachineState.SETUP:
            return StopClass.SETUP
        case MachineState.BLOCKED:
            return StopClass.BLOCKED
        case MachineState.STARVED:
            return StopClass.STARVED
        case MachineState.DOWN:
            return StopClass.BREAKDOWN
        case MachineState.MAINTENANCE:
            return StopClass.PLANNED_MAINTENANCE if planned else StopClass.BREAKDOWN
    return None


def state_value(value: float | None, quality: int) -> int:
    """The machine state a reading says; UNKNOWN for Bad quality or a value outside the enum.

    >>> state_value(2.0, 0), state_value(2.0, -32768), state_value(9, 0), state_value(None, 0)
    (2, -1, -1, -1)
    """
    if quality < 0 or value is None or not math.isfinite(value) or value != int(value):
        return int(MachineState.UNKNOWN)
    state = int(value)
    return state if 0 <= state <= 6 else int(MachineState.UNKNOWN)


def _maintenance_planned(policy: MaintenancePolicy, last_real: int | None) -> bool:
    if policy == "planned":
        return True
    if policy == "unplanned":
        return False
    return last_real != MachineState.DOWN


def spans(
    points: Iterable[Point],
    *,
    start: datetime,
    end: datetime,
    prior_state: int | None = None,
    prior_real: int | None = None,
    maintenance: MaintenancePolicy = "auto",
) -> list[Span]:
    """The state step function over [start, end) from time-ordered readings.

    `prior_state` is the state at `start` (None: no data until the first reading);
    `prior_real` the last state before it that was neither maintenance nor unknown. With the
    `auto` policy, maintenance entered from `down` is repair (a breakdown), any other
    maintenance is planned.

    >>> from datetime import UTC, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> pts = [Point(t + timedelta(seconds=s), v) for s, v in [(10, 2), (20, 2), (30, 5), (40, 6)]]
    >>> out = spans(pts, start=t, end=t + timedelta(seconds=60))
    >>> [(s.state, s.planned, s.seconds) for s in out]
    [(2, False, 20.0), (5, False, 10.0), (6, False, 20.0)]
    """
    out: list[Span] = []
    current = prior_state
    last_real = prior_real
    if current is not None and current not in (MachineState.MAINTENANCE, MachineState.UNKNOWN):
        last_real = current
    planned = current == MachineState.MAINTENANCE and _maintenance_planned(maintenance, last_real)
    since = start
    for point in points:
        if point.ts < start:
            continue
        if point.ts >= end:
            break
        state = state_value(point.value, point.quality)
        if state == current:
            continue
        if current is not None and point.ts > since:
            out.append(Span(since, point.ts, current, planned))
        if state == MachineState.MAINTENANCE:
            if current != MachineState.MAINTENANCE:
                planned = _maintenance_planned(maintenance, last_real)
        else:
            planned = False
            if state != MachineState.UNKNOWN:
                last_real = state
        current, since = state, point.ts
    if current is not None and end > since:
        out.append(Span(since, end, current, planned))
    return out


def stops(items: Iterable[Span]) -> list[Stop]:
    """Adjacent spans of the same stop class merged into stops (running and unknown end one).

    >>> from datetime import UTC, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = lambda a, b, st: Span(t + timedelta(seconds=a), t + timedelta(seconds=b), st)
    >>> found = stops([s(0, 5, 5), s(5, 9, 6), s(9, 10, 1), s(10, 20, 2)])
    >>> [(x.cls.value, x.seconds) for x in found]
    [('breakdown', 9.0), ('setup', 1.0)]
    """
    out: list[Stop] = []
    for span in items:
        cls = span.stop_class
        if cls is None:
            continue
        last = out[-1] if out else None
        if last is not None and last.cls == cls and last.end == span.start:
            out[-1] = Stop(last.start, span.end, cls)
        else:
            out.append(Stop(span.start, span.end, cls))
    return out


# --- rules over other signals ------------------------------------------------------------------

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class Rule:
    """`state` applies while `signal <op> value` (the first matching rule wins)."""

    signal: str
    op: str
    value: float
    state: int


def evaluate(latest: Mapping[str, Point | None], rules: Sequence[Rule], default: int) -> int:
    """The state the rules give for the latest values (UNKNOWN if a signal has none or is Bad).

    >>> rules = [Rule("speed", ">", 100, 2), Rule("current", ">", 1, 0)]
    >>> evaluate({"speed": Point(None, 500), "current": Point(None, 8)}, rules, 0)
    2
    >>> evaluate({"speed": Point(None, 0), "current": Point(None, 0.2)}, rules, 5)
    5
    """
    for name in {r.signal for r in rules}:
        point = latest.get(name)
        if point is None or point.quality < 0 or point.value is None:
            return int(MachineState.UNKNOWN)
    for rule in rules:
        value = latest[rule.signal]
        assert value is not None and value.value is not None
        if OPERATORS[rule.op](value.value, rule.value):
            return rule.state
    return default


def rule_points(
    series: Mapping[str, Sequence[Point]],
    priors: Mapping[str, Point | None],
    rules: Sequence[Rule],
    default: int,
) -> tuple[list[Point], int | None]:
    """State readings from rules over several signals: one per instant any of them changes,
    and the state before the first (None when no signal had a value before)."""
    latest: dict[str, Point | None] = dict(priors)
    known = any(p is not None for p in priors.values())
    prior = evaluate(latest, rules, default) if known else None
    merged = sorted(
        ((p.ts, name, p) for name, points in series.items() for p in points), key=lambda x: x[0]
    )
    out: list[Point] = []
    index = 0
    while index < len(merged):
        ts = merged[index][0]
        while index < len(merged) and merged[index][0] == ts:
            latest[merged[index][1]] = merged[index][2]
            index += 1
        out.append(Point(ts, float(evaluate(latest, rules, default)), 0))
    return out, prior


# --- counters ----------------------------------------------------------------------------------


def counter_delta(previous: int, value: int) -> int:
    """Parts counted between two readings of a counter: a drop by more than half the uint32
    range is a rollover, any other drop a reset (the new value counts since the reset).

    >>> counter_delta(10, 15), counter_delta(4294967290, 3), counter_delta(500, 20)
    (5, 9, 20)
    """
    if value >= previous:
        return value - previous
    if previous - value > U32 // 2:
        return value + U32 - previous
    return value


def _count(point: Point) -> int | None:
    value = point.value
    if point.quality < 0 or value is None or not math.isfinite(value) or value < 0:
        return None
    return round(value)


def increments(points: Iterable[Point], prior: Point | None) -> list[tuple[datetime, int]]:
    """(ts, parts) for each reading that advanced the counter; the first reading without a
    valid earlier one only sets the base. Bad readings are skipped.

    >>> from datetime import UTC, timedelta
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> pts = [Point(t + timedelta(seconds=i), v) for i, v in enumerate([7, 9, 9, 2, 4])]
    >>> [n for _, n in increments(pts, Point(t, 5))]
    [2, 2, 2, 2]
    """
    previous = _count(prior) if prior is not None else None
    out: list[tuple[datetime, int]] = []
    for point in points:
        value = _count(point)
        if value is None:
            continue
        if previous is not None:
            delta = counter_delta(previous, value)
            if delta:
                out.append((point.ts, delta))
        previous = value
    return out
