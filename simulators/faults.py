"""Fault injection: what can go wrong on the wire, for which target, and for how long.

A fault has a target (a protocol server: `opcua`, `modbus`, `mqtt`; or a machine code), a kind,
an optional delay and duration (wall-clock seconds) and parameters. The book keeps the active
ones; the protocol servers look them up (per machine) or are told when one starts or ends.

kind          server targets (opcua/modbus/mqtt)    machine targets (by the machine's protocol)
drop          opcua, modbus, mqtt                   mqtt
stall         opcua, modbus, mqtt                   modbus, mqtt
restart       opcua, modbus, mqtt                   mqtt
offline       mqtt                                  opcua, modbus, mqtt
freeze        mqtt                                  opcua, modbus, mqtt
malformed     modbus (garbled frames), mqtt         modbus, mqtt
out_of_range  mqtt                                  opcua, modbus, mqtt
bad_quality   mqtt                                  opcua, mqtt
skew          mqtt                                  opcua, mqtt
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from simulators.scenario.definitions import Scenario

KINDS = (
    "drop",
    "stall",
    "restart",
    "offline",
    "freeze",
    "malformed",
    "out_of_range",
    "bad_quality",
    "skew",
)
SERVER_KINDS = {
    "opcua": {"drop", "stall", "restart"},
    "modbus": {"drop", "stall", "restart", "malformed"},
    "mqtt": set(KINDS),
}
MACHINE_KINDS = {
    "opcua": {"offline", "freeze", "out_of_range", "bad_quality", "skew"},
    "modbus": {"offline", "stall", "freeze", "out_of_range", "malformed"},
    "mqtt": set(KINDS),
}
PARAMS = {"skew": "skew_s"}  # kind -> the parameter it needs


class FaultError(ValueError):
    """A fault request that does not apply; names the offending field and why."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass
class Fault:
    """One injected fault."""

    id: int
    target: str
    kind: str
    starts_at: float  # wall clock (time.monotonic)
    ends_at: float | None  # None: until cleared
    params: dict[str, float] = field(default_factory=dict)
    active: bool = False
    protocol: str = ""
    machines: tuple[str, ...] = ()  # machines it affects (all of a protocol for server targets)

    def describe(self, now: float) -> dict[str, Any]:
        """JSON view for the control endpoint."""
        return {
            "id": self.id,
            "target": self.target,
            "kind": self.kind,
            "protocol": self.protocol,
            "active": self.active,
            "starts_in_s": round(max(0.0, self.starts_at - now), 3),
            "ends_in_s": None if self.ends_at is None else round(max(0.0, self.ends_at - now), 3),
            "params": self.params,
        }


@dataclass(frozen=True)
class FaultSpec:
    """A requested fault (from `--fault` or the control endpoint)."""

    target: str
    kind: str
    delay_s: float = 0.0
    duration_s: float | None = None
    params: dict[str, float] = field(default_factory=dict)


def parse_fault_spec(text: str) -> FaultSpec:
    """`TARGET:KIND[:key=value,...]` with keys `at` (delay s), `for` (duration s), `skew` (s).

    >>> parse_fault_spec("modbus:drop:at=30,for=10")
    FaultSpec(target='modbus', kind='drop', delay_s=30.0, duration_s=10.0, params={})
    >>> parse_fault_spec("CNC-101:skew:skew=-120").params
    {'skew_s': -120.0}
    """
    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise FaultError(None, f"{text!r}: expected TARGET:KIND[:at=S,for=S,skew=S]")
    target, kind = parts[0], parts[1]
    delay, duration, params = 0.0, None, {}
    for item in filter(None, (parts[2] if len(parts) == 3 else "").split(",")):
        key, sep, raw = item.partition("=")
        try:
            value = float(raw)
        except ValueError:
            raise FaultError(None, f"{text!r}: {key} needs a number") from None
        if not sep:
            raise FaultError(None, f"{text!r}: expected key=value, got {item!r}")
        if key == "at":
            delay = value
        elif key == "for":
            duration = value
        elif key in ("skew", "skew_s"):
            params["skew_s"] = value
        else:
            raise FaultError(None, f"{text!r}: unknown key {key!r} (at, for, skew)")
    return FaultSpec(target, kind, delay, duration, params)


Listener = Callable[[Fault, bool], None]


