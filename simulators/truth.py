"""Ground truth from an event log: time in each state, parts and OEE for a machine and window.

The reference computation (docs/simulators.md, "OEE from the event log"):

- planned time    = window - time in preventive maintenance (the only planned stop)
- availability    = running time / planned time
- performance     = ideal cycle time x parts completed / running time
- quality         = good parts / parts completed
- OEE             = availability x performance x quality

Parts count by the `cycle` events inside the window; a cycle that began before the window
counts in full, so short windows can show a performance slightly above its long-run value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PLANNED_REASONS = ("preventive",)


@dataclass(frozen=True)
class OeeTruth:
    """What really happened to one machine in [start_t, end_t)."""

    machine: str
    start_t: float
    end_t: float
    ideal_cycle_s: float
    time_in_state: dict[str, float] = field(default_factory=dict)
    planned_stop_s: float = 0.0
    good: int = 0
    scrap: int = 0

    @property
    def window_s(self) -> float:
        """Length of the window."""
        return self.end_t - self.start_t

    @property
    def planned_s(self) -> float:
        """Planned production time."""
        return self.window_s - self.planned_stop_s

    @property
    def running_s(self) -> float:
        """Time in state running."""
        return self.time_in_state.get("running", 0.0)

    @property
    def total(self) -> int:
        """Parts completed."""
        return self.good + self.scrap

    @property
    def availability(self) -> float:
        """Running time / planned time."""
        return self.running_s / self.planned_s if self.planned_s > 0 else 0.0

    @property
    def performance(self) -> float:
        """Ideal time for the parts made / running time."""
        return self.ideal_cycle_s * self.total / self.running_s if self.running_s > 0 else 0.0

    @property
    def quality(self) -> float:
        """Good parts / parts made."""
        return self.good / self.total if self.total else 0.0

    @property
    def oee(self) -> float:
        """Availability x performance x quality."""
        return self.availability * self.performance * self.quality


def ideal_cycles(events: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Ideal cycle time per machine, from the `run_start` event."""
    for event in events:
        if event["type"] == "run_start":
            return {m["code"]: float(m["ideal_cycle_s"]) for m in event["machines"]}
    raise ValueError("the event log has no run_start event")


def machine_truth(
    events: Iterable[Mapping[str, Any]],
    machine: str,
    start_t: float,
    end_t: float,
    ideal_cycle_s: float | None = None,
) -> OeeTruth:
    """Replay the log for `machine` over [start_t, end_t) (simulated seconds)."""
    if end_t <= start_t:
        raise ValueError("the window must end after it starts")
    in_state: dict[str, float] = {}
    planned = 0.0
    good = scrap = 0
    current: tuple[str, str, float] | None = None  # (state, reason, since)
    ideal = ideal_cycle_s

    def close(until: float) -> None:
        nonlocal planned
        if current is None:
            return
        state, reason, since = current
        overlap = min(until, end_t) - max(since, start_t)
        if overlap > 0:
            in_state[state] = in_state.get(state, 0.0) + overlap
            if state == "maintenance" and reason.startswith(PLANNED_REASONS):
                planned += overlap

    for event in events:
        kind = event["type"]
        if kind == "run_start" and ideal is None:
            ideal = {m["code"]: float(m["ideal_cycle_s"]) for m in event["machines"]}.get(machine)
        if event.get("machine") != machine:
            continue
        t = float(event["t"])
        if kind == "state":
            close(t)
            current = (event["to"], event["reason"], t)
        elif kind == "cycle" and start_t <= t < end_t:
            if event["good"]:
                good += 1
            else:
                scrap += 1
    close(end_t)
    if ideal is None:
        raise ValueError(f"no ideal cycle time for {machine} (no run_start event)")
    return OeeTruth(machine, start_t, end_t, ideal, in_state, planned, good, scrap)
