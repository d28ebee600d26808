"""OEE arithmetic as small pure functions over additive facts.

Time model (planned production time first, then the losses in the order they occur):

- calendar time:        shifts minus breaks and non-working periods (core.calendar)
- planned production:   calendar time - planned stops - time without data
- operating time:       planned production - stops (availability losses)
- net run time:         operating time - minor stops (stops shorter than the threshold)
- fully productive:     ideal cycle time x good parts

availability = operating / planned, performance = ideal time of all parts / operating,
quality = good / all parts, OEE = availability x performance x quality (fully productive /
planned time when performance or quality is undefined; undefined only without planned
production time, and `undefined_reason` says why). The six big losses split planned production
time minus fully productive time (reduced speed is signed: a machine faster than its ideal
cycle shows a negative reduced-speed loss).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

LOSS_CATEGORIES = (
    "equipment_failure",
    "setup_adjustment",
    "idling_minor_stops",
    "reduced_speed",
    "process_defects",
    "reduced_yield",
)


@dataclass(frozen=True, slots=True)
class OeeFacts:
    """Additive facts of one equipment over a window (seconds and parts); sums of facts are the
    facts of the union (equipment, hours, shifts, lines)."""

    calendar_s: float = 0.0
    planned_stop_s: float = 0.0
    no_data_s: float = 0.0
    run_s: float = 0.0
    micro_stop_s: float = 0.0
    micro_stops: int = 0
    stops: int = 0
    stop_equipment_failure_s: float = 0.0
    stop_setup_adjustment_s: float = 0.0
    stop_idling_minor_stops_s: float = 0.0
    stop_reduced_speed_s: float = 0.0
    stop_process_defects_s: float = 0.0
    stop_reduced_yield_s: float = 0.0
    good: int = 0
    scrap: int = 0
    startup_scrap: int = 0
    ideal_s: float = 0.0
    ideal_good_s: float = 0.0
    ideal_startup_scrap_s: float = 0.0

    def __add__(self, other: OeeFacts) -> OeeFacts:
        return OeeFacts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @staticmethod
    def total(items: Iterable[OeeFacts]) -> OeeFacts:
        """The sum of several facts.

        >>> OeeFacts.total([OeeFacts(run_s=5, good=1), OeeFacts(run_s=7, good=2)]).run_s
        12.0
        """
        out = OeeFacts()
        for item in items:
            out = out + item
        return out

    def as_dict(self) -> dict[str, float | int]:
        """Field name -> value."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    # --- derived times ------------------------------------------------------------------------

    @property
    def downtime_s(self) -> float:
        """Stops long enough to be availability losses."""
        return (
            self.stop_equipment_failure_s
            + self.stop_setup_adjustment_s
            + self.stop_idling_minor_stops_s
            + self.stop_reduced_speed_s
            + self.stop_process_defects_s
            + self.stop_reduced_yield_s
        )

    @property
    def planned_s(self) -> float:
        """Planned production time: calendar time - planned stops - time without data."""
        return self.calendar_s - self.planned_stop_s - self.no_data_s

    @property
    def operating_s(self) -> float:
        """Planned production time - stops (= run time + minor stops)."""
        return self.planned_s - self.downtime_s

    @property
    def parts(self) -> int:
        """Good and scrap parts."""
        return self.good + self.scrap


