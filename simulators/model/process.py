"""Process signals of one machine: first-order lag toward a state- and load-dependent target,
plus degradation effects and measurement noise, sampled at fixed simulated periods."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from simulators.model.states import OFF, MachineState
from simulators.scenario.catalog import SignalProfile
from simulators.scenario.definitions import MachineDef, SignalDef


@dataclass
class SampleGroup:
    """Signals of a machine sampled together at one period."""

    period: float
    signals: list[SignalDef]
    next_k: int = 0  # index of the next sample (sample k is at (k + phase) * period)
    phase: float = 0.0  # fraction of the period the samples are offset by
    names: list[str] = field(default_factory=list)  # signal names in sample order


def sample_groups(machine: MachineDef) -> list[SampleGroup]:
    """Signals grouped by sample period; group 0 holds the standard signals.

    >>> from simulators.scenario import load_scenario
    >>> groups = sample_groups(load_scenario("demo").machine("CNC-101"))
    >>> [(g.period, [s.name for s in g.signals][:2]) for g in groups]
    [(1.0, ['state', 'good_count']), (0.1, ['vibration_rms'])]
    """
    groups: dict[float, SampleGroup] = {}
    for sig in machine.signals:
        group = groups.setdefault(
            sig.period, SampleGroup(sig.period, [], phase=machine.sample_phase)
        )
        group.signals.append(sig)
        group.names.append(sig.name)
    return list(groups.values())


class ProcessValue:
    """The lagged true value of one process signal."""

    __slots__ = ("_alpha", "_dt", "_key", "_target", "last_t", "profile", "value")

    def __init__(self, profile: SignalProfile) -> None:
        self.profile = profile
        self.value = 0.0
        self.last_t = 0.0
        self._key: tuple[MachineState, float] | None = None
        self._target = 0.0
        self._dt = -1.0
        self._alpha = 0.0

    def target(self, state: MachineState, load: float) -> float:
        """Where the process is heading in `state` at `load` (setpoint / 100)."""
        if (state, load) == self._key:
            return self._target
        p = self.profile
        value: float
        if state == MachineState.RUNNING:
            value = p.idle + (p.running - p.idle) * float(load**p.load_exp)
        elif state in OFF:
            value = p.off
        else:
            value = p.idle
        self._key, self._target = (state, load), value
        return value

    def settle(self, state: MachineState, load: float, t: float) -> None:
        """Jump to the steady state (initial conditions)."""
        self.value = self.target(state, load)
        self.last_t = t

    def sample(
        self,
        t: float,
        state: MachineState,
        load: float,
        effect: float,
        noise_scale: float,
        rng: random.Random,
    ) -> float:
        """Advance the lag to `t` and return a noisy measurement."""
        dt = t - self.last_t
        if dt > 0:
            if dt != self._dt:
                self._dt, self._alpha = dt, 1.0 - math.exp(-dt / self.profile.tau_s)
            self.value += (self.target(state, load) - self.value) * self._alpha
            self.last_t = t
        sd = self.profile.noise * noise_scale
        measured = self.value + effect + (rng.gauss(0.0, sd) if sd > 0 else 0.0)
        if measured < 0 and self.profile.low >= 0:
            measured = 0.0
        return measured
