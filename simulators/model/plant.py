"""The plant: every machine on one discrete-event engine, advanced in simulated time.

    plant = Plant(load_scenario("demo"), seed=42)
    samples = plant.advance(60.0)      # everything up to t = 60 s
    events = plant.drain_events()      # state changes, cycles, failures, ...

Commands (start, stop, reset, setpoint, fail, maintain) act at the current simulated time and
are logged as events, so a run with commands stays explainable from its event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulators.model.engine import Engine, Kind
from simulators.model.events import Event
from simulators.model.machine import Machine
from simulators.model.states import MachineState
from simulators.model.wear import Phase
from simulators.scenario.definitions import ALARM_CODES, Scenario, SignalDef

COMMANDS = ("start", "stop", "reset", "setpoint", "fail", "maintain")
FAIL_MODES = ("sudden", "bearing_wear", "tool_wear", "command")
SETPOINT_RANGE = (10.0, 120.0)


class CommandError(ValueError):
    """A command was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class Sample:
    """Values of one sample group of one machine at simulated time `t`."""

    t: float
    machine: int
    group: int
    values: list[float | int]


class Plant:
    """All machines of a scenario, advanced together."""

    def __init__(self, scenario: Scenario, seed: int, *, cycle_events: bool = True) -> None:
        self.scenario = scenario
        self.seed = seed
        self.engine = Engine()
        self.machines = [Machine(m, self.engine, seed) for m in scenario.machines]
        self.by_code = {m.code: m for m in self.machines}
        for machine in self.machines:
            machine.by_code = self.by_code
            machine.cycle_events = cycle_events
        for machine in self.machines:
            machine.start(0.0)

    @property
    def now(self) -> float:
        """Simulated seconds since the origin, up to which the plant has run."""
        return self.engine.now

    def signals(self, machine: int, group: int) -> list[SignalDef]:
        """The signals of a sample (in the order of `Sample.values`)."""
        return self.machines[machine].groups[group].signals

    def advance(self, until: float) -> list[Sample]:
        """Run every action due up to `until`; the samples taken on the way."""
        samples: list[Sample] = []
        engine = self.engine
        while (entry := engine.pop_due(until)) is not None:
            t, _, kind, index, arg, token = entry
            machine = self.machines[index]
            if kind == Kind.SAMPLE:
                group = machine.groups[arg]
                samples.append(Sample(t, index, arg, machine.sample(t, group)))
                group.next_k += 1
                engine.schedule(
                    (group.next_k + group.phase) * group.period, Kind.SAMPLE, index, arg
                )
            elif kind == Kind.SCHEDULED:
                wear = machine.wears[arg // 4]
                if token == wear.token:
                    machine.scheduled(t, wear, Phase(arg % 4))
            elif kind == Kind.PREVENTIVE:
                machine.preventive_due(t)
            elif token != machine.token:
                continue  # the state changed since this was queued
            elif kind == Kind.CYCLE_END:
                machine.end_cycle(t)
            elif kind == Kind.MILESTONE:
                machine.milestone(t)
            elif kind == Kind.SETUP_END:
                machine.end_setup(t)
            elif kind == Kind.REPAIR_START:
                machine.start_repair(t)
            elif kind == Kind.MAINTENANCE_END:
                machine.end_maintenance(t)
        engine.now = max(engine.now, until)
        return samples

    def drain_events(self) -> list[Event]:
        """Events since the last call."""
        return self.engine.drain_events()

    # --- commands ------------------------------------------------------------------------------

    def machine(self, code: str) -> Machine:
        """The machine `code`; CommandError naming the known codes otherwise."""
        try:
            return self.by_code[code]
        except KeyError:
            raise CommandError(f"unknown machine {code!r}") from None

    def command(
        self,
        code: str,
        command: str,
        value: float | None = None,
        *,
        source: str = "control",
        **params: Any,
    ) -> dict[str, Any]:
        """Apply a command now; CommandError (logged as refused) when it does not apply."""
        machine = self.machine(code)
        t = self.engine.now
        try:
            result = self._apply(machine, t, command, value, params)
        except CommandError as err:
            self.engine.emit(
                t,
                "command",
                code,
                command=command,
                value=value,
                source=source,
                accepted=False,
                error=str(err),
            )
            raise
        self.engine.emit(
            t, "command", code, command=command, value=value, source=source, accepted=True
        )
        # logged after the command: the state events it caused come first in the log
        return result

    def _apply(
        self, m: Machine, t: float, command: str, value: float | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        S = MachineState
        if command == "start":
            m.enabled = True
            if m.state == S.IDLE:
                m.proceed(t)
        elif command == "stop":
            m.enabled = False
            if m.state in (S.RUNNING, S.STARVED, S.BLOCKED, S.SETUP):
                if m.state == S.SETUP:
                    m.needs_setup = True
                m.set_state(t, S.IDLE, "stopped")
        elif command == "reset":
            self.engine.emit(
                t, "counter_reset", m.code, good_count_before=m.good, scrap_count_before=m.scrap
            )
            m.good = m.scrap = 0
        elif command == "setpoint":
            if value is None or not SETPOINT_RANGE[0] <= value <= SETPOINT_RANGE[1]:
                low, high = SETPOINT_RANGE
                raise CommandError(f"setpoint must be a number from {low:g} to {high:g} (%)")
            m.setpoint = float(value)
        elif command == "fail":
            mode = str(params.get("mode") or "command")
            if mode not in FAIL_MODES:
                raise CommandError(f"mode must be one of {', '.join(FAIL_MODES)}")
            if m.state in (S.DOWN, S.MAINTENANCE):
                raise CommandError(f"{m.code} is already {m.state.label}")
            response, duration = _seconds(params, "response"), _seconds(params, "duration")
            alarm = params.get("alarm_code") or ALARM_CODES.get(mode, (None,))[0]
            m.repair_override = (response, duration)
            m.fail(t, None, cause="command", mode=mode, alarm_code=int(alarm) if alarm else None)
        elif command == "maintain":
            if m.state in (S.DOWN, S.MAINTENANCE):
                raise CommandError(f"{m.code} is {m.state.label}")
            duration = _seconds(params, "duration")
            m.begin_maintenance(t, "command", duration if duration is not None else 1800.0)
        else:
            raise CommandError(f"unknown command {command!r} (known: {', '.join(COMMANDS)})")
        return m.snapshot()


def _seconds(params: dict[str, Any], key: str) -> float | None:
    raw = params.get(key)
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise CommandError(f"{key} must be a number of seconds") from None
    if seconds < 0:
        raise CommandError(f"{key} cannot be negative")
    return seconds