class FaultBook:
    """Active and pending faults; listeners hear every start and end."""

    def __init__(self, scenario: Scenario, clock: Callable[[], float] = time.monotonic) -> None:
        self.scenario = scenario
        self.clock = clock
        self._ids = itertools.count(1)
        self.faults: dict[int, Fault] = {}
        self.listeners: list[Listener] = []
        self._by_machine: dict[str, dict[str, Fault]] = {}

    def check(self, spec: FaultSpec) -> tuple[str, tuple[str, ...]]:
        """(protocol, machines affected); FaultError naming what is wrong."""
        if spec.kind not in KINDS:
            raise FaultError("kind", f"unknown fault {spec.kind!r} (known: {', '.join(KINDS)})")
        if spec.target in SERVER_KINDS:
            protocol = spec.target
            allowed = SERVER_KINDS[protocol]
            machines = tuple(m.code for m in self.scenario.by_protocol(protocol))  # type: ignore[arg-type]
        else:
            try:
                machine = self.scenario.machine(spec.target)
            except KeyError:
                targets = ", ".join([*SERVER_KINDS, *self.scenario.codes])
                raise FaultError("target", f"unknown {spec.target!r} (known: {targets})") from None
            protocol = machine.protocol
            allowed = MACHINE_KINDS[protocol]
            machines = (machine.code,)
        if spec.kind not in allowed:
            what = (
                f"the {protocol} server" if spec.target in SERVER_KINDS else f"a {protocol} machine"
            )
            raise FaultError(
                "kind",
                f"{spec.kind!r} does not apply to {what} (applies: {', '.join(sorted(allowed))})",
            )
        needed = PARAMS.get(spec.kind)
        if needed and needed not in spec.params:
            raise FaultError(needed, f"required for {spec.kind}")
        if spec.delay_s < 0:
            raise FaultError("at", "must be >= 0 seconds")
        if spec.duration_s is not None and spec.duration_s <= 0:
            raise FaultError("for", "must be > 0 seconds")
        if spec.kind == "restart" and spec.duration_s is None:
            raise FaultError("for", "a restart needs the down time in seconds")
        return protocol, machines

    def add(self, spec: FaultSpec) -> Fault:
        """Register a fault; it starts after its delay (see `tick`)."""
        protocol, machines = self.check(spec)
        now = self.clock()
        start = now + spec.delay_s
        fault = Fault(
            id=next(self._ids),
            target=spec.target,
            kind=spec.kind,
            starts_at=start,
            ends_at=None if spec.duration_s is None else start + spec.duration_s,
            params=dict(spec.params),
            protocol=protocol,
            machines=machines,
        )
        self.faults[fault.id] = fault
        self.tick()
        return fault

    def clear(self, fault_id: int) -> Fault:
        """End a fault now; KeyError when unknown."""
        fault = self.faults.pop(fault_id)
        if fault.active:
            self._set(fault, False)
        return fault

    def clear_all(self) -> list[Fault]:
        """End every fault."""
        return [self.clear(fid) for fid in list(self.faults)]

    def tick(self) -> None:
        """Start and end faults whose time has come."""
        now = self.clock()
        for fault in list(self.faults.values()):
            if (
                not fault.active
                and fault.starts_at <= now
                and (fault.ends_at is None or fault.ends_at > now)
            ):
                self._set(fault, True)
            elif fault.ends_at is not None and fault.ends_at <= now:
                if fault.active:
                    self._set(fault, False)
                del self.faults[fault.id]

    def _set(self, fault: Fault, active: bool) -> None:
        fault.active = active
        # server faults on OPC UA and Modbus act on the listener, not on each machine
        per_machine = fault.target not in ("opcua", "modbus")
        for code in fault.machines if per_machine else ():
            kinds = self._by_machine.setdefault(code, {})
            if active:
                kinds[fault.kind] = fault
            elif kinds.get(fault.kind) is fault:
                del kinds[fault.kind]
        for listener in self.listeners:
            listener(fault, active)

    def on_machine(self, code: str) -> dict[str, Fault]:
        """Active faults affecting machine `code` (kind -> fault)."""
        return self._by_machine.get(code, {})

    def active(self, kinds: Iterable[str] | None = None) -> list[Fault]:
        """Active faults, optionally of some kinds."""
        wanted = set(kinds) if kinds is not None else None
        return [
            f for f in self.faults.values() if f.active and (wanted is None or f.kind in wanted)
        ]

    def describe(self) -> list[dict[str, Any]]:
        """JSON view of every fault."""
        now = self.clock()
        return [f.describe(now) for f in self.faults.values()]
