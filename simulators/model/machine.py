"""One machine: its state machine, counters, alarms, failure modes and process signals.

States (docs/demo-plant.md): idle (stopped), setup, running (in a cycle), blocked (finished part
cannot go downstream), starved (no part in the input buffer), down (failed, waiting for repair),
maintenance (repair or preventive). Transitions happen at exact simulated times; every one is
an event. A stop, failure or maintenance interrupts the cycle in progress; that part is dropped.
"""

from __future__ import annotations

from typing import Any

from simulators.model.engine import Engine, Kind
from simulators.model.process import ProcessValue, SampleGroup, sample_groups
from simulators.model.rng import stream
from simulators.model.states import MachineState, activity
from simulators.model.wear import Phase, Wear
from simulators.scenario.definitions import COMMAND_FAILURE_ALARM, MachineDef

U32 = 0xFFFFFFFF
S = MachineState


class Machine:
    """Runtime state of one machine; `engine` is the event queue it schedules on."""

    def __init__(self, defn: MachineDef, engine: Engine, seed: int) -> None:
        self.defn = defn
        self.code = defn.code
        self.engine = engine
        self.by_code: dict[str, Machine] = {}  # every machine of the plant, set by the plant
        self.rng_cycle = stream(seed, "cycle", defn.code)
        self.rng_repair = stream(seed, "repair", defn.code)
        self.rng_noise = stream(seed, "noise", defn.code)
        self.state = S.IDLE
        self.reason = "initial"
        self.since = 0.0
        self.token = 0
        self.enabled = defn.initial_state == "running"
        self.needs_setup = False
        self.held_part = False
        self.pm_pending = False
        self.buffer = defn.buffer_initial
        self.good = defn.initial_good
        self.scrap = defn.initial_scrap
        self.last_cycle = defn.ideal_cycle
        self.cycle_start = 0.0
        self.setpoint = defn.setpoint
        self.op_acc = 0.0
        self.run_since: float | None = None
        self.failed: Wear | None = None
        self.failure_alarm = 0
        self.failure_kind = ""
        self.alarm = 0
        self.repair_override: tuple[float | None, float | None] = (None, None)
        self.wears = [
            Wear(f, defn.code, stream(seed, "wear", defn.code, f.index)) for f in defn.failures
        ]
        self.groups: list[SampleGroup] = sample_groups(defn)
        self.process = {
            sig.name: ProcessValue(sig.profile) for sig in defn.signals if sig.profile is not None
        }
        self.latest: dict[str, float | int] = {}
        self.cycle_events = True

    # --- time and state ------------------------------------------------------------------------

    def op_time(self, t: float) -> float:
        """Running seconds accumulated up to `t`."""
        return self.op_acc + (t - self.run_since if self.run_since is not None else 0.0)

    @property
    def load(self) -> float:
        """Setpoint as a fraction of nominal speed."""
        return self.setpoint / 100.0

    def set_state(self, t: float, new: MachineState, reason: str) -> None:
        """Enter `new` (an event unless it is the current state); pending timers are cancelled."""
        if new == self.state:
            return
        old = self.state
        if old == S.RUNNING and self.run_since is not None:
            self.op_acc += t - self.run_since
            self.run_since = None
        self.token += 1
        self.state, self.reason, self.since = new, reason, t
        self.engine.emit(
            t, "state", self.code, **{"from": old.label, "to": new.label, "reason": reason}
        )
        if new == S.RUNNING:
            self.run_since = t
            self.schedule_milestone(t)

    def start(self, t: float) -> None:
        """Initial conditions at t=0: wear ages, steady process values, first cycle or idle."""
        op = 0.0
        for wear in self.wears:
            wear.arm(t, op, initial=True)
            self._announce_arm(t, wear)
        starved = self.defn.buffer_capacity > 0 and self.buffer == 0
        initial = S.IDLE if not self.enabled else S.STARVED if starved else S.RUNNING
        for value in self.process.values():
            value.settle(initial, self.load, t)
        self.engine.emit(
            t, "state", self.code, **{"from": None, "to": initial.label, "reason": "initial"}
        )
        self.state, self.reason, self.since = initial, "initial", t
        self.refresh_alarm(t)
        if initial == S.RUNNING:  # a running plant: the first cycle is part-way through
            self.run_since = t
            self.schedule_milestone(t)
            if self.defn.buffer_capacity > 0:
                self.buffer -= 1
            duration = self.cycle_duration()
            end = t + self.rng_cycle.random() * duration
            self.cycle_start = end - duration
            self.engine.schedule(end, Kind.CYCLE_END, self.defn.index, 0, self.token)
        if self.defn.maintenance_every is not None:
            first = self.defn.maintenance_first
            self.engine.schedule(
                first if first is not None else self.defn.maintenance_every,
                Kind.PREVENTIVE,
                self.defn.index,
            )
        for k, group in enumerate(self.groups):
            group.next_k = 0
            self.engine.schedule(t + group.phase * group.period, Kind.SAMPLE, self.defn.index, k)

    # --- production ----------------------------------------------------------------------------

    def cycle_duration(self) -> float:
        """Duration of a cycle started now: ideal time at the setpoint, plus a slowdown."""
        jitter = abs(self.rng_cycle.gauss(0.0, self.defn.cycle_jitter))
        return self.defn.ideal_cycle * (100.0 / self.setpoint) * (1.0 + jitter)

    def proceed(self, t: float) -> None:
        """Decide what to do when free: idle, setup, push a held part, or start a cycle."""
        if self.failed is not None or self.state in (S.DOWN, S.MAINTENANCE):
            return
        if not self.enabled:
            self.set_state(t, S.IDLE, "stopped")
            return
        if self.pm_pending:
            self.begin_maintenance(t, "preventive", self.defn.maintenance_duration)
            return
        if self.needs_setup:
            self.set_state(t, S.SETUP, "setup")
            self.engine.schedule(
                t + self.defn.setup, Kind.SETUP_END, self.defn.index, 0, self.token
            )
            return
        if self.held_part:
            if not self.push(t):
                self.set_state(t, S.BLOCKED, "blocked")
                return
            self.held_part = False
        self.start_cycle(t)

    def start_cycle(self, t: float) -> None:
        """Take a part (or starve) and run one cycle."""
        if self.defn.buffer_capacity > 0:
            if self.buffer == 0:
                self.set_state(t, S.STARVED, "starved")
                return
            self.buffer -= 1
        self.set_state(t, S.RUNNING, "production")
        self.cycle_start = t
        self.engine.schedule(
            t + self.cycle_duration(), Kind.CYCLE_END, self.defn.index, 0, self.token
        )
        if self.defn.buffer_capacity > 0:
            self.space_freed(t)

    def end_cycle(self, t: float) -> None:
        """Count the part, wear the tools, pass the part on."""
        op = self.op_time(t)
        scrap_p = self.defn.scrap_rate + sum(w.scrap_increase(t, op) for w in self.wears)
        good = self.rng_cycle.random() >= min(1.0, scrap_p)
        broken: Wear | None = None
        for wear in self.wears:
            if wear.kind == "tool_wear" and not wear.scheduled:
                wear.parts += 1
                for phase in wear.reach_parts():
                    if phase == Phase.FAILED:
                        broken = wear
                    else:
                        self.reach(t, wear, phase)
        if broken is not None:
            good = False  # the tool broke during this part
        self.last_cycle = round(t - self.cycle_start, 3)
        self.count(t, good)
        if broken is not None:
            self.fail(t, broken, cause="wear")
            return
        if good and self.defn.feeds is not None and not self.push(t):
            self.held_part = True
            self.set_state(t, S.BLOCKED, "blocked")
            return
        self.proceed(t)

    def count(self, t: float, good: bool) -> None:
        """Increment a counter (uint32, wrapping) and log the cycle."""
        if good:
            self.good = (self.good + 1) & U32
            if self.good == 0:
                self.engine.emit(t, "counter_wrap", self.code, counter="good_count")
        else:
            self.scrap = (self.scrap + 1) & U32
            if self.scrap == 0:
                self.engine.emit(t, "counter_wrap", self.code, counter="scrap_count")
        if self.cycle_events:
            self.engine.emit(
                t,
                "cycle",
                self.code,
                good=good,
                cycle_time=self.last_cycle,
                good_count=self.good,
                scrap_count=self.scrap,
            )

    def push(self, t: float) -> bool:
        """Put a finished part into the downstream buffer; False when it is full."""
        target = self.by_code[self.defn.feeds] if self.defn.feeds else None
        if target is None:
            return True
        if target.buffer >= target.defn.buffer_capacity:
            return False
        target.buffer += 1
        if target.state == S.STARVED:
            target.start_cycle(t)
        return True

    def space_freed(self, t: float) -> None:
        """A part left the input buffer: blocked upstream machines pass theirs on."""
        for code in self.defn.upstream:
            if self.buffer >= self.defn.buffer_capacity:
                return
            up = self.by_code[code]
            if up.state == S.BLOCKED and up.held_part:
                self.buffer += 1
                up.held_part = False
                up.proceed(t)

    # --- failures and maintenance --------------------------------------------------------------

    def schedule_milestone(self, t: float) -> None:
        """Queue the next running-time degradation milestone (only while running)."""
        if self.state != S.RUNNING:
            return
        op = self.op_time(t)
        due = min((w.next_op_milestone() for w in self.wears), default=float("inf"))
        if due != float("inf"):
            self.engine.schedule(
                t + max(0.0, due - op), Kind.MILESTONE, self.defn.index, 0, self.token
            )

    def milestone(self, t: float) -> None:
        """Running-time milestones reached now: onsets, warnings, failures."""
        op = self.op_time(t)
        for wear in self.wears:
            if wear.scheduled or wear.kind == "tool_wear":
                continue
            for phase in wear.reach_op(op):
                if phase == Phase.FAILED:
                    self.fail(t, wear, cause="wear" if wear.kind != "sudden" else "random")
                    return
                self.reach(t, wear, phase)
        self.schedule_milestone(t)

    def scheduled(self, t: float, wear: Wear, phase: Phase) -> None:
        """A scheduled mode reached `phase`."""
        if phase != Phase.FAILED:
            self.reach(t, wear, phase)
            return
        if self.state in (S.DOWN, S.MAINTENANCE):
            self.engine.emit(
                t,
                "failure_averted",
                self.code,
                mode=wear.kind,
                failure_id=wear.failure_id,
                by=self.state.label,
            )
            self.rearm(t, wear)
            return
        self.fail(t, wear, cause="scheduled")

    def reach(self, t: float, wear: Wear, phase: Phase) -> None:
        """Log an onset or a warning."""
        wear.phase = phase
        if phase == Phase.DEGRADING:
            self.engine.emit(
                t,
                "failure_onset",
                self.code,
                mode=wear.kind,
                failure_id=wear.failure_id,
                **self._remaining(t, wear),
            )
        elif phase == Phase.WARNED and wear.defn.warning_code is not None:
            self.engine.emit(
                t,
                "warning",
                self.code,
                mode=wear.kind,
                failure_id=wear.failure_id,
                alarm_code=wear.defn.warning_code,
            )
            self.refresh_alarm(t)

    def _remaining(self, t: float, wear: Wear) -> dict[str, Any]:
        if wear.scheduled:
            return {"failure_at_t": round(wear.fail_t, 3)}
        if wear.kind == "tool_wear":
            return {"parts_to_failure": wear.tool_life - wear.parts}
        return {"running_s_to_failure": round(wear.fail_op - self.op_time(t), 3)}

    def _announce_arm(self, t: float, wear: Wear) -> None:
        if wear.phase >= Phase.DEGRADING:
            self.reach(t, wear, Phase.DEGRADING)
        if wear.phase >= Phase.WARNED:
            self.reach(t, wear, Phase.WARNED)
        if wear.scheduled:
            for when, phase in wear.calendar_milestones():
                self.engine.schedule(
                    when,
                    Kind.SCHEDULED,
                    self.defn.index,
                    wear.defn.index * 4 + int(phase),
                    wear.token,
                )

    def rearm(self, t: float, wear: Wear) -> None:
        """A new lifetime for `wear` (after maintenance or an averted scheduled failure)."""
        wear.arm(t, self.op_time(t), initial=False)
        self._announce_arm(t, wear)

    def fail(
        self,
        t: float,
        wear: Wear | None,
        *,
        cause: str,
        alarm_code: int | None = None,
        mode: str | None = None,
    ) -> bool:
        """Go down now; False when already down or in maintenance."""
        if self.state in (S.DOWN, S.MAINTENANCE):
            return False
        kind = wear.kind if wear is not None else (mode or "sudden")
        code = alarm_code or (wear.defn.alarm_code if wear is not None else COMMAND_FAILURE_ALARM)
        if wear is not None:
            wear.phase = Phase.FAILED
        self.failed = wear
        self.failure_kind = kind
        self.failure_alarm = code
        self.engine.emit(
            t,
            "failure",
            self.code,
            mode=kind,
            cause=cause,
            alarm_code=code,
            failure_id=wear.failure_id if wear is not None else None,
            precursor=bool(wear is not None and kind != "sudden"),
        )
        self.set_state(t, S.DOWN, f"failure:{kind}")
        self.refresh_alarm(t)
        response_override, _ = self.repair_override
        low, high = self.defn.repair_response
        response = (
            response_override
            if response_override is not None
            else self.rng_repair.uniform(low, high)
        )
        self.engine.schedule(t + response, Kind.REPAIR_START, self.defn.index, 0, self.token)
        return True

    def start_repair(self, t: float) -> None:
        """The technician arrives: down -> maintenance (repair)."""
        _, duration_override = self.repair_override
        low, high = self.defn.repair_duration
        duration = (
            duration_override
            if duration_override is not None
            else self.rng_repair.uniform(low, high)
        )
        self.repair_override = (None, None)
        self.begin_maintenance(t, "repair", duration)

    def begin_maintenance(self, t: float, kind: str, duration: float) -> None:
        """Enter maintenance for `duration` seconds."""
        self.pm_pending = False
        mode = self.failure_kind if kind == "repair" else None
        self.set_state(t, S.MAINTENANCE, f"{kind}:{mode}" if mode else kind)
        self.engine.emit(
            t, "maintenance_start", self.code, kind=kind, mode=mode, duration_s=round(duration, 3)
        )
        self.engine.schedule(t + duration, Kind.MAINTENANCE_END, self.defn.index, 0, self.token)

    def end_maintenance(self, t: float) -> None:
        """Repairs reset the failed mode; other maintenance resets every mode."""
        kind = "repair" if self.reason.startswith("repair") else self.reason
        repaired = [self.failed] if kind == "repair" and self.failed is not None else []
        targets = repaired if kind == "repair" else list(self.wears)
        reset = []
        for wear in targets:
            if wear is not self.failed and wear.phase >= Phase.DEGRADING:
                self.engine.emit(
                    t,
                    "failure_averted",
                    self.code,
                    mode=wear.kind,
                    failure_id=wear.failure_id,
                    by="maintenance",
                )
            reset.append(wear.kind)
        self.engine.emit(t, "maintenance_end", self.code, kind=kind, reset=reset)
        for wear in targets:
            self.rearm(t, wear)
        self.failed = None
        self.failure_alarm = 0
        self.failure_kind = ""
        self.needs_setup = True
        self.refresh_alarm(t)
        self.set_state(
            t, S.SETUP if self.enabled else S.IDLE, "setup" if self.enabled else "stopped"
        )
        if self.enabled:
            self.engine.schedule(
                t + self.defn.setup, Kind.SETUP_END, self.defn.index, 0, self.token
            )

    def end_setup(self, t: float) -> None:
        """Setup done: produce."""
        self.needs_setup = False
        self.proceed(t)

    def preventive_due(self, t: float) -> None:
        """Calendar preventive maintenance: now, or after the cycle in progress."""
        every = self.defn.maintenance_every
        assert every is not None
        self.engine.schedule(t + every, Kind.PREVENTIVE, self.defn.index)
        if self.state in (S.DOWN, S.MAINTENANCE):
            return
        if self.state == S.RUNNING:
            self.pm_pending = True
            return
        self.begin_maintenance(t, "preventive", self.defn.maintenance_duration)

    def refresh_alarm(self, t: float) -> None:
        """alarm_code: the failure's alarm, else the highest warning, else 0."""
        if self.failed is not None or self.failure_alarm:
            code = self.failure_alarm
        else:
            warned = [
                w.defn.warning_code
                for w in self.wears
                if w.phase == Phase.WARNED and w.defn.warning_code is not None
            ]
            code = max(warned, default=0)
        if code != self.alarm:
            self.engine.emit(t, "alarm", self.code, alarm_code=code, previous=self.alarm)
            self.alarm = code

    # --- sampling ------------------------------------------------------------------------------

    def effects(self, t: float, act: float) -> dict[str, float]:
        """Degradation added to each process signal now (`act`: activity of the state)."""
        out: dict[str, float] = {}
        if act == 0.0:
            return out
        op = -1.0
        for wear in self.wears:
            if not wear.defn.effects or wear.phase == Phase.HEALTHY:
                continue
            if op < 0:
                op = self.op_time(t)
            d = wear.degradation(t, op)
            if d <= 0.0:
                continue
            for name, amount in wear.defn.effects:
                out[name] = out.get(name, 0.0) + amount * d * d * act
        return out

    def sample(self, t: float, group: SampleGroup) -> list[float | int]:
        """Values of `group`'s signals at `t`."""
        rng = self.rng_noise
        state = self.state
        act = activity(state)
        effects = self.effects(t, act)
        noise_scale = 0.2 + 0.8 * act
        load = self.load
        process = self.process
        values: list[float | int] = []
        for sig in group.signals:
            name = sig.name
            value: float | int
            if sig.profile is not None:
                value = round(
                    process[name].sample(
                        t, state, load, effects.get(name, 0.0) if effects else 0.0, noise_scale, rng
                    ),
                    4,
                )
            elif name == "state":
                value = int(state)
            elif name == "good_count":
                value = self.good
            elif name == "scrap_count":
                value = self.scrap
            elif name == "alarm_code":
                value = self.alarm
            else:
                value = self.last_cycle
            values.append(value)
        self.latest.update(zip(group.names, values, strict=True))
        return values

    def snapshot(self) -> dict[str, Any]:
        """Current state for the control endpoint."""
        return {
            "code": self.code,
            "state": self.state.label,
            "state_code": int(self.state),
            "reason": self.reason,
            "since_t": round(self.since, 3),
            "enabled": self.enabled,
            "setpoint": self.setpoint,
            "good_count": self.good,
            "scrap_count": self.scrap,
            "alarm_code": self.alarm,
            "buffer": self.buffer,
            "degradation": {
                w.kind: round(w.degradation(self.engine.now, self.op_time(self.engine.now)), 4)
                for w in self.wears
            },
            "values": dict(self.latest),
        }
