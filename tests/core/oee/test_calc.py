"""OEE math and the timeline classification: identities that hold for any plant history."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.oee import calc
from core.oee.calc import OeeFacts
from core.oee.timeline import EventSpan, PartCount, facts
from core.states.derive import Span

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@st.composite
def histories(draw: st.DrawFn) -> dict[str, object]:
    """A random hour: state spans (with gaps), breaks, events, parts at one ideal cycle time."""
    cuts = sorted(draw(st.sets(st.integers(1, 3599), min_size=1, max_size=40)))
    bounds = [0, *cuts, 3600]
    spans = []
    for a, b in itertools.pairwise(bounds):
        state = draw(st.sampled_from([-1, 0, 1, 2, 2, 2, 3, 4, 5, 6, None]))
        if state is not None:
            spans.append(Span(at(a), at(b), state, planned=state == 6 and draw(st.booleans())))
    planned = [(T0, at(1800)), (at(2100), at(3600))]  # a 5-minute break
    events = []
    if draw(st.booleans()):
        a = draw(st.integers(0, 3000))
        events.append(
            EventSpan(
                1, at(a), at(a + draw(st.integers(1, 599))), draw(st.booleans()),
                draw(st.sampled_from([None, "equipment_failure", "reduced_yield"])),
            )
        )  # fmt: skip
    cycle = draw(st.floats(1, 60))
    parts = [
        PartCount(
            T0 + timedelta(minutes=m), draw(st.integers(0, 5)), draw(st.integers(0, 2)), cycle
        )
        for m in sorted(draw(st.sets(st.integers(0, 59), max_size=30)))
    ]
    return {
        "planned": planned,
        "spans": spans,
        "events": events,
        "parts": parts,
        "micro_stop_s": draw(st.sampled_from([0, 30, 120, 600])),
        "startup_s": draw(st.sampled_from([0, 300])),
    }


@given(histories())
@settings(max_examples=300)
def test_every_planned_second_is_classified_once(history: dict[str, object]) -> None:
    f = facts(start=T0, end=T0 + HOUR, **history)  # type: ignore[arg-type]
    assert math.isclose(f.calendar_s, 3300)
    parts = f.run_s + f.micro_stop_s + f.planned_stop_s + f.no_data_s + f.downtime_s
    assert math.isclose(parts, f.calendar_s)
    assert math.isclose(f.operating_s, f.run_s + f.micro_stop_s, abs_tol=1e-6)
    assert f.startup_scrap <= f.scrap


@given(histories())
@settings(max_examples=300)
def test_losses_and_fully_productive_time_add_up_to_planned_time(
    history: dict[str, object],
) -> None:
    f = facts(start=T0, end=T0 + HOUR, **history)  # type: ignore[arg-type]
    lost = sum(calc.losses(f).values())
    assert set(calc.losses(f)) == set(calc.LOSS_CATEGORIES)
    assert math.isclose(lost + calc.fully_productive_s(f), f.planned_s, abs_tol=1e-6)


@given(histories())
@settings(max_examples=300)
def test_oee_is_fully_productive_over_planned_time(history: dict[str, object]) -> None:
    f = facts(start=T0, end=T0 + HOUR, **history)  # type: ignore[arg-type]
    value = calc.oee(f)
    if value is None:  # undefined only without planned production time, and it says why
        assert f.planned_s < calc.MIN_DENOMINATOR and calc.undefined_reason(f) is not None
        return
    assert calc.undefined_reason(f) is None
    assert math.isclose(value, f.ideal_good_s / f.planned_s, rel_tol=1e-9, abs_tol=1e-12)
    availability = calc.availability(f)
    assert availability is not None and 0 <= availability <= 1 + 1e-9


@given(histories(), st.integers(1, 59))
@settings(max_examples=200)
def test_facts_of_two_halves_add_up_to_the_whole(history: dict[str, object], minute: int) -> None:
    whole = facts(start=T0, end=T0 + HOUR, **history)  # type: ignore[arg-type]
    cut = T0 + timedelta(minutes=minute)
    left = facts(start=T0, end=cut, **history)  # type: ignore[arg-type]
    right = facts(start=cut, end=T0 + HOUR, **history)  # type: ignore[arg-type]
    both = left + right
    for name in ("calendar_s", "run_s", "micro_stop_s", "planned_stop_s", "no_data_s"):
        assert math.isclose(getattr(both, name), getattr(whole, name), abs_tol=1e-6), name
    assert math.isclose(both.downtime_s, whole.downtime_s, abs_tol=1e-6)
    assert (both.good, both.scrap, both.startup_scrap) == (
        whole.good, whole.scrap, whole.startup_scrap,
    )  # fmt: skip


def test_a_worked_example() -> None:
    """One hour: 50 min running, a 2-minute jam (minor stop), an 8-minute breakdown with its
    event, 5 minutes of setup; 100 parts at 25 s, 10 of them scrap, 2 right after the setup."""
    spans = [
        Span(T0, at(1800), 2),
        Span(at(1800), at(1920), 4),  # 2-minute starvation: under the 5-minute threshold
        Span(at(1920), at(2400), 2),
        Span(at(2400), at(2880), 5),  # 8 minutes down
        Span(at(2880), at(3180), 1),  # 5 minutes setup
        Span(at(3180), at(3600), 2),
    ]
    events = [EventSpan(7, at(2400), at(2880), False, "equipment_failure")]
    parts = [
        PartCount(T0, 54, 4, 25.0),
        PartCount(at(2400), 28, 4, 25.0),
        PartCount(at(3180), 8, 2, 25.0),  # the minute the setup ended: startup scrap
    ]
    f = facts(
        start=T0, end=T0 + HOUR, planned=[(T0, T0 + HOUR)], spans=spans, events=events,
        parts=parts, micro_stop_s=300, startup_s=300,
    )  # fmt: skip
    assert (f.run_s, f.micro_stop_s, f.micro_stops) == (2700, 120, 1)
    assert (f.stop_equipment_failure_s, f.stop_setup_adjustment_s, f.stops) == (480, 300, 2)
    assert (f.good, f.scrap, f.startup_scrap) == (90, 10, 2)
    assert calc.availability(f) == pytest.approx(2820 / 3600)
    assert calc.performance(f) == pytest.approx(100 * 25 / 2820)
    assert calc.quality(f) == pytest.approx(0.9)
    assert calc.oee(f) == pytest.approx(90 * 25 / 3600)
    assert calc.losses(f) == pytest.approx(
        {
            "equipment_failure": 480, "setup_adjustment": 300, "idling_minor_stops": 120,
            "reduced_speed": 2700 - 2500, "process_defects": 8 * 25, "reduced_yield": 2 * 25,
        }
    )  # fmt: skip


def test_planned_events_and_maintenance_leave_planned_time() -> None:
    spans = [
        Span(T0, at(600), 6, planned=True),
        Span(at(600), at(1200), 0),
        Span(at(1200), at(3600), 2),
    ]
    meeting = EventSpan(3, at(600), at(1200), True, None)
    f = facts(
        start=T0, end=T0 + HOUR, planned=[(T0, T0 + HOUR)], spans=spans, events=[meeting],
        micro_stop_s=60,
    )  # fmt: skip
    assert f.planned_stop_s == 1200 and f.planned_s == 2400 and calc.availability(f) == 1


def test_no_planned_time_gives_no_factors() -> None:
    f = facts(start=T0, end=T0 + HOUR, planned=[], spans=[Span(T0, at(3600), 2)], micro_stop_s=60)
    assert f == OeeFacts()
    assert calc.oee(f) is None and calc.availability(f) is None
