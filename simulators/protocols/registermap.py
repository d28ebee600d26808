"""The Modbus register map of each machine, its encoding, and its machine-readable export.

Two layouts (per machine, `modbus.layout`):

float32 (default)
    input registers   0 state (uint16), 1 alarm_code (uint16), 2-3 good_count (uint32),
                      4-5 scrap_count (uint32), 6-7 cycle_time (float32, s),
                      8.. process signals, float32, two registers each, in signal order
    holding registers 0 command (uint16: 1 start, 2 stop, 3 reset counters),
                      1-2 setpoint (float32, % of nominal speed, 10..120)
int16 (a legacy PLC)
    input registers   0 state, 1 alarm_code, 2-3 good_count, 4-5 scrap_count,
                      6 cycle_time (uint16, scale 0.1 s)
    holding registers 0 command, 1 setpoint (uint16, scale 0.1 %),
                      10.. process signals, int16, value = raw * scale (read-only)
both
    coils             0 run (1 start / 0 stop; reads the run command), 1 reset counters (pulse)
    discrete inputs   0 running, 1 down, 2 maintenance, 3 alarm active, 4 blocked, 5 starved

Bytes within a register are big-endian (Modbus); the order of the two registers of a 32-bit
value is the machine's `word_order` (big: high word first).
"""

from __future__ import annotations

import math
import struct
from dataclasses import asdict, dataclass
from typing import Any, Literal

from simulators.scenario.definitions import MachineDef, Scenario, SignalDef

Table = Literal["input", "holding", "coil", "discrete"]
RegType = Literal["uint16", "int16", "uint32", "float32", "bool"]
Kind = Literal["signal", "command", "status"]
SIZE = {"uint16": 1, "int16": 1, "uint32": 2, "float32": 2, "bool": 1}
INT16_BASE = 10  # int16 layout: first holding register of the process signals
FLOAT_BASE = 8  # float32 layout: first input register of the process signals
COMMAND_CODES = {1: "start", 2: "stop", 3: "reset"}
STATUS_BITS = ("running", "down", "maintenance", "alarm_active", "blocked", "starved")


@dataclass(frozen=True)
class Register:
    """One point of a unit's map."""

    key: str  # signal key for signals, `<machine>.<name>` for commands and status bits
    name: str
    kind: Kind
    table: Table
    address: int
    type: RegType
    word_order: Literal["big", "little"]
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    access: Literal["r", "rw", "w"] = "r"
    description: str = ""

    @property
    def size(self) -> int:
        """Registers (or bits) it spans."""
        return SIZE[self.type]


def _signal_register(
    sig: SignalDef,
    table: Table,
    address: int,
    type_: RegType,
    word_order: Literal["big", "little"],
    scale: float = 1.0,
) -> Register:
    return Register(
        sig.key,
        sig.name,
        "signal",
        table,
        address,
        type_,
        word_order,
        scale,
        0.0,
        sig.unit,
        "r",
        sig.description,
    )


def machine_map(m: MachineDef) -> list[Register]:
    """Every register, coil and discrete input of machine `m`."""
    wo = m.word_order
    sig = {s.name: s for s in m.signals}
    regs = [
        _signal_register(sig["state"], "input", 0, "uint16", wo),
        _signal_register(sig["alarm_code"], "input", 1, "uint16", wo),
        _signal_register(sig["good_count"], "input", 2, "uint32", wo),
        _signal_register(sig["scrap_count"], "input", 4, "uint32", wo),
    ]
    command = Register(
        f"{m.code}.command",
        "command",
        "command",
        "holding",
        0,
        "uint16",
        wo,
        access="rw",
        description="write 1 start, 2 stop, 3 reset counters; reads the last command",
    )
    process = [s for s in m.signals if s.is_process]
    if m.modbus_layout == "float32":
        regs.append(_signal_register(sig["cycle_time"], "input", 6, "float32", wo))
        regs += [
            _signal_register(s, "input", FLOAT_BASE + 2 * i, "float32", wo)
            for i, s in enumerate(process)
        ]
        setpoint = Register(
            f"{m.code}.setpoint",
            "setpoint",
            "command",
            "holding",
            1,
            "float32",
            wo,
            unit="%",
            access="rw",
            description="speed setpoint, % of nominal (10..120)",
        )
    else:
        regs.append(_signal_register(sig["cycle_time"], "input", 6, "uint16", wo, 0.1))
        regs += [
            _signal_register(s, "holding", INT16_BASE + i, "int16", wo, s.modbus_scale)
            for i, s in enumerate(process)
        ]
        setpoint = Register(
            f"{m.code}.setpoint",
            "setpoint",
            "command",
            "holding",
            1,
            "uint16",
            wo,
            0.1,
            unit="%",
            access="rw",
            description="speed setpoint, % of nominal (10..120), raw = % x 10",
        )
    regs += [command, setpoint]
    regs.append(
        Register(
            f"{m.code}.run",
            "run",
            "command",
            "coil",
            0,
            "bool",
            wo,
            access="rw",
            description="1 start, 0 stop; reads the run command",
        )
    )
    regs.append(
        Register(
            f"{m.code}.reset_counters",
            "reset_counters",
            "command",
            "coil",
            1,
            "bool",
            wo,
            access="w",
            description="write 1 to reset the counters; reads 0",
        )
    )
    regs += [
        Register(
            f"{m.code}.{name}",
            name,
            "status",
            "discrete",
            i,
            "bool",
            wo,
            description=f"1 while {name.replace('_', ' ')}",
        )
        for i, name in enumerate(STATUS_BITS)
    ]
    return regs


