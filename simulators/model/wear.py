"""Degradation of one failure mode on one machine.

Degradation `d` runs from 0 (healthy) to 1 (failure). It is 0 until the precursor's onset, then
grows linearly to 1 at the failure; the process signals show `effect * d**2`.

- Random bearing wear and sudden failures age with the machine's running time: a lifetime is
  drawn (Weibull / exponential), the onset lies `precursor` running seconds before its end
  (sudden failures have none). At the start the component is already part-way through a life
  drawn the same way, so a fresh plant is not a plant of new machines.
- Tool wear ages with parts: a tool life is drawn from `life_parts`, the onset is at `onset`.
- Scheduled modes fail at fixed simulated times; the onset is `precursor` seconds before.
"""

from __future__ import annotations

import math
import random
from enum import IntEnum

from simulators.scenario.definitions import FailureDef

INF = math.inf


class Phase(IntEnum):
    """How far the current lifetime has progressed."""

    HEALTHY = 0
    DEGRADING = 1  # onset passed: precursors visible
    WARNED = 2  # degradation above warning_at: the machine raises a warning alarm
    FAILED = 3


class Wear:
    """Runtime state of one failure mode."""

    def __init__(self, defn: FailureDef, machine: str, rng: random.Random) -> None:
        self.defn = defn
        self.machine = machine
        self.rng = rng
        self.number = 0  # lifetimes drawn so far
        self.token = 0  # invalidates scheduled calendar milestones on reset
        self.phase = Phase.HEALTHY
        # running-time milestones (absolute machine running seconds)
        self.onset_op = INF
        self.warn_op = INF
        self.fail_op = INF
        # tool wear
        self.tool_life = 0
        self.parts = 0
        # calendar milestones (scheduled modes)
        self.schedule_index = -1
        self.start_t = 0.0
        self.onset_t = INF
        self.warn_t = INF
        self.fail_t = INF

    @property
    def kind(self) -> str:
        """bearing_wear | tool_wear | sudden."""
        return self.defn.kind

    @property
    def scheduled(self) -> bool:
        """True when failures come from the schedule instead of random draws."""
        return bool(self.defn.schedule)

    @property
    def failure_id(self) -> str:
        """Identifies the current lifetime: onset, warning and failure events share it."""
        return f"{self.machine}:{self.kind}:{self.number}"

    # --- arming --------------------------------------------------------------------------------

    def arm(self, t: float, op: float, *, initial: bool) -> None:
        """Start a new lifetime at simulated time `t` (machine running time `op`)."""
        self.number += 1
        self.token += 1
        self.phase = Phase.HEALTHY
        if self.scheduled:
            self._arm_scheduled(t)
        elif self.kind == "tool_wear":
            low, high = self.defn.life_parts
            self.tool_life = self.rng.randint(low, high)
            self.parts = self.rng.randrange(self.tool_life) if initial else 0
            if self.parts >= self.onset_parts:
                self.phase = Phase.DEGRADING
            if self.defn.warning_at is not None and self.parts >= self.warn_parts:
                self.phase = Phase.WARNED
        else:
            life = self._draw_life()
            age = self.rng.random() * life if initial else 0.0
            self.fail_op = op - age + life
            precursor = min(self.defn.precursor, life) if self.kind == "bearing_wear" else 0.0
            self.onset_op = self.fail_op - precursor
            span = self.fail_op - self.onset_op
            self.warn_op = (
                self.onset_op + self.defn.warning_at * span
                if self.defn.warning_at is not None and span > 0
                else INF
            )
            if op >= self.onset_op and precursor > 0:
                self.phase = Phase.WARNED if op >= self.warn_op else Phase.DEGRADING

    def _draw_life(self) -> float:
        shape = self.defn.shape
        scale = self.defn.mtbf / math.gamma(1.0 + 1.0 / shape)
        return max(1.0, self.rng.weibullvariate(scale, shape))

    def _arm_scheduled(self, t: float) -> None:
        self.start_t = t
        times = self.defn.schedule
        while True:
            self.schedule_index += 1
            if self.schedule_index >= len(times):
                self.onset_t = self.warn_t = self.fail_t = INF
                return
            if times[self.schedule_index] > t:
                break
        self.fail_t = times[self.schedule_index]
        precursor = 0.0 if self.kind == "sudden" else self.defn.precursor
        self.onset_t = max(t, self.fail_t - precursor)
        span = self.fail_t - self.onset_t
        self.warn_t = (
            self.onset_t + self.defn.warning_at * span
            if self.defn.warning_at is not None and span > 0
            else INF
        )

    # --- degradation ---------------------------------------------------------------------------

    @property
    def onset_parts(self) -> float:
        """Tool wear: parts at which the precursor starts."""
        return self.defn.onset * self.tool_life

    @property
    def warn_parts(self) -> float:
        """Tool wear: parts at which the warning alarm is raised."""
        onset = self.onset_parts
        warning_at = self.defn.warning_at if self.defn.warning_at is not None else INF
        return onset + warning_at * (self.tool_life - onset)

    def degradation(self, t: float, op: float) -> float:
        """d in [0, 1] at simulated time `t`, machine running time `op`."""
        if self.phase == Phase.HEALTHY or self.kind == "sudden":
            return 0.0
        if self.scheduled:
            start, end = self.onset_t, self.fail_t
            x = t
        elif self.kind == "tool_wear":
            start, end = self.onset_parts, float(self.tool_life)
            x = float(self.parts)
        else:
            start, end = self.onset_op, self.fail_op
            x = op
        if end <= start:
            return 1.0
        return min(1.0, max(0.0, (x - start) / (end - start)))

    def scrap_increase(self, t: float, op: float) -> float:
        """Extra scrap probability from tool wear."""
        if self.kind != "tool_wear":
            return 0.0
        d = self.degradation(t, op)
        return self.defn.scrap_gain * d * d

    # --- milestones ----------------------------------------------------------------------------

    def next_op_milestone(self) -> float:
        """Running time of the next running-time milestone (INF for others)."""
        if self.scheduled or self.kind == "tool_wear" or self.phase == Phase.FAILED:
            return INF
        if self.phase == Phase.HEALTHY and self.onset_op < self.fail_op:
            return self.onset_op
        if self.phase < Phase.WARNED and self.warn_op < self.fail_op:
            return self.warn_op
        return self.fail_op

    def calendar_milestones(self) -> list[tuple[float, Phase]]:
        """Scheduled modes: (time, phase reached) still ahead."""
        if not self.scheduled:
            return []
        out = []
        if self.onset_t < self.fail_t:
            out.append((self.onset_t, Phase.DEGRADING))
        if self.warn_t < self.fail_t:
            out.append((self.warn_t, Phase.WARNED))
        if self.fail_t < INF:
            out.append((self.fail_t, Phase.FAILED))
        return out

    def reach_op(self, op: float) -> list[Phase]:
        """Phases reached at running time `op` (running-time modes), in order."""
        reached = []
        eps = 1e-6
        if (
            self.phase == Phase.HEALTHY
            and op >= self.onset_op - eps
            and self.onset_op < self.fail_op
        ):
            reached.append(Phase.DEGRADING)
        if (
            Phase.DEGRADING <= max([self.phase, *reached]) < Phase.WARNED
            and op >= self.warn_op - eps
        ):
            reached.append(Phase.WARNED)
        if op >= self.fail_op - eps:
            reached.append(Phase.FAILED)
        return reached

    def reach_parts(self) -> list[Phase]:
        """Tool wear: phases reached with the current part count."""
        reached = []
        if self.phase == Phase.HEALTHY and self.parts >= self.onset_parts:
            reached.append(Phase.DEGRADING)
        current = max([self.phase, *reached])
        if (
            Phase.DEGRADING <= current < Phase.WARNED
            and self.defn.warning_at is not None
            and self.parts >= self.warn_parts
        ):
            reached.append(Phase.WARNED)
        if self.parts >= self.tool_life:
            reached.append(Phase.FAILED)
        return reached
