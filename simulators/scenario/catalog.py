"""Machine types: the standard signals every machine has and the process signals of each type.

A process signal follows a target that depends on the machine's state (off when down or in
maintenance, idle when stopped, running otherwise, scaled by the load), with a first-order lag
(`tau_s`) and Gaussian measurement noise. Failure modes add to it as they degrade the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DataType = Literal["uint16", "uint32", "float32"]


@dataclass(frozen=True)
class SignalProfile:
    """How one process signal behaves (values in `unit`)."""

    name: str
    unit: str
    low: float  # engineering range (EURange); values outside it are out of range
    high: float
    off: float  # target when the machine is down or in maintenance
    idle: float  # target when powered but not producing (idle, setup, blocked, starved)
    running: float  # target while running at 100 % load
    noise: float  # standard deviation of the measurement noise
    tau_s: float  # first-order time constant of the process
    load_exp: float = 1.0  # running target scales with load ** load_exp
    description: str = ""
    modbus_scale: float = 0.1  # int16 register layout: value = raw * modbus_scale


@dataclass(frozen=True)
class StandardSignal:
    """A signal every machine has (state, counters, alarm, cycle time)."""

    name: str
    data_type: DataType
    unit: str | None
    low: float
    high: float
    description: str


STANDARD_SIGNALS: tuple[StandardSignal, ...] = (
    StandardSignal(
        "state",
        "uint16",
        None,
        0,
        6,
        "machine state: 0 idle, 1 setup, 2 running, 3 blocked, 4 starved, 5 down, 6 maintenance",
    ),
    StandardSignal("good_count", "uint32", "pcs", 0, 4294967295, "good parts since counter reset"),
    StandardSignal("scrap_count", "uint32", "pcs", 0, 4294967295, "scrapped parts since reset"),
    StandardSignal("alarm_code", "uint16", None, 0, 65535, "active alarm, 0 none"),
    StandardSignal("cycle_time", "float32", "s", 0, 3600, "duration of the last completed cycle"),
)
STANDARD_NAMES = frozenset(s.name for s in STANDARD_SIGNALS)


def _spindle(running: float, high: float) -> SignalProfile:
    return SignalProfile(
        "spindle_speed",
        "rpm",
        0,
        high,
        0,
        0,
        running,
        running * 0.004,
        1.5,
        1.0,
        "spindle speed",
        1.0,
    )


def _temperature(idle: float, running: float, high: float = 120, tau: float = 600) -> SignalProfile:
    return SignalProfile(
        "temperature", "degC", 0, high, 22, idle, running, 0.25, tau, 1.0, "temperature"
    )


def _vibration(idle: float, running: float) -> SignalProfile:
    return SignalProfile(
        "vibration_rms",
        "mm/s",
        0,
        25,
        0.05,
        idle,
        running,
        running * 0.06,
        2.0,
        1.0,
        "vibration velocity RMS",
        0.01,
    )


def _current(idle: float, running: float, high: float) -> SignalProfile:
    return SignalProfile(
        "motor_current", "A", 0, high, 0, idle, running, running * 0.03, 1.0, 1.2, "motor current"
    )


TYPES: dict[str, tuple[SignalProfile, ...]] = {
    "cnc": (
        _spindle(3200, 6000),
        _temperature(30, 48),
        _vibration(0.4, 1.8),
        _current(2.5, 22, 80),
    ),
    "lathe": (
        _spindle(2400, 5000),
        _temperature(29, 42),
        _vibration(0.3, 1.4),
        _current(2.0, 15, 60),
    ),
    "mill": (
        _spindle(8000, 12000),
        _temperature(31, 45),
        _vibration(0.5, 2.2),
        _current(2.5, 18, 60),
    ),
    "washer": (
        _temperature(55, 62, high=95, tau=900),
        SignalProfile("pressure", "bar", 0, 10, 0, 0.2, 4.5, 0.08, 2.0, 1.0, "spray pressure"),
        SignalProfile("flow_rate", "l/min", 0, 80, 0, 0, 35, 0.8, 2.0, 1.0, "spray flow rate"),
    ),
    "press": (
        SignalProfile("pressure", "bar", 0, 350, 0, 20, 180, 3.0, 1.0, 1.0, "hydraulic pressure"),
        SignalProfile("force", "kN", 0, 200, 0, 0, 85, 1.5, 0.5, 1.0, "pressing force"),
        _temperature(35, 42, high=90, tau=900),
        _current(3.0, 30, 100),
    ),
    "robot": (
        _current(1.5, 6, 20),
        _temperature(30, 38, high=90),
        _vibration(0.2, 0.8),
    ),
    "screwdriver": (
        SignalProfile("torque", "Nm", 0, 30, 0, 0, 12, 0.25, 0.3, 1.0, "final tightening torque"),
        SignalProfile("angle", "deg", 0, 1440, 0, 0, 540, 6.0, 0.3, 1.0, "tightening angle", 1.0),
        _current(0.5, 3, 10),
    ),
    "tester": (
        SignalProfile("leak_rate", "ml/min", 0, 20, 0, 0, 0.8, 0.05, 1.0, 1.0, "leak rate", 0.01),
        SignalProfile("pressure", "bar", 0, 12, 0, 0, 6, 0.05, 1.0, 1.0, "test pressure"),
    ),
    "packer": (
        _current(1.0, 4, 15),
        _temperature(28, 35, high=80),
    ),
    "generic": (),
}


def generic_signal(index: int) -> SignalProfile:
    """Process signal `p<index>` of the generic (benchmark) machine type.

    >>> generic_signal(7).name
    'p007'
    """
    base = 10.0 + (index * 7) % 80
    return SignalProfile(
        f"p{index:03d}",
        "",
        0,
        200,
        0,
        base * 0.2,
        base,
        base * 0.01 + 0.05,
        2.0,
        1.0,
        f"generic process value {index}",
    )