# --- encoding -------------------------------------------------------------------------------------


def _order(words: list[int], word_order: str) -> list[int]:
    return words if word_order == "big" else words[::-1]


def encode(reg: Register, value: float) -> list[int]:
    """Registers holding `value` (saturating at the type's limits).

    >>> r = Register("M.x", "x", "signal", "input", 8, "float32", "big")
    >>> encode(r, 1.5)
    [16320, 0]
    >>> encode(Register("M.x", "x", "signal", "input", 8, "float32", "little"), 1.5)
    [0, 16320]
    >>> encode(Register("M.t", "t", "signal", "holding", 10, "int16", "big", 0.1), -12.34)
    [65413]
    """
    t = reg.type
    if t == "float32":
        hi, lo = struct.unpack(">HH", struct.pack(">f", value))
        return _order([hi, lo], reg.word_order)
    raw = (value - reg.offset) / reg.scale if reg.scale != 1.0 or reg.offset else value
    if isinstance(raw, float) and not math.isfinite(raw):
        raw = 0
    if t == "uint32":
        n = min(max(round(raw), 0), 0xFFFFFFFF)
        return _order([n >> 16, n & 0xFFFF], reg.word_order)
    if t == "int16":
        return [min(max(round(raw), -32768), 32767) & 0xFFFF]
    return [min(max(round(raw), 0), 0xFFFF)]


def decode(reg: Register, words: list[int]) -> float:
    """Inverse of `encode` (as a gateway reads it).

    >>> decode(Register("M.t", "t", "signal", "holding", 10, "int16", "big", 0.1), [65413])
    -12.3
    """
    t = reg.type
    if t == "float32":
        hi, lo = _order(list(words), reg.word_order)
        return float(struct.unpack(">f", struct.pack(">HH", hi, lo))[0])
    if t == "uint32":
        hi, lo = _order(list(words), reg.word_order)
        raw: float = (hi << 16) | lo
    elif t == "int16":
        raw = words[0] - 0x10000 if words[0] & 0x8000 else words[0]
    else:
        raw = words[0]
    value = raw * reg.scale + reg.offset
    return round(value, 6) if reg.scale != 1.0 else value


# --- export ---------------------------------------------------------------------------------------


def register_map_export(scenario: Scenario) -> dict[str, Any]:
    """The map of every Modbus machine, as written by `mes sim export-register-map`."""
    units = []
    for m in scenario.by_protocol("modbus"):
        units.append(
            {
                "unit_id": m.unit_id,
                "machine": m.code,
                "layout": m.modbus_layout,
                "byte_order": "big",
                "word_order": m.word_order,
                "registers": [
                    asdict(r) | {"byte_order": "big", "size": r.size} for r in machine_map(m)
                ],
            }
        )
    return {
        "version": 1,
        "scenario": scenario.name,
        "addressing": "0-based protocol addresses",
        "tables": {
            "input": "input registers (function 4)",
            "holding": "holding registers (functions 3, 6, 16)",
            "coil": "coils (functions 1, 5, 15)",
            "discrete": "discrete inputs (function 2)",
        },
        "units": units,
    }