MIN_DENOMINATOR = 1e-3
"""Times (s) and counts below this are none: planned time is a difference of float sums, and
what such a difference leaves over (1e-10 s, say) must not become a ratio of 10^10."""


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, None when the denominator is (next to) zero or negative.

    >>> ratio(1, 4), ratio(1, 0), ratio(0.5, 3600 - 1800.0000001 - 1799.9999999)
    (0.25, None, None)
    """
    return numerator / denominator if denominator >= MIN_DENOMINATOR else None


def availability(facts: OeeFacts) -> float | None:
    """Operating time / planned production time.

    >>> availability(OeeFacts(calendar_s=3600, run_s=2700, stop_equipment_failure_s=900))
    0.75
    """
    return ratio(facts.operating_s, facts.planned_s)


def performance(facts: OeeFacts) -> float | None:
    """Ideal time of the parts made / operating time.

    >>> performance(OeeFacts(calendar_s=3600, run_s=3600, ideal_s=3240))
    0.9
    """
    return ratio(facts.ideal_s, facts.operating_s)


def quality(facts: OeeFacts) -> float | None:
    """Good parts / all parts.

    >>> quality(OeeFacts(good=95, scrap=5))
    0.95
    """
    return ratio(facts.good, facts.parts)


def oee(facts: OeeFacts) -> float | None:
    """Availability x performance x quality; None only without planned production time.

    When performance or quality is undefined (no operating time, no parts) OEE is still fully
    productive time / planned production time, which the product equals otherwise: a machine
    that stood all its planned time or ran without finishing a part has an OEE of 0, not none.

    >>> f = OeeFacts(calendar_s=3600, run_s=2700, stop_equipment_failure_s=900,
    ...              ideal_s=2430, good=90, scrap=10, ideal_good_s=2187)
    >>> round(oee(f), 4)
    0.6075
    >>> oee(OeeFacts(calendar_s=180, run_s=180)), oee(OeeFacts(calendar_s=180, no_data_s=180))
    (0.0, None)
    >>> oee(OeeFacts(calendar_s=180, stop_equipment_failure_s=180))
    0.0
    """
    a, p, q = availability(facts), performance(facts), quality(facts)
    if a is None:
        return None
    if p is None or q is None:
        return facts.ideal_good_s / facts.planned_s
    return a * p * q


def undefined_reason(facts: OeeFacts) -> str | None:
    """Why OEE is undefined (None while it is a number): the window has no planned calendar
    time yet (`no_planned_time`: it starts in a break, say), none of it has machine data yet
    (`no_data`), or the rest of it is planned stops (`planned_stop`).

    >>> undefined_reason(OeeFacts()), undefined_reason(OeeFacts(calendar_s=60, no_data_s=60))
    ('no_planned_time', 'no_data')
    >>> undefined_reason(OeeFacts(calendar_s=60, planned_stop_s=40, no_data_s=20))
    'planned_stop'
    >>> undefined_reason(OeeFacts(calendar_s=60, run_s=60)) is None
    True
    """
    if oee(facts) is not None:
        return None
    if facts.calendar_s < MIN_DENOMINATOR:
        return "no_planned_time"
    if facts.calendar_s - facts.no_data_s < MIN_DENOMINATOR:
        return "no_data"
    return "planned_stop"


def losses(facts: OeeFacts) -> dict[str, float]:
    """Seconds lost per six-big-losses category; they add up to planned production time minus
    fully productive time.

    >>> f = OeeFacts(calendar_s=3600, run_s=2600, micro_stop_s=100, stop_equipment_failure_s=900,
    ...              ideal_s=2430, good=90, scrap=10, ideal_good_s=2187)
    >>> losses(f)["reduced_speed"], losses(f)["idling_minor_stops"], losses(f)["process_defects"]
    (170.0, 100.0, 243.0)
    """
    scrap_s = facts.ideal_s - facts.ideal_good_s
    return {
        "equipment_failure": facts.stop_equipment_failure_s,
        "setup_adjustment": facts.stop_setup_adjustment_s,
        "idling_minor_stops": facts.stop_idling_minor_stops_s + facts.micro_stop_s,
        "reduced_speed": facts.stop_reduced_speed_s + facts.run_s - facts.ideal_s,
        "process_defects": facts.stop_process_defects_s + scrap_s - facts.ideal_startup_scrap_s,
        "reduced_yield": facts.stop_reduced_yield_s + facts.ideal_startup_scrap_s,
    }


def fully_productive_s(facts: OeeFacts) -> float:
    """Ideal time of the good parts."""
    return facts.ideal_good_s
