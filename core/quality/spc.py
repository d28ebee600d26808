"""Statistical process control: pure functions, no I/O.

X-bar/R charts for subgroups of 2..10, individuals/moving-range charts, Nelson rules 1-8 per
point, and process capability (Cp, Cpk, Pp, Ppk). Constants are the usual table values
(ASTM / Montgomery, *Introduction to Statistical Quality Control*, Appendix VI).

Nelson rules are applied to the location chart (X-bar or individuals) with zones of one sigma
taken from its own limits, `sigma = (UCL - CL) / 3`; the range and moving-range charts are
checked for rule 1 (a point outside the limits) only, as their limits are not symmetric. A rule
is flagged on the point that completes the pattern; for rules 5 and 6 that point is itself one
of the points beyond the zone.

>>> chart = individuals([10.0, 10.2, 9.9, 10.1, 10.0, 13.0])
>>> round(chart.individuals.limits.center, 3), round(chart.individuals.limits.ucl, 3)
(10.533, 12.555)
>>> [(p.index, p.rules) for p in chart.individuals.points if p.rules]
[(5, (1,))]
>>> [p.index for p in chart.moving_range.points if p.rules]
[5]
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


class SpcError(ValueError):
    """The data cannot make the chart or index asked for."""


class InsufficientData(SpcError):
    """Too few values or subgroups."""


class ZeroVariation(SpcError):
    """All values are equal (or all ranges are zero): sigma is zero, limits are meaningless."""


@dataclass(frozen=True)
class Constants:
    """Control chart constants for subgroup size n."""

    n: int
    a2: float
    d2: float
    d3: float
    d4: float


CONSTANTS: dict[int, Constants] = {
    c.n: c
    for c in (
        Constants(2, 1.880, 1.128, 0.0, 3.267),
        Constants(3, 1.023, 1.693, 0.0, 2.574),
        Constants(4, 0.729, 2.059, 0.0, 2.282),
        Constants(5, 0.577, 2.326, 0.0, 2.114),
        Constants(6, 0.483, 2.534, 0.0, 2.004),
        Constants(7, 0.419, 2.704, 0.076, 1.924),
        Constants(8, 0.373, 2.847, 0.136, 1.864),
        Constants(9, 0.337, 2.970, 0.184, 1.816),
        Constants(10, 0.308, 3.078, 0.223, 1.777),
    )
}
"""A2, d2, D3, D4 by subgroup size (2..10)."""

E2 = 2.66
"""Individuals chart: limits are X-bar +/- E2 * MR-bar (3 / d2 for n = 2)."""
D4_MR = 3.267
"""Moving-range chart: UCL = D4 * MR-bar (n = 2)."""
D2_MR = 1.128
"""d2 for moving ranges of two: sigma = MR-bar / d2."""

RULES: dict[int, str] = {
    1: "one point beyond 3 sigma",
    2: "nine points in a row on one side of the centre line",
    3: "six points in a row steadily increasing or decreasing",
    4: "fourteen points in a row alternating up and down",
    5: "two of three points in a row beyond 2 sigma on one side",
    6: "four of five points in a row beyond 1 sigma on one side",
    7: "fifteen points in a row within 1 sigma of the centre line",
    8: "eight points in a row beyond 1 sigma, on both sides",
}
"""Nelson rules by number."""


@dataclass(frozen=True)
class Limits:
    """Centre line and control limits."""

    center: float
    lcl: float
    ucl: float


@dataclass(frozen=True)
class Point:
    """One plotted value and the Nelson rules it violates (empty: in control)."""

    index: int
    value: float
    rules: tuple[int, ...]


@dataclass(frozen=True)
class Chart:
    """Limits and points of one chart."""

    limits: Limits
    points: tuple[Point, ...]

    @property
    def violations(self) -> dict[int, int]:
        """How many points each rule flagged.

        >>> individuals([1.0, 2.0, 1.0, 2.0]).individuals.violations
        {}
        """
        counts: dict[int, int] = {}
        for point in self.points:
            for rule in point.rules:
                counts[rule] = counts.get(rule, 0) + 1
        return dict(sorted(counts.items()))


@dataclass(frozen=True)
class XbarRChart:
    """X-bar chart (Nelson rules 1-8) and R chart (rule 1) of equal-size subgroups."""

    subgroup_size: int
    xbar: Chart
    range: Chart
    sigma_within: float


@dataclass(frozen=True)
class IndividualsChart:
    """Individuals chart (Nelson rules 1-8) and moving-range chart (rule 1)."""

    individuals: Chart
    moving_range: Chart
    sigma_within: float


@dataclass(frozen=True)
class Capability:
    """Capability indices; None where a limit they need is not given.

    Cp/Cpk use the within-subgroup sigma (short term), Pp/Ppk the overall sample standard
    deviation (long term).
    """

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    lsl: float | None
    usl: float | None
    cp: float | None
    cpk: float
    pp: float | None
    ppk: float


def _finite(values: Sequence[float], what: str) -> list[float]:
    out = [float(v) for v in values]
    if not all(math.isfinite(v) for v in out):
        raise SpcError(f"{what} must be finite numbers")
    return out


def nelson(values: Sequence[float], center: float, sigma: float) -> list[tuple[int, ...]]:
    """The Nelson rules each point violates, for a chart with this centre and sigma.

    >>> nelson([0, 0.5, 3.5, 0], center=0, sigma=1)
    [(), (), (1,), ()]
    >>> nelson([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], center=0, sigma=1)[-1]
    (3,)
    >>> nelson([2.5, 0, 2.6], center=0, sigma=1)
    [(), (), (5,)]
    """
    if not (math.isfinite(sigma) and sigma > 0):
        raise ZeroVariation("sigma must be positive to apply the Nelson rules")
    z = [(v - center) / sigma for v in _finite(values, "values")]
    diffs = [b - a for a, b in itertools.pairwise(z)]
    flags: list[tuple[int, ...]] = []
    for i in range(len(z)):
        rules = []
        if abs(z[i]) > 3:
            rules.append(1)
        if i >= 8 and (
            all(x > 0 for x in z[i - 8 : i + 1]) or all(x < 0 for x in z[i - 8 : i + 1])
        ):
            rules.append(2)
        if i >= 5:
            run = diffs[i - 5 : i]
            if all(d > 0 for d in run) or all(d < 0 for d in run):
                rules.append(3)
        if i >= 13:
            run = diffs[i - 13 : i]
            if all(a * b < 0 for a, b in itertools.pairwise(run)):
                rules.append(4)
        if i >= 2 and _beyond(z[i - 2 : i + 1], 2.0, need=2):
            rules.append(5)
        if i >= 4 and _beyond(z[i - 4 : i + 1], 1.0, need=4):
            rules.append(6)
        if i >= 14 and all(abs(x) < 1 for x in z[i - 14 : i + 1]):
            rules.append(7)
        if i >= 7:
            window = z[i - 7 : i + 1]
            if all(abs(x) > 1 for x in window) and min(window) < 0 < max(window):
                rules.append(8)
        flags.append(tuple(rules))
    return flags


def _beyond(window: list[float], zone: float, *, need: int) -> bool:
    """`need` points of the window beyond `zone` sigma on one side, the last one among them."""
    last = window[-1]
    if abs(last) <= zone:
        return False
    side = 1.0 if last > 0 else -1.0
    return sum(1 for x in window if side * x > zone) >= need


def _range_points(values: list[float], limits: Limits) -> tuple[Point, ...]:
    return tuple(
        Point(i, v, (1,) if v > limits.ucl or v < limits.lcl else ()) for i, v in enumerate(values)
    )


def _location_points(values: list[float], limits: Limits) -> tuple[Point, ...]:
    sigma = (limits.ucl - limits.center) / 3
    return tuple(
        Point(i, v, rules)
        for i, (v, rules) in enumerate(
            zip(values, nelson(values, limits.center, sigma), strict=True)
        )
    )


def xbar_r(subgroups: Sequence[Sequence[float]]) -> XbarRChart:
    """X-bar and R charts of equal-size subgroups (2..10 values, at least 2 subgroups).

    >>> chart = xbar_r([[1.0, 3.0], [2.0, 4.0], [3.0, 5.0]])
    >>> x = chart.xbar.limits
    >>> round(x.lcl, 3), x.center, round(x.ucl, 3)
    (-0.76, 3.0, 6.76)
    >>> chart.range.limits
    Limits(center=2.0, lcl=0.0, ucl=6.534)
    """
    groups = [_finite(g, "subgroup values") for g in subgroups]
    if len(groups) < 2:
        raise InsufficientData(f"an X-bar/R chart needs at least 2 subgroups, got {len(groups)}")
    sizes = {len(g) for g in groups}
    if len(sizes) != 1:
        raise SpcError(f"subgroups must all have the same size, got sizes {sorted(sizes)}")
    n = sizes.pop()
    if n not in CONSTANTS:
        raise SpcError(f"subgroup size must be 2 to 10, got {n}")
    c = CONSTANTS[n]
    means = [statistics.fmean(g) for g in groups]
    ranges = [max(g) - min(g) for g in groups]
    grand, rbar = statistics.fmean(means), statistics.fmean(ranges)
    if rbar == 0:
        raise ZeroVariation("every subgroup has range 0: no variation to chart")
    x_limits = Limits(center=grand, lcl=grand - c.a2 * rbar, ucl=grand + c.a2 * rbar)
    r_limits = Limits(center=rbar, lcl=c.d3 * rbar, ucl=c.d4 * rbar)
    return XbarRChart(
        subgroup_size=n,
        xbar=Chart(x_limits, _location_points(means, x_limits)),
        range=Chart(r_limits, _range_points(ranges, r_limits)),
        sigma_within=rbar / c.d2,
    )


def individuals(values: Sequence[float]) -> IndividualsChart:
    """Individuals (X) and moving-range (MR) charts; at least 2 values.

    The MR chart has one point fewer: point k is |x[k+1] - x[k]|, reported at index k + 1.

    >>> chart = individuals([5.0, 7.0, 6.0])
    >>> chart.individuals.limits
    Limits(center=6.0, lcl=2.01, ucl=9.99)
    >>> [(p.index, p.value) for p in chart.moving_range.points]
    [(1, 2.0), (2, 1.0)]
    """
    xs = _finite(values, "values")
    if len(xs) < 2:
        raise InsufficientData(f"an individuals chart needs at least 2 values, got {len(xs)}")
    moving = [abs(b - a) for a, b in itertools.pairwise(xs)]
    mean, mrbar = statistics.fmean(xs), statistics.fmean(moving)
    if mrbar == 0:
        raise ZeroVariation("all consecutive values are equal: no variation to chart")
    x_limits = Limits(center=mean, lcl=mean - E2 * mrbar, ucl=mean + E2 * mrbar)
    mr_limits = Limits(center=mrbar, lcl=0.0, ucl=D4_MR * mrbar)
    mr_points = tuple(
        Point(p.index + 1, p.value, p.rules) for p in _range_points(moving, mr_limits)
    )
    return IndividualsChart(
        individuals=Chart(x_limits, _location_points(xs, x_limits)),
        moving_range=Chart(mr_limits, mr_points),
        sigma_within=mrbar / D2_MR,
    )


def sigma_within_subgroups(subgroups: Sequence[Sequence[float]]) -> float:
    """Short-term sigma R-bar / d2 of equal-size subgroups.

    >>> round(sigma_within_subgroups([[1.0, 3.0], [2.0, 4.0]]), 4)
    1.773
    """
    return xbar_r(subgroups).sigma_within


def sigma_within_individuals(values: Sequence[float]) -> float:
    """Short-term sigma MR-bar / 1.128 of individual values.

    >>> round(sigma_within_individuals([1.0, 2.0, 1.0]), 4)
    0.8865
    """
    return individuals(values).sigma_within


def capability(
    values: Sequence[float],
    *,
    lsl: float | None,
    usl: float | None,
    sigma_within: float,
) -> Capability:
    """Cp, Cpk, Pp and Ppk of `values` against the spec limits (at least one of them).

    With one limit only, Cp and Pp are None and Cpk/Ppk are the one-sided index.

    >>> cap = capability([9.0, 10.0, 11.0, 10.0], lsl=7.0, usl=13.0, sigma_within=1.0)
    >>> cap.cp, cap.cpk, round(cap.pp, 3), round(cap.ppk, 3)
    (1.0, 1.0, 1.225, 1.225)
    >>> capability([9.0, 10.0, 11.0], lsl=None, usl=12.0, sigma_within=1.0).cpk
    0.6666666666666666
    """
    xs = _finite(values, "values")
    if lsl is None and usl is None:
        raise SpcError("capability needs at least one specification limit")
    if lsl is not None and usl is not None and not lsl < usl:
        raise SpcError(f"the lower specification limit {lsl} must be below the upper {usl}")
    if len(xs) < 2:
        raise InsufficientData(f"capability needs at least 2 values, got {len(xs)}")
    sigma_overall = statistics.stdev(xs)
    if not sigma_within > 0 or sigma_overall == 0:
        raise ZeroVariation("all values are equal: capability indices are undefined")
    mean = statistics.fmean(xs)

    def indices(sigma: float) -> tuple[float | None, float]:
        sides = []
        if usl is not None:
            sides.append((usl - mean) / (3 * sigma))
        if lsl is not None:
            sides.append((mean - lsl) / (3 * sigma))
        spread = (usl - lsl) / (6 * sigma) if usl is not None and lsl is not None else None
        return spread, min(sides)

    cp, cpk = indices(sigma_within)
    pp, ppk = indices(sigma_overall)
    return Capability(
        n=len(xs),
        mean=mean,
        sigma_within=sigma_within,
        sigma_overall=sigma_overall,
        lsl=lsl,
        usl=usl,
        cp=cp,
        cpk=cpk,
        pp=pp,
        ppk=ppk,
    )
