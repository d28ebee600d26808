"""Work-order runs from transitions and dispatches, and what changes when they change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.counters.runs import Dispatch, Run, Transition, active_periods, changed_spans, runs

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_paused_time_counts_cancelled_and_completed_end_the_run() -> None:
    steps = [
        Transition(h(0), "planned"), Transition(h(1), "released"), Transition(h(2), "in_progress"),
        Transition(h(3), "paused"), Transition(h(4), "in_progress"), Transition(h(5), "completed"),
    ]  # fmt: skip
    assert active_periods(steps) == [(h(2), h(5))]
    assert active_periods([Transition(h(1), "in_progress")]) == [(h(1), None)]
    assert active_periods([Transition(h(1), "released"), Transition(h(2), "cancelled")]) == []


def test_a_redispatch_moves_the_counting_to_the_new_machine() -> None:
    steps = [Transition(h(1), "in_progress")]
    moves = [Dispatch(h(0), 7), Dispatch(h(3), 8)]
    assert runs(steps, moves, {7: 70, 8: 70}) == [Run(70, 7, h(1), h(3)), Run(70, 8, h(3), None)]


def test_operation_dispatch_wins_over_the_order_dispatch_on_the_same_machine() -> None:
    steps = [Transition(h(1), "in_progress"), Transition(h(5), "completed")]
    moves = [
        Dispatch(h(0), 7),
        Dispatch(h(2), 7, operation_id=71),
        Dispatch(h(4), 9, operation_id=71),
    ]
    got = runs(steps, moves, {7: 70})
    assert got == [
        Run(70, 7, h(1), h(2)),  # the whole order counts on op 70 until op 71 is put there
        Run(71, 7, h(2), h(4)),
        Run(70, 7, h(4), h(5)),
        Run(71, 9, h(4), h(5)),
    ]


def test_changed_spans_are_only_where_attribution_differs() -> None:
    old = [Run(1, 7, h(1), None), Run(2, 8, h(1), None)]
    new = [Run(1, 7, h(1), h(3)), Run(2, 8, h(1), None)]
    assert changed_spans(old, new, now=h(6)) == {7: [(h(3), h(6))]}
    assert changed_spans(new, new, now=h(6)) == {}
