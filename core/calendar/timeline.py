"""Pure shift arithmetic: expand a weekly pattern into dated shift instances in UTC, subtract
breaks and non-working periods, validate shift sets. No I/O, so it is tested directly.

Local wall-clock times are converted with the pattern's IANA time zone, so a shift across a
daylight-saving change lasts what the clock says it lasts (e.g. 7 h or 9 h for 22:00-06:00).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class ShiftDef:
    """A shift of a pattern in local wall-clock time."""

    shift_id: int
    code: str
    name: str
    start: time
    end: time
    days: frozenset[int]  # ISO weekdays the shift starts on
    breaks: tuple[tuple[time, time], ...] = ()


@dataclass(frozen=True, slots=True)
class PatternDef:
    """A pattern ready for expansion."""

    pattern_id: int
    code: str
    tz: ZoneInfo
    shifts: tuple[ShiftDef, ...]
    non_working: tuple[Interval, ...] = ()


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    """One dated occurrence of a shift; `planned` is its working time (breaks and non-working
    periods removed), all in UTC."""

    pattern_id: int
    pattern_code: str
    shift_id: int
    shift_code: str
    shift_name: str
    day: date
    start: datetime
    end: datetime
    planned: tuple[Interval, ...] = field(default=())

    def planned_within(self, start: datetime, end: datetime) -> list[Interval]:
        """The planned intervals clipped to [start, end)."""
        return clip(self.planned, start, end)


def minutes(t: time) -> int:
    """Minutes after midnight.

    >>> minutes(time(6, 30))
    390
    """
    return t.hour * 60 + t.minute


def length_minutes(start: time, end: time) -> int:
    """Wall-clock length of a shift; an end at or before the start is on the next day.

    >>> length_minutes(time(6), time(14)), length_minutes(time(22), time(6))
    (480, 480)
    >>> length_minutes(time(6), time(6))
    1440
    """
    return (minutes(end) - minutes(start)) % DAY_MINUTES or DAY_MINUTES


def _local(day: date, t: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, t, tzinfo=tz).astimezone(UTC)


def subtract(interval: Interval, holes: Iterable[Interval]) -> list[Interval]:
    """The parts of `interval` outside every hole.

    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> h = timedelta(hours=1)
    >>> [(a.hour, b.hour) for a, b in subtract((t, t + 8 * h), [(t + 2 * h, t + 3 * h)])]
    [(0, 2), (3, 8)]
    """
    parts = [interval]
    for hole_start, hole_end in sorted(holes):
        result = []
        for start, end in parts:
            if hole_end <= start or hole_start >= end:
                result.append((start, end))
                continue
            if start < hole_start:
                result.append((start, hole_start))
            if hole_end < end:
                result.append((hole_end, end))
        parts = result
    return parts


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """Intervals cut to [start, end), empty ones dropped."""
    out = []
    for a, b in intervals:
        a, b = max(a, start), min(b, end)
        if a < b:
            out.append((a, b))
    return out


def total(intervals: Iterable[Interval]) -> timedelta:
    """Summed length."""
    return sum((b - a for a, b in intervals), timedelta())


def occurrences(pattern: PatternDef, day: date) -> list[ShiftInstance]:
    """The pattern's shifts that start on local `day`."""
    out = []
    for shift in pattern.shifts:
        if day.isoweekday() not in shift.days:
            continue
        start = _local(day, shift.start, pattern.tz)
        end_day = day if minutes(shift.end) > minutes(shift.start) else day + timedelta(days=1)
        end = _local(end_day, shift.end, pattern.tz)
        breaks = []
        for b_start, b_end in shift.breaks:
            b_day = day if minutes(b_start) >= minutes(shift.start) else day + timedelta(days=1)
            b_end_day = b_day if minutes(b_end) > minutes(b_start) else b_day + timedelta(days=1)
            breaks.append(
                (_local(b_day, b_start, pattern.tz), _local(b_end_day, b_end, pattern.tz))
            )
        planned = subtract((start, end), [*breaks, *pattern.non_working])
        out.append(
            ShiftInstance(
                pattern_id=pattern.pattern_id,
                pattern_code=pattern.code,
                shift_id=shift.shift_id,
                shift_code=shift.code,
                shift_name=shift.name,
                day=day,
                start=start,
                end=end,
                planned=tuple(planned),
            )
        )
    return out


def _weekly(shift_days: Iterable[int], start: time, end: time) -> list[tuple[int, int]]:
    """Minute ranges in the week [0, 10080) the shift covers (wrapping Sunday -> Monday)."""
    ranges = []
    length = length_minutes(start, end)
    for day in shift_days:
        a = (day - 1) * DAY_MINUTES + minutes(start)
        b = a + length
        if b <= WEEK_MINUTES:
            ranges.append((a, b))
        else:
            ranges += [(a, WEEK_MINUTES), (0, b - WEEK_MINUTES)]
    return ranges


def shift_set_problem(shifts: Sequence[ShiftDef]) -> str | None:
    """Why a set of shifts is not a valid pattern (overlaps, breaks outside their shift,
    overlapping breaks), or None.

    >>> a = ShiftDef(1, "A", "Early", time(6), time(14), frozenset({1, 2}))
    >>> b = ShiftDef(2, "B", "Late", time(13), time(22), frozenset({2}))
    >>> shift_set_problem([a, b])
    'shifts A and B overlap'
    >>> shift_set_problem([a, ShiftDef(3, "N", "Night", time(22), time(6), frozenset({7}))])
    """
    for shift in shifts:
        length = length_minutes(shift.start, shift.end)
        spans = []
        for b_start, b_end in shift.breaks:
            offset = (minutes(b_start) - minutes(shift.start)) % DAY_MINUTES
            span = (minutes(b_end) - minutes(b_start)) % DAY_MINUTES
            if offset + span > length:
                return f"a break of shift {shift.code} lies outside the shift"
            spans.append((offset, offset + span))
        spans.sort()
        for (_, first_end), (second_start, _) in itertools.pairwise(spans):
            if second_start < first_end:
                return f"breaks of shift {shift.code} overlap"
    weekly = [(s.code, r) for s in shifts for r in _weekly(s.days, s.start, s.end)]
    for i, (code_a, (a1, a2)) in enumerate(weekly):
        for code_b, (b1, b2) in weekly[i + 1 :]:
            if a1 < b2 and b1 < a2:
                if code_a == code_b:
                    return f"shift {code_a} overlaps itself on consecutive days"
                return f"shifts {code_a} and {code_b} overlap"
    return None
