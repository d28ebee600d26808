"""Where a work order runs when (pure): its transitions give the periods it is in progress or
paused, its dispatches say on which equipment (the whole order, or each operation)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

ACTIVE = frozenset({"in_progress", "paused"})


@dataclass(frozen=True, slots=True)
class Transition:
    """The order entered `to_status` at `at`."""

    at: datetime
    to_status: str


@dataclass(frozen=True, slots=True)
class Dispatch:
    """From `at`, the order (operation_id None) or one operation is on `equipment_id`."""

    at: datetime
    equipment_id: int
    operation_id: int | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """The operation (or the order) runs on the equipment in [start, end); end None: open."""

    operation_id: int | None
    equipment_id: int
    start: datetime
    end: datetime | None

    def contains(self, ts: datetime) -> bool:
        """True when `ts` falls in the run."""
        return self.start <= ts and (self.end is None or ts < self.end)


def active_periods(transitions: Iterable[Transition]) -> list[tuple[datetime, datetime | None]]:
    """Periods the order is in progress or paused (the last one open while it still is).

    >>> from datetime import UTC
    >>> t = lambda h: datetime(2026, 1, 1, h, tzinfo=UTC)
    >>> steps = [Transition(t(1), "released"), Transition(t(2), "in_progress"),
    ...          Transition(t(3), "paused"), Transition(t(4), "in_progress"),
    ...          Transition(t(5), "completed")]
    >>> [(a.hour, b.hour) for a, b in active_periods(steps)]
    [(2, 5)]
    """
    out: list[tuple[datetime, datetime | None]] = []
    since: datetime | None = None
    for step in sorted(transitions, key=lambda s: s.at):
        if step.to_status in ACTIVE:
            if since is None:
                since = step.at
        elif since is not None:
            if step.at > since:
                out.append((since, step.at))
            since = None
    if since is not None:
        out.append((since, None))
    return out


def _assignments(
    dispatches: Sequence[Dispatch],
) -> list[tuple[datetime, datetime | None, int]]:
    """(from, until, equipment) of one target's dispatches, each until the next."""
    ordered = sorted(dispatches, key=lambda d: d.at)
    out = []
    for i, d in enumerate(ordered):
        until = ordered[i + 1].at if i + 1 < len(ordered) else None
        if until is None or until > d.at:
            out.append((d.at, until, d.equipment_id))
    return out


def _overlap(
    a: tuple[datetime, datetime | None], b: tuple[datetime, datetime | None]
) -> tuple[datetime, datetime | None] | None:
    start = max(a[0], b[0])
    ends = [e for e in (a[1], b[1]) if e is not None]
    end = min(ends) if ends else None
    if end is not None and end <= start:
        return None
    return start, end


def _subtract(run: Run, holes: Iterable[Run]) -> list[Run]:
    """The parts of `run` not covered by `holes` (runs on the same equipment)."""
    parts = [run]
    for hole in holes:
        kept = []
        for part in parts:
            overlap = _overlap((part.start, part.end), (hole.start, hole.end))
            if overlap is None:
                kept.append(part)
                continue
            if part.start < overlap[0]:
                kept.append(Run(part.operation_id, part.equipment_id, part.start, overlap[0]))
            if overlap[1] is not None and (part.end is None or overlap[1] < part.end):
                kept.append(Run(part.operation_id, part.equipment_id, overlap[1], part.end))
        parts = kept
    return parts


def runs(
    transitions: Iterable[Transition],
    dispatches: Iterable[Dispatch],
    order_operation: Mapping[int, int | None],
) -> list[Run]:
    """The runs of one order. `order_operation` names, per equipment the whole order was
    dispatched to, the operation its counts go to (None for an order without operations).
    Operation dispatches win over the order's own on the same equipment.

    >>> from datetime import UTC
    >>> t = lambda h: datetime(2026, 1, 1, h, tzinfo=UTC)
    >>> steps = [Transition(t(2), "in_progress"), Transition(t(6), "completed")]
    >>> moves = [Dispatch(t(1), 7, 70), Dispatch(t(4), 8, 70), Dispatch(t(1), 9)]
    >>> [(r.operation_id, r.equipment_id, r.start.hour, r.end.hour)
    ...  for r in runs(steps, moves, {9: 71})]
    [(70, 7, 2, 4), (71, 9, 2, 6), (70, 8, 4, 6)]
    """
    periods = active_periods(transitions)
    by_target: dict[int | None, list[Dispatch]] = {}
    for d in dispatches:
        by_target.setdefault(d.operation_id, []).append(d)
    operation_runs: list[Run] = []
    order_runs: list[Run] = []
    for target, items in by_target.items():
        for since, until, equipment in _assignments(items):
            for period in periods:
                overlap = _overlap((since, until), period)
                if overlap is None:
                    continue
                if target is None:
                    op = order_operation.get(equipment)
                    order_runs.append(Run(op, equipment, overlap[0], overlap[1]))
                else:
                    operation_runs.append(Run(target, equipment, overlap[0], overlap[1]))
    out = list(operation_runs)
    for run in order_runs:
        same = [r for r in operation_runs if r.equipment_id == run.equipment_id]
        out += _subtract(run, same)
    return sorted(out, key=lambda r: (r.start, r.equipment_id, r.operation_id or 0))


def changed_spans(
    old: Sequence[Run], new: Sequence[Run], *, now: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Per equipment, the stretches where the order/operation counting on it differs between
    two sets of runs (open runs count until `now`).

    >>> from datetime import UTC
    >>> t = lambda h: datetime(2026, 1, 1, h, tzinfo=UTC)
    >>> changed_spans([Run(1, 7, t(2), None)], [Run(1, 7, t(2), t(5))], now=t(9))
    {7: [(datetime.datetime(2026, 1, 1, 5, 0, tzinfo=datetime.timezone.utc), \
datetime.datetime(2026, 1, 1, 9, 0, tzinfo=datetime.timezone.utc))]}
    """
    out: dict[int, list[tuple[datetime, datetime]]] = {}
    for equipment in {r.equipment_id for r in (*old, *new)}:
        a = [r for r in old if r.equipment_id == equipment]
        b = [r for r in new if r.equipment_id == equipment]
        cuts = sorted(
            {now}
            | {r.start for r in (*a, *b) if r.start < now}
            | {r.end for r in (*a, *b) if r.end is not None and r.end < now}
        )
        spans: list[tuple[datetime, datetime]] = []
        for lo, hi in itertools.pairwise(cuts):
            mid = lo + (hi - lo) / 2
            if {r.operation_id for r in a if r.contains(mid)} != {
                r.operation_id for r in b if r.contains(mid)
            }:
                if spans and spans[-1][1] == lo:
                    spans[-1] = (spans[-1][0], hi)
                else:
                    spans.append((lo, hi))
        if spans:
            out[equipment] = spans
    return out
