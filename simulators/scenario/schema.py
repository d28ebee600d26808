"""The scenario file as pydantic models: what a plant looks like and how its machines behave.

Unknown keys are errors; durations accept `30`, `"90s"`, `"15m"`, `"6h"` (see `durations`).
Cross-checks that span several keys (unique codes, unit ids, `feeds` targets, signal names)
live in `loader.check_plant`, so every error still names its key path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from simulators.scenario.durations import Seconds, SecondsRange

CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"  # used in topics, node ids and signal keys: no '/', '.'
SIGNAL_NAME = r"^[a-z][a-z0-9_]*$"
MachineType = Literal[
    "cnc", "lathe", "mill", "washer", "press", "robot", "screwdriver", "tester", "packer", "generic"
]
Protocol = Literal["opcua", "modbus", "mqtt"]
WordOrder = Literal["big", "little"]


class Strict(BaseModel):
    """Unknown keys are errors; models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSpec(Strict):
    """Overrides of a process signal's profile, or a new signal (then unit/low/high/running)."""

    unit: str | None = None
    low: float | None = None
    high: float | None = None
    off: float | None = None
    idle: float | None = None
    running: float | None = None
    noise: float | None = Field(default=None, ge=0)
    tau: Seconds | None = Field(default=None, gt=0)
    load_exp: float | None = None
    rate_hz: float | None = Field(default=None, gt=0, le=100)
    batch: bool = False  # MQTT: always publish in the machine's batch message
    modbus_scale: float | None = Field(default=None, gt=0)
    description: str | None = None


FailureKind = Literal["bearing_wear", "tool_wear", "sudden"]


class FailureModeSpec(Strict):
    """One way the machine fails.

    - bearing_wear: vibration and temperature drift up during `precursor` running time before
      the failure; lifetime in running time drawn from Weibull(`shape`, mean `mtbf`).
    - tool_wear: wear grows with every part over a tool life drawn from `life_parts`; scrap
      rate and motor current rise; the tool breaks at the end of its life.
    - sudden: failures without precursors; exponential in running time with mean `mtbf`.
    `schedule` replaces the random draws by failures at fixed offsets from the start.
    """

    mode: FailureKind
    mtbf: Seconds | None = Field(default=None, gt=0)
    shape: float | None = Field(default=None, gt=0, le=20)
    precursor: Seconds | None = Field(default=None, gt=0)
    life_parts: tuple[int, int] | None = None
    onset: float = Field(default=0.6, gt=0, lt=1)  # tool wear: precursor starts at this wear
    scrap_gain: float = Field(default=0.3, ge=0, le=1)  # tool wear: extra scrap rate at end
    effects: dict[str, float] | None = None  # signal -> added at full degradation
    warning_at: float | None = Field(default=0.85, gt=0, lt=1)
    alarm_code: int | None = Field(default=None, ge=1, le=65535)
    warning_code: int | None = Field(default=None, ge=1, le=65535)
    schedule: list[Seconds] = []


class RepairSpec(Strict):
    """After a failure: down until a technician responds, then maintenance for the repair."""

    response: SecondsRange = (300.0, 900.0)
    duration: SecondsRange = (1200.0, 3600.0)


class MaintenanceSpec(Strict):
    """Preventive maintenance on a calendar; it resets every failure mode's degradation."""

    every: Seconds = Field(gt=0)
    duration: Seconds = Field(gt=0)
    first: Seconds | None = None  # offset of the first one (default: `every`)


class BufferSpec(Strict):
    """Input buffer of a machine that other machines feed."""

    capacity: int = Field(default=10, ge=1, le=100000)
    initial: int = Field(default=5, ge=0)


class CountersSpec(Strict):
    """Counter values at the start (real machines rarely start from zero; wraps at 2^32)."""

    good: int = Field(default=0, ge=0, le=4294967295)
    scrap: int = Field(default=0, ge=0, le=4294967295)


