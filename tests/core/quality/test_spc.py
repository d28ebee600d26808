"""SPC functions: textbook values, each Nelson rule, capability, and properties that must hold
for any data (hypothesis)."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.quality import spc

# sigma of the range of n normal values (d3), for checking A2, D3 and D4 against d2
D3_SIGMA_OF_RANGE = {
    2: 0.853,
    3: 0.888,
    4: 0.880,
    5: 0.864,
    6: 0.848,
    7: 0.833,
    8: 0.820,
    9: 0.808,
    10: 0.797,
}

values_st = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("n", range(2, 11))
def test_constants_agree_with_their_definitions(n: int) -> None:
    c = spc.CONSTANTS[n]
    assert c.a2 == pytest.approx(3 / (c.d2 * math.sqrt(n)), abs=0.002)
    assert c.d4 == pytest.approx(1 + 3 * D3_SIGMA_OF_RANGE[n] / c.d2, abs=0.002)
    assert c.d3 == pytest.approx(max(0.0, 1 - 3 * D3_SIGMA_OF_RANGE[n] / c.d2), abs=0.002)


def test_individuals_constants() -> None:
    assert pytest.approx(3 / spc.D2_MR, abs=0.001) == spc.E2
    assert spc.CONSTANTS[2].d4 == spc.D4_MR


def test_piston_ring_textbook_limits() -> None:
    """Montgomery, Example 6.1: x-double-bar 74.001, R-bar 0.023, n = 5 give X-bar limits
    73.988 / 74.014 and an R chart UCL of 0.049."""
    group = [74.001 - 0.0115, 74.001, 74.001, 74.001, 74.001 + 0.0115]
    chart = spc.xbar_r([group] * 25)
    assert chart.subgroup_size == 5
    assert round(chart.xbar.limits.lcl, 3) == 73.988
    assert round(chart.xbar.limits.ucl, 3) == 74.014
    assert round(chart.range.limits.ucl, 3) == 0.049
    assert chart.range.limits.lcl == 0
    assert chart.sigma_within == pytest.approx(0.023 / 2.326)


def test_xbar_r_flags_a_shifted_subgroup() -> None:
    steady = [
        [10.0, 10.4, 9.8],
        [10.1, 9.9, 10.2],
        [9.9, 10.3, 10.0],
        [10.2, 10.0, 9.7],
        [10.0, 10.1, 9.8],
    ] * 4
    groups = [*steady[:10], [12.5, 12.7, 12.4], *steady[10:]]
    chart = spc.xbar_r(groups)
    assert [p.index for p in chart.xbar.points if 1 in p.rules] == [10]
    # the shifted subgroup lifts the centre line: the steady ones sit below it, nine in a row
    assert [p.index for p in chart.xbar.points if 2 in p.rules] == [8, 9, 19, 20]
    assert [p.rules for p in chart.range.points] == [()] * 21
    assert chart.xbar.violations == {1: 1, 2: 4}


def test_individuals_by_hand() -> None:
    chart = spc.individuals([39.0, 41.0, 41.5, 40.0, 40.5])
    mr = [2.0, 0.5, 1.5, 0.5]
    assert chart.individuals.limits.center == pytest.approx(40.4)
    assert chart.individuals.limits.ucl == pytest.approx(40.4 + 2.66 * 1.125)
    assert chart.individuals.limits.lcl == pytest.approx(40.4 - 2.66 * 1.125)
    assert [p.value for p in chart.moving_range.points] == mr
    assert chart.moving_range.limits.ucl == pytest.approx(3.267 * 1.125)
    assert chart.sigma_within == pytest.approx(1.125 / 1.128)


@pytest.mark.parametrize(
    ("values", "flagged"),
    [
        ([0, 3.1, 0, -3.2, 3.0], {1: [1, 3]}),
        ([0.5] * 10, {2: [8, 9]}),
        ([-0.5, -0.3, -0.1, 0.1, 0.3], {}),
        ([-0.5, -0.3, -0.1, 0.1, 0.3, 0.5], {3: [5]}),
        ([0.5, -0.5] * 7, {4: [13]}),
        ([0.5, -0.5] * 6 + [0.5], {}),
        ([0, 2.5, 2.6], {5: [2]}),
        ([2.5, 0, -2.6], {}),
        ([1.5, 1.5, 0, 1.5, 1.5], {6: [4]}),
        ([1.5, 1.5, 0, 1.5, -1.5], {}),
        ([0.1, 0.2, -0.1, -0.2, 0.3] * 3, {7: [14]}),
        ([1.5, 1.5, -1.5, -1.5] * 2, {8: [7]}),
        ([1.5] * 8, {2: [], 5: [], 6: [4, 5, 6, 7]}),
    ],
)
def test_each_nelson_rule(values: list[float], flagged: dict[int, list[int]]) -> None:
    flags = spc.nelson(values, center=0, sigma=1)
    found: dict[int, list[int]] = {}
    for index, rules in enumerate(flags):
        for rule in rules:
            found.setdefault(rule, []).append(index)
    assert found == {rule: points for rule, points in flagged.items() if points}


def test_nelson_needs_positive_sigma() -> None:
    with pytest.raises(spc.ZeroVariation):
        spc.nelson([1.0, 2.0], center=1.5, sigma=0)


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda: spc.xbar_r([[1.0, 2.0]]), spc.InsufficientData, "at least 2 subgroups"),
        (lambda: spc.xbar_r([[1.0, 2.0], [1.0, 2.0, 3.0]]), spc.SpcError, "same size"),
        (lambda: spc.xbar_r([[1.0], [2.0]]), spc.SpcError, "2 to 10"),
        (lambda: spc.xbar_r([[1.0] * 11, [2.0] * 11]), spc.SpcError, "2 to 10"),
        (lambda: spc.xbar_r([[1.0, 1.0], [2.0, 2.0]]), spc.ZeroVariation, "range 0"),
        (lambda: spc.xbar_r([[1.0, math.nan], [2.0, 3.0]]), spc.SpcError, "finite"),
        (lambda: spc.individuals([1.0]), spc.InsufficientData, "at least 2 values"),
        (lambda: spc.individuals([4.0, 4.0, 4.0]), spc.ZeroVariation, "equal"),
        (lambda: spc.capability([1.0], lsl=0, usl=2, sigma_within=1), spc.InsufficientData, "2"),
        (
            lambda: spc.capability([1.0, 1.0], lsl=0, usl=2, sigma_within=1),
            spc.ZeroVariation,
            "equal",
        ),
        (
            lambda: spc.capability([1.0, 2.0], lsl=None, usl=None, sigma_within=1),
            spc.SpcError,
            "limit",
        ),
        (lambda: spc.capability([1.0, 2.0], lsl=3, usl=2, sigma_within=1), spc.SpcError, "below"),
    ],
)
def test_clear_errors(call: object, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        call()  # type: ignore[operator]


def test_capability_textbook_cases() -> None:
    centred = spc.capability([9.0, 10.0, 11.0], lsl=7, usl=13, sigma_within=1.0)
    assert (centred.cp, centred.cpk) == (1.0, 1.0)
    assert centred.pp == pytest.approx(1.0) and centred.ppk == pytest.approx(1.0)
    shifted = spc.capability([10.0, 11.0, 12.0], lsl=7, usl=13, sigma_within=1.0)
    assert shifted.cp == 1.0 and shifted.cpk == pytest.approx(2 / 3)
    lower_only = spc.capability([10.0, 11.0, 12.0], lsl=8, usl=None, sigma_within=0.5)
    assert lower_only.cp is None and lower_only.pp is None
    assert lower_only.cpk == pytest.approx(2.0)


# --- properties ----------------------------------------------------------------------------


@st.composite
def subgroups(draw: st.DrawFn) -> list[list[float]]:
    n = draw(st.integers(min_value=2, max_value=10))
    k = draw(st.integers(min_value=2, max_value=30))
    return [draw(st.lists(values_st, min_size=n, max_size=n)) for _ in range(k)]


@given(subgroups())
@settings(max_examples=200, deadline=None)
def test_xbar_r_limits_follow_the_formulas(groups: list[list[float]]) -> None:
    rbar = statistics.fmean(max(g) - min(g) for g in groups)
    assume(rbar > 1e-6)
    c = spc.CONSTANTS[len(groups[0])]
    chart = spc.xbar_r(groups)
    grand = statistics.fmean(statistics.fmean(g) for g in groups)
    assert chart.xbar.limits.center == pytest.approx(grand, abs=1e-9)
    assert chart.xbar.limits.ucl - grand == pytest.approx(c.a2 * rbar, rel=1e-9, abs=1e-9)
    assert grand - chart.xbar.limits.lcl == pytest.approx(c.a2 * rbar, rel=1e-9, abs=1e-9)
    assert chart.range.limits.center == pytest.approx(rbar)
    assert chart.range.limits.ucl == pytest.approx(c.d4 * rbar)
    assert chart.range.limits.lcl == pytest.approx(c.d3 * rbar)
    for point in chart.xbar.points:
        outside = point.value > chart.xbar.limits.ucl or point.value < chart.xbar.limits.lcl
        near = min(
            abs(point.value - chart.xbar.limits.ucl), abs(point.value - chart.xbar.limits.lcl)
        )
        if near > 1e-9 * max(1.0, abs(point.value)):
            assert (1 in point.rules) == outside


@given(subgroups(), st.sampled_from([0.25, 0.5, 2.0, 4.0]))
@settings(max_examples=100, deadline=None)
def test_xbar_r_scales_exactly(groups: list[list[float]], factor: float) -> None:
    assume(statistics.fmean(max(g) - min(g) for g in groups) > 1e-6)
    chart = spc.xbar_r(groups)
    scaled = spc.xbar_r([[v * factor for v in g] for g in groups])
    assert [p.rules for p in scaled.xbar.points] == [p.rules for p in chart.xbar.points]
    assert [p.rules for p in scaled.range.points] == [p.rules for p in chart.range.points]
    assert scaled.xbar.limits.ucl == pytest.approx(chart.xbar.limits.ucl * factor)


@given(st.lists(values_st, min_size=2, max_size=200))
@settings(max_examples=200, deadline=None)
def test_individuals_limits_follow_the_formulas(values: list[float]) -> None:
    moving = [abs(b - a) for a, b in itertools.pairwise(values)]
    mrbar = statistics.fmean(moving)
    assume(mrbar > 1e-6)
    chart = spc.individuals(values)
    mean = statistics.fmean(values)
    assert chart.individuals.limits.ucl == pytest.approx(mean + 2.66 * mrbar, abs=1e-9)
    assert chart.individuals.limits.lcl == pytest.approx(mean - 2.66 * mrbar, abs=1e-9)
    assert chart.moving_range.limits.ucl == pytest.approx(3.267 * mrbar)
    assert len(chart.moving_range.points) == len(values) - 1
    assert [p.index for p in chart.moving_range.points] == list(range(1, len(values)))
    assert chart.sigma_within == pytest.approx(mrbar / 1.128)


z_st = st.floats(min_value=-5, max_value=5, allow_nan=False).filter(
    lambda z: all(abs(abs(z) - edge) > 1e-6 for edge in (0, 1, 2, 3))
)


@given(st.lists(z_st, min_size=1, max_size=60))
@settings(max_examples=300, deadline=None)
def test_nelson_rules_are_symmetric_and_scale_free(zs: list[float]) -> None:
    flags = spc.nelson(zs, center=0, sigma=1)
    assert spc.nelson([-z for z in zs], center=0, sigma=1) == flags
    assert spc.nelson([100 + 4 * z for z in zs], center=100, sigma=4) == flags
    assert [i for i, f in enumerate(flags) if 1 in f] == [i for i, z in enumerate(zs) if abs(z) > 3]
    for i, rules in enumerate(flags):
        assert set(rules) <= set(spc.RULES)
        if 7 in rules:
            assert all(abs(z) < 1 for z in zs[i - 14 : i + 1])
        if 2 in rules:
            window = zs[i - 8 : i + 1]
            assert len(window) == 9 and (min(window) > 0 or max(window) < 0)


@given(
    st.lists(values_st, min_size=2, max_size=100),
    st.floats(min_value=0.1, max_value=100),
    st.floats(min_value=-100, max_value=100),
    st.floats(min_value=0.5, max_value=50),
)
@settings(max_examples=200, deadline=None)
def test_capability_properties(
    values: list[float], scale: float, shift: float, half_width: float
) -> None:
    assume(statistics.stdev(values) > 1e-6)
    mean = statistics.fmean(values)
    spread = statistics.stdev(values)
    lsl, usl = mean - half_width * spread, mean + 1.5 * half_width * spread
    sigma_within = spread * 0.9
    cap = spc.capability(values, lsl=lsl, usl=usl, sigma_within=sigma_within)
    assert cap.cp is not None and cap.pp is not None
    assert cap.cpk <= cap.cp + 1e-9 and cap.ppk <= cap.pp + 1e-9
    assert cap.cp == pytest.approx((usl - lsl) / (6 * sigma_within))
    moved = spc.capability(
        [v * scale + shift for v in values],
        lsl=lsl * scale + shift,
        usl=usl * scale + shift,
        sigma_within=sigma_within * scale,
    )
    for a, b in (
        (cap.cp, moved.cp),
        (cap.cpk, moved.cpk),
        (cap.pp, moved.pp),
        (cap.ppk, moved.ppk),
    ):
        assert b == pytest.approx(a, rel=1e-6, abs=1e-9)
    centred = spc.capability(
        values, lsl=mean - 3 * spread, usl=mean + 3 * spread, sigma_within=spread
    )
    assert centred.cpk == pytest.approx(centred.cp)
    assert centred.ppk == pytest.approx(1.0)
