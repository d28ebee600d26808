"""Shift arithmetic without a database: overnight shifts, breaks, DST, validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.calendar.timeline import (
    PatternDef,
    ShiftDef,
    occurrences,
    shift_set_problem,
    total,
)

NIGHT = ShiftDef(
    shift_id=1,
    code="C",
    name="Night",
    start=time(22),
    end=time(6),
    days=frozenset(range(1, 8)),
    breaks=((time(2), time(2, 30)),),
)


def pattern(
    tz: str, *shifts: ShiftDef, non_working: tuple[tuple[datetime, datetime], ...] = ()
) -> PatternDef:
    return PatternDef(
        pattern_id=1, code="P", tz=ZoneInfo(tz), shifts=shifts, non_working=non_working
    )


def test_overnight_shift_ends_next_day_and_break_is_removed() -> None:
    [night] = occurrences(pattern("Asia/Seoul", NIGHT), date(2026, 12, 1))
    assert night.start == datetime(2026, 12, 1, 13, tzinfo=UTC)  # 22:00 KST
    assert night.end == datetime(2026, 12, 1, 21, tzinfo=UTC)  # 06:00 KST next day
    assert night.planned == (
        (datetime(2026, 12, 1, 13, tzinfo=UTC), datetime(2026, 12, 1, 17, tzinfo=UTC)),
        (datetime(2026, 12, 1, 17, 30, tzinfo=UTC), datetime(2026, 12, 1, 21, tzinfo=UTC)),
    )
    assert total(night.planned) == timedelta(hours=7, minutes=30)


def test_daylight_saving_changes_the_length_of_a_night() -> None:
    berlin = pattern("Europe/Berlin", NIGHT)
    [spring] = occurrences(berlin, date(2026, 3, 28))  # clocks go 02:00 -> 03:00
    [autumn] = occurrences(berlin, date(2026, 10, 24))  # clocks go 03:00 -> 02:00
    assert spring.end - spring.start == timedelta(hours=7)
    assert autumn.end - autumn.start == timedelta(hours=9)


def test_weekdays_and_non_working_periods() -> None:
    early = ShiftDef(2, "A", "Early", time(6), time(14), frozenset({1, 2, 3, 4, 5}))
    holiday = (datetime(2026, 12, 1, 0, tzinfo=UTC), datetime(2026, 12, 1, 2, tzinfo=UTC))
    p = pattern("UTC", early, non_working=(holiday,))
    assert occurrences(p, date(2026, 12, 5)) == []  # a Saturday
    [tuesday] = occurrences(p, date(2026, 12, 1))
    assert total(tuesday.planned) == timedelta(hours=8)  # holiday ends before the shift
    p2 = pattern("UTC", early, non_working=((holiday[0], datetime(2026, 12, 1, 10, tzinfo=UTC)),))
    [cut] = occurrences(p2, date(2026, 12, 1))
    assert total(cut.planned) == timedelta(hours=4)


def test_shift_set_problems_are_named() -> None:
    a = ShiftDef(1, "A", "Early", time(6), time(14), frozenset({1}))
    late = ShiftDef(2, "B", "Late", time(13), time(21), frozenset({1}))
    sunday_night = ShiftDef(3, "N", "Night", time(22), time(7), frozenset({7}))
    bad_break = ShiftDef(4, "X", "X", time(6), time(14), frozenset({3}), ((time(13), time(15)),))
    two_breaks = ShiftDef(
        5,
        "Y",
        "Y",
        time(6),
        time(14),
        frozenset({4}),
        ((time(9), time(10)), (time(9, 30), time(11))),
    )
    assert shift_set_problem([a, late]) == "shifts A and B overlap"
    assert shift_set_problem([a, sunday_night]) == "shifts A and N overlap"  # wraps into Monday
    assert shift_set_problem([bad_break]) == "a break of shift X lies outside the shift"
    assert shift_set_problem([two_breaks]) == "breaks of shift Y overlap"
    night = ShiftDef(6, "C", "Night", time(22), time(6), frozenset({1, 2}))
    assert shift_set_problem([a, night]) is None
