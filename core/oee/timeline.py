"""OEE facts of one piece of equipment over a window, from its state spans, its planned time,
its downtime events and its counted parts (pure; the service loads the inputs).

Every instant of planned time inside the window is exactly one of: running, a planned stop,
a stop (availability loss, by loss category), a minor stop (a stop shorter than the
threshold; performance loss) or no data. Downtime events decide over non-running time: a
planned event makes a planned stop, an unplanned one a stop of its reason's loss category.
Without an event, planned maintenance is a planned stop and other stops are classified by
their length and class. Parts count in the minute they were counted, if that minute starts in
planned time; scrap soon after a setup, breakdown or maintenance is reduced yield.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.oee.calc import LOSS_CATEGORIES, OeeFacts
from core.states.derive import DEFAULT_LOSS, MachineState, Span, Stop, StopClass, stops

Interval = tuple[datetime, datetime]
STARTUP_AFTER = frozenset({StopClass.SETUP, StopClass.BREAKDOWN, StopClass.PLANNED_MAINTENANCE})
FALLBACK_LOSS = "equipment_failure"


@dataclass(frozen=True, slots=True)
class EventSpan:
    """A downtime event as OEE sees it (open events end where the data ends)."""

    id: int
    start: datetime
    end: datetime
    planned: bool
    loss_category: str | None


@dataclass(frozen=True, slots=True)
class PartCount:
    """Parts counted in one minute, with the ideal cycle time that applied."""

    minute: datetime
    good: int
    scrap: int
    ideal_cycle_s: float | None


def merge(intervals: Sequence[Interval], start: datetime, end: datetime) -> list[Interval]:
    """Intervals clipped to [start, end), sorted, overlapping or touching ones joined.

    >>> from datetime import UTC
    >>> t = lambda h: datetime(2026, 1, 1, h, tzinfo=UTC)
    >>> [(a.hour, b.hour) for a, b in merge([(t(5), t(8)), (t(1), t(3)), (t(2), t(4))], t(0), t(7))]
    [(1, 4), (5, 7)]
    """
    out: list[Interval] = []
    for a, b in sorted((max(a, start), min(b, end)) for a, b in intervals):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _find(starts: list[datetime], ends: list[datetime], at: datetime) -> int | None:
    """Index of the interval containing `at` (intervals sorted and not overlapping)."""
    index = bisect.bisect_right(starts, at) - 1
    if index >= 0 and at < ends[index]:
        return index
    return None


def facts(
    *,
    start: datetime,
    end: datetime,
    planned: Sequence[Interval],
    spans: Sequence[Span],
    events: Sequence[EventSpan] = (),
    parts: Sequence[PartCount] = (),
    micro_stop_s: float,
    startup_s: float = 0.0,
) -> OeeFacts:
    """The facts of [start, end). `spans` should reach `micro_stop_s` beyond the window on
    both sides (so a stop crossing its edges is classified by its whole length).

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> m = lambda a, b, s: Span(t + timedelta(minutes=a), t + timedelta(minutes=b), s)
    >>> f = facts(start=t, end=t + timedelta(hours=1), planned=[(t, t + timedelta(hours=1))],
    ...           spans=[m(0, 40, 2), m(40, 41, 4), m(41, 50, 2), m(50, 60, 5)],
    ...           parts=[PartCount(t, 90, 10, 25.0)], micro_stop_s=120)
    >>> f.run_s, f.micro_stop_s, f.stop_equipment_failure_s, f.ideal_s
    (2940.0, 60.0, 600.0, 2500.0)
    """
    window = merge(planned, start, end)
    if not window:
        return OeeFacts()
    ordered = sorted(spans, key=lambda s: s.start)
    all_stops = stops(ordered)
    stop_index: list[int | None] = []
    k = 0
    for span in ordered:
        cls = span.stop_class
        if cls is None:
            stop_index.append(None)
            continue
        while all_stops[k].end <= span.start:
            k += 1
        stop_index.append(k)
    span_starts = [s.start for s in ordered]
    span_ends = [s.end for s in ordered]
    evs = sorted(events, key=lambda e: e.start)
    ev_starts = [e.start for e in evs]
    ev_ends = [e.end for e in evs]
    win_starts = [a for a, _ in window]
    win_ends = [b for _, b in window]

    bounds = {start, end}
    for a, b in window:
        bounds.update((a, b))
    for s in ordered:
        bounds.update((s.start, s.end))
    for e in evs:
        bounds.update((e.start, e.end))
    cut = sorted(b for b in bounds if start <= b <= end)

    acc: dict[str, float] = {
        "calendar_s": 0.0,
        "planned_stop_s": 0.0,
        "no_data_s": 0.0,
        "run_s": 0.0,
        "micro_stop_s": 0.0,
    }
    loss_s = dict.fromkeys(LOSS_CATEGORIES, 0.0)
    counted_stops: set[int] = set()
    counted_events: set[int] = set()
    counted_micro: set[int] = set()
    for a, b in itertools.pairwise(cut):
        mid = a + (b - a) / 2
        if _find(win_starts, win_ends, mid) is None:
            continue
        length = (b - a).total_seconds()
        acc["calendar_s"] += length
        si = _find(span_starts, span_ends, mid)
        found = ordered[si] if si is not None else None
        if found is not None and found.state == MachineState.RUNNING:
            acc["run_s"] += length
            continue
        sk = stop_index[si] if si is not None else None
        stop: Stop | None = all_stops[sk] if sk is not None else None
        ei = _find(ev_starts, ev_ends, mid)
        if ei is not None:
            event = evs[ei]
            if event.planned:
                acc["planned_stop_s"] += length
            else:
                default = DEFAULT_LOSS.get(stop.cls) if stop is not None else None
                loss_s[event.loss_category or default or FALLBACK_LOSS] += length
                counted_events.add(event.id)
            continue
        if stop is None:
            acc["no_data_s"] += length
        elif stop.cls == StopClass.PLANNED_MAINTENANCE:
            acc["planned_stop_s"] += length
        elif stop.seconds >= micro_stop_s:
            loss_s[DEFAULT_LOSS[stop.cls] or FALLBACK_LOSS] += length
            counted_stops.add(sk)  # type: ignore[arg-type]
        else:
            acc["micro_stop_s"] += length
            counted_micro.add(sk)  # type: ignore[arg-type]

    startup = [
        (s.end, s.end + timedelta(seconds=startup_s))
        for s in all_stops
        if s.cls in STARTUP_AFTER and s.seconds >= micro_stop_s and startup_s > 0
    ]
    good = scrap = startup_scrap = 0
    ideal_s = ideal_good_s = ideal_startup_s = 0.0
    for row in parts:
        if not start <= row.minute < end or _find(win_starts, win_ends, row.minute) is None:
            continue
        cycle = row.ideal_cycle_s or 0.0
        good += row.good
        scrap += row.scrap
        ideal_s += (row.good + row.scrap) * cycle
        ideal_good_s += row.good * cycle
        if row.scrap and any(
            a - timedelta(seconds=a.second, microseconds=a.microsecond) <= row.minute < b
            for a, b in startup
        ):
            startup_scrap += row.scrap
            ideal_startup_s += row.scrap * cycle
    return OeeFacts(
        **acc,
        micro_stops=len(counted_micro),
        stops=len(counted_stops) + len(counted_events),
        **{f"stop_{k}_s": v for k, v in loss_s.items()},
        good=good,
        scrap=scrap,
        startup_scrap=startup_scrap,
        ideal_s=ideal_s,
        ideal_good_s=ideal_good_s,
        ideal_startup_scrap_s=ideal_startup_s,
    )
