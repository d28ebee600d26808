"""State spans, stops, rules and counter increments: properties over generated readings."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.states.derive import (
    U32,
    MachineState,
    Point,
    Rule,
    Span,
    StopClass,
    counter_delta,
    increments,
    rule_points,
    spans,
    state_value,
    stops,
)

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
S = MachineState


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


readings = st.lists(
    st.tuples(st.integers(0, 3599), st.sampled_from([-1, 0, 1, 2, 3, 4, 5, 6])),
    min_size=1,
    max_size=60,
    unique_by=lambda r: r[0],
).map(sorted)


def as_points(rows: list[tuple[int, int]]) -> list[Point]:
    return [Point(at(s), None if v == -1 else float(v), -32768 if v == -1 else 0) for s, v in rows]


def value_at(rows: list[tuple[int, int]], second: float) -> int | None:
    """The step function by hand: the newest reading at or before `second`."""
    state = None
    for s, v in rows:
        if s <= second:
            state = v
    return state


@given(readings)
def test_spans_are_the_step_function_of_the_readings(rows: list[tuple[int, int]]) -> None:
    out = spans(as_points(rows), start=T0, end=at(3600))
    assert out[0].start == at(rows[0][0]) and out[-1].end == at(3600)
    for a, b in itertools.pairwise(out):
        assert a.end == b.start and (a.state, a.planned) != (b.state, b.planned)
    for span in out:
        for probe in (span.start, span.start + (span.end - span.start) / 2):
            assert span.state == value_at(rows, (probe - T0).total_seconds())


@given(readings, st.sampled_from([0, 1, 2, 5, 6]), st.integers(1, 3599))
def test_splitting_at_any_instant_gives_the_same_timeline(
    rows: list[tuple[int, int]], prior: int, cut: int
) -> None:
    """What hour-by-hour recomputation relies on: [a, c) == [a, b) + [b, c) with b's prior."""
    points = as_points(rows)
    whole = spans(points, start=T0, end=at(3600), prior_state=prior, prior_real=prior)
    first = spans(points, start=T0, end=at(cut), prior_state=prior, prior_real=prior)
    state_at_cut = first[-1].state
    real = [s.state for s in first if s.state not in (S.MAINTENANCE, S.UNKNOWN)]
    second = spans(
        points, start=at(cut), end=at(3600), prior_state=state_at_cut,
        prior_real=real[-1] if real else prior,
    )  # fmt: skip
    joined = [*first, *second]
    merged: list[Span] = []
    for span in joined:
        if merged and (merged[-1].state, merged[-1].planned) == (span.state, span.planned):
            merged[-1] = Span(merged[-1].start, span.end, span.state, span.planned)
        else:
            merged.append(span)
    assert merged == whole


def test_maintenance_after_down_is_repair_otherwise_planned() -> None:
    points = as_points([(0, 2), (10, 5), (20, 6), (30, 1), (40, 2), (50, 6), (60, 2)])
    out = spans(points, start=T0, end=at(70))
    assert [(s.state, s.planned) for s in out] == [
        (2, False), (5, False), (6, False), (1, False), (2, False), (6, True), (2, False),
    ]  # fmt: skip
    assert [s.cls for s in stops(out)] == [
        StopClass.BREAKDOWN, StopClass.SETUP, StopClass.PLANNED_MAINTENANCE,
    ]  # fmt: skip
    assert stops(out)[0].seconds == 20  # down and the repair that follows are one breakdown
    forced = spans(points, start=T0, end=at(70), maintenance="unplanned")
    assert not any(s.planned for s in forced)


def test_a_repair_carried_into_the_window_stays_a_repair() -> None:
    out = spans(
        as_points([(30, 2)]), start=T0, end=at(60), prior_state=S.MAINTENANCE, prior_real=S.DOWN
    )
    assert [(s.state, s.planned, s.seconds) for s in out] == [(6, False, 30.0), (2, False, 30.0)]


def test_bad_and_out_of_range_values_are_unknown() -> None:
    assert state_value(float("nan"), 0) == S.UNKNOWN
    assert state_value(2.5, 0) == S.UNKNOWN
    assert state_value(6, 0x4000) == 6  # uncertain quality still carries the value


def test_rules_derive_states_from_speed_and_current() -> None:
    rules = [Rule("spindle_speed", ">", 50, S.RUNNING), Rule("motor_current", ">", 0.5, S.IDLE)]
    series = {
        "spindle_speed": [Point(at(10), 1500), Point(at(30), 0)],
        "motor_current": [Point(at(30), 3.0), Point(at(40), 0.0)],
    }
    priors = {"spindle_speed": Point(at(-5), 0.0), "motor_current": Point(at(-5), 0.0)}
    points, prior = rule_points(series, priors, rules, default=S.DOWN)
    assert prior == S.DOWN
    assert [(int((p.ts - T0).total_seconds()), p.value) for p in points] == [
        (10, 2.0), (30, 0.0), (40, 5.0),
    ]  # fmt: skip
    missing, before = rule_points(series, {}, rules, default=S.IDLE)
    assert before is None and missing[0].value == S.UNKNOWN  # current not known yet


@st.composite
def counter_history(draw: st.DrawFn) -> tuple[list[int], int]:
    """Readings of a uint32 counter that counts parts, wraps and is sometimes reset.

    Only distinguishable histories: a reset shows as a drop (fewer parts since the reset than
    before it) from below half the range (a drop from above it reads as a rollover)."""
    value = draw(st.integers(0, U32 - 1))
    readings, produced = [value], 0
    for _ in range(draw(st.integers(0, 40))):
        if 0 < value < U32 // 2 and draw(st.integers(0, 9)) == 0:
            made = draw(st.integers(0, value - 1))  # reset, then `made` parts before the reading
            value = made
        else:
            made = draw(st.integers(0, 5000))
            value = (value + made) % U32
        produced += made
        readings.append(value)
    return readings, produced


@given(counter_history())
@settings(max_examples=300)
def test_increments_add_up_to_the_parts_made(history: tuple[list[int], int]) -> None:
    values, produced = history
    points = [Point(at(i), float(v)) for i, v in enumerate(values)]
    assert sum(n for _, n in increments(points[1:], points[0])) == produced
    assert all(n > 0 for _, n in increments(points, None))


def test_counter_rollover_reset_and_bad_readings() -> None:
    assert counter_delta(U32 - 2, 1) == 3
    assert counter_delta(1000, 0) == 0
    bad = [Point(at(1), 5.0), Point(at(2), 9999.0, -32768), Point(at(3), 7.0)]
    assert [n for _, n in increments(bad, Point(at(0), 4.0))] == [1, 2]
