"""A validated scenario, resolved into the definitions the model and the protocol servers use.

Every default is applied here (machine type profiles, failure-mode parameters, buffers), so the
model never looks at the raw file and the protocol servers see one list of signals per machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from simulators.scenario.catalog import DataType, SignalProfile
from simulators.scenario.schema import FailureKind, MqttSpec, OpcuaSpec, Protocol, WordOrder

ALARM_CODES: dict[str, tuple[int, int | None]] = {  # mode -> (failure alarm, warning alarm)
    "bearing_wear": (201, 101),
    "tool_wear": (202, 102),
    "sudden": (203, None),
}
COMMAND_FAILURE_ALARM = 209  # a failure triggered by the `fail` command


@dataclass(frozen=True)
class SignalDef:
    """One signal of one machine, as every protocol exposes it."""

    key: str  # "<machine>.<name>", unique in the plant
    name: str
    data_type: DataType
    unit: str | None
    low: float
    high: float
    description: str
    period: float  # sample period in simulated seconds
    profile: SignalProfile | None = None  # None for the standard signals
    batch: bool = False
    modbus_scale: float = 0.1

    @property
    def is_process(self) -> bool:
        """True for a noisy process value (not state, counters, alarm, cycle time)."""
        return self.profile is not None


@dataclass(frozen=True)
class FailureDef:
    """A failure mode with every parameter resolved."""

    kind: FailureKind
    index: int  # position in the machine's failure modes
    mtbf: float  # mean running seconds to failure (bearing_wear, sudden)
    shape: float  # Weibull shape (bearing_wear)
    precursor: float  # running seconds of visible degradation before failure (bearing_wear)
    life_parts: tuple[int, int]  # tool life range in parts (tool_wear)
    onset: float  # tool_wear: wear fraction where the precursor starts
    scrap_gain: float
    effects: tuple[tuple[str, float], ...]  # (signal name, added at full degradation)
    warning_at: float | None
    alarm_code: int
    warning_code: int | None
    schedule: tuple[float, ...]  # failure times (simulated seconds from start), if scheduled


@dataclass(frozen=True)
class MachineDef:
    """A machine with everything resolved."""

    index: int
    code: str
    name: str
    type: str
    protocol: Protocol
    unit_id: int | None
    product: str | None
    site: str
    area: str
    line: str
    ideal_cycle: float
    setup: float
    scrap_rate: float
    cycle_jitter: float
    feeds: str | None
    buffer_capacity: int  # 0 when no machine feeds this one
    buffer_initial: int
    upstream: tuple[str, ...]
    initial_state: Literal["running", "idle"]
    setpoint: float
    signals: tuple[SignalDef, ...]
    failures: tuple[FailureDef, ...]
    repair_response: tuple[float, float]
    repair_duration: tuple[float, float]
    maintenance_every: float | None
    maintenance_duration: float
    maintenance_first: float | None
    modbus_layout: Literal["float32", "int16"]
    word_order: WordOrder
    initial_good: int = 0
    initial_scrap: int = 0
    sample_phase: float = 0.0  # samples at (k + phase) * period: devices are not in lockstep

    @property
    def topic_prefix(self) -> str:
        """`<site>/<area>/<line>/<machine>` (MQTT)."""
        return f"{self.site}/{self.area}/{self.line}/{self.code}"

    @property
    def browse_path(self) -> str:
        """`Objects/<site>/<line>/<machine>` (OPC UA)."""
        return f"Objects/{self.site}/{self.line}/{self.code}"

    def signal(self, name: str) -> SignalDef:
        """The signal called `name`; KeyError otherwise."""
        for sig in self.signals:
            if sig.name == name:
                return sig
        raise KeyError(f"{self.code} has no signal {name!r}")


@dataclass(frozen=True)
class LineDef:
    """A line and the area it belongs to."""

    code: str
    name: str
    area: str


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario."""

    name: str
    description: str
    source: str  # built-in name or file path
    start: datetime | None
    sample_period: float
    site_code: str
    site_name: str
    areas: tuple[tuple[str, str], ...]  # (code, name)
    lines: tuple[LineDef, ...]
    machines: tuple[MachineDef, ...]
    opcua: OpcuaSpec
    mqtt: MqttSpec
    params: dict[str, str] = field(default_factory=dict)

    def machine(self, code: str) -> MachineDef:
        """The machine called `code`; KeyError naming the known codes otherwise."""
        for machine in self.machines:
            if machine.code == code:
                return machine
        raise KeyError(f"unknown machine {code!r} (known: {', '.join(self.codes)})")

    @property
    def codes(self) -> list[str]:
        """Machine codes in plant order."""
        return [m.code for m in self.machines]

    def by_protocol(self, protocol: Protocol) -> list[MachineDef]:
        """Machines speaking `protocol`."""
        return [m for m in self.machines if m.protocol == protocol]

    @property
    def signal_count(self) -> int:
        """Signals in the plant."""
        return sum(len(m.signals) for m in self.machines)