class ModbusMachineSpec(Strict):
    """Register layout of a Modbus machine (see docs/simulators.md)."""

    layout: Literal["float32", "int16"] = "float32"
    word_order: WordOrder | None = None  # default: the scenario's modbus.word_order


class MachineSpec(Strict):
    """A machine: where it sits, what it makes, how it speaks and how it fails."""

    code: str = Field(pattern=CODE, max_length=40)
    name: str | None = None
    type: MachineType
    protocol: Protocol
    unit_id: int | None = Field(default=None, ge=1, le=247)
    product: str | None = None
    ideal_cycle: Seconds = Field(gt=0)
    setup: Seconds = 600.0
    scrap_rate: float = Field(default=0.02, ge=0, le=1)
    cycle_jitter: float = Field(default=0.04, ge=0, le=1)
    feeds: str | None = None
    buffer: BufferSpec | None = None
    initial_state: Literal["running", "idle"] = "running"
    setpoint: float = Field(default=100.0, ge=10, le=120)
    counters: CountersSpec = CountersSpec()
    sample_period: Seconds | None = Field(default=None, gt=0)
    sample_phase: float = Field(default=0.0, ge=0, lt=1)  # offset, fraction of the period
    signals: dict[str, SignalSpec] = {}
    extra_signals: int = Field(default=0, ge=0, le=2000)
    failure_modes: list[FailureModeSpec] = []
    repair: RepairSpec = RepairSpec()
    maintenance: MaintenanceSpec | None = None
    modbus: ModbusMachineSpec = ModbusMachineSpec()


class LineSpec(Strict):
    """A production line."""

    code: str = Field(pattern=CODE, max_length=40)
    name: str | None = None
    machines: list[MachineSpec] = Field(min_length=1)


class AreaSpec(Strict):
    """An area of the site."""

    code: str = Field(pattern=CODE, max_length=40)
    name: str | None = None
    lines: list[LineSpec] = Field(min_length=1)


class SiteSpec(Strict):
    """The site (ISA-95 enterprise level below which areas sit)."""

    code: str = Field(pattern=CODE, max_length=40)
    name: str | None = None
    areas: list[AreaSpec] = Field(min_length=1)


class OpcuaSpec(Strict):
    """OPC UA address space settings."""

    namespace: str = "urn:knu-mes:simulator"
    path: str = Field(default="/knu-mes/", pattern=r"^/")
    application_uri: str = "urn:knu-mes:simulator:server"


class ModbusSpec(Strict):
    """Modbus server defaults."""

    word_order: WordOrder = "big"


class MqttSpec(Strict):
    """MQTT device behaviour."""

    qos: Literal[0, 1, 2] = 1
    keepalive: Seconds = Field(default=15.0, ge=5)
    batch_threshold: int = Field(default=20, ge=1)  # more values per flush -> batch message


class GenerateSpec(Strict):
    """A generated plant (the `scale` scenario): `machines` x `signals` per machine."""

    machines: int = Field(default=100, ge=1, le=20000)
    signals: int = Field(default=100, ge=5, le=2005)  # per machine, the 5 standard ones included
    protocol: Literal["opcua", "modbus", "mqtt", "mixed"] = "mixed"
    lines: int = Field(default=10, ge=1, le=1000)
    ideal_cycle: Seconds = Field(default=20.0, gt=0)
    failures: bool = True


class ScenarioFile(Strict):
    """A scenario file, version 1: either `site` (an explicit plant) or `generate`."""

    version: Literal[1]
    name: str = Field(pattern=CODE)
    description: str | None = None
    start: datetime | None = None  # simulated time origin (default: now, or fixed offline)
    sample_period: Seconds = Field(default=1.0, gt=0)
    site: SiteSpec | None = None
    generate: GenerateSpec | None = None
    opcua: OpcuaSpec = OpcuaSpec()
    modbus: ModbusSpec = ModbusSpec()
    mqtt: MqttSpec = MqttSpec()
