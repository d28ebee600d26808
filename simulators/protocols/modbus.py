"""Modbus TCP: one server, one unit id per machine, registers as in `registermap`.

Built on pymodbus 3.16's SimDevice/SimData datastore (the older ModbusDeviceContext and
ModbusSequentialDataBlock are deprecated there). Each unit's values live in our own register
image; the device `action` hook copies the requested range from the image on every read and
turns writes to command registers and coils into machine commands. Unknown unit ids get
exception 0x0A (gateway path unavailable).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.faults import Fault, FaultBook
from simulators.model.plant import CommandError, Sample
from simulators.model.states import MachineState
from simulators.protocols.proxy import FaultProxy
from simulators.protocols.registermap import (
    COMMAND_CODES,
    FLOAT_BASE,
    INT16_BASE,
    STATUS_BITS,
    Register,
    decode,
    encode,
    machine_map,
)
from simulators.scenario.definitions import MachineDef, Scenario

log = logging.getLogger(__name__)
CommandFn = Callable[..., dict[str, Any]]
TABLE_OF_FUNCTION = {
    1: "coil",
    5: "coil",
    15: "coil",
    2: "discrete",
    3: "holding",
    6: "holding",
    16: "holding",
    22: "holding",
    23: "holding",
    4: "input",
}
BITS_PER_BLOCK = 16
STATUS_OF_STATE = {
    MachineState.RUNNING: "running",
    MachineState.DOWN: "down",
    MachineState.MAINTENANCE: "maintenance",
    MachineState.BLOCKED: "blocked",
    MachineState.STARVED: "starved",
}
NAN_WORDS = [0x7FC0, 0x0000]  # a quiet NaN (malformed float32)
INT16_INVALID = 0x8000  # -32768, a common "no value" marker


@dataclass
class UnitImage:
    """The register image of one unit."""

    machine: MachineDef
    registers: dict[str, Register]  # signal name -> its register (signals only)
    tables: dict[str, list[int]] = field(default_factory=dict)  # input, holding
    bits: dict[str, list[bool]] = field(default_factory=dict)  # coil, discrete
    controls: tuple[float, bool] | None = None  # (setpoint, run) mirrored into the image

    @classmethod
    def build(cls, machine: MachineDef) -> UnitImage:
        """An image sized for the machine's map (all zero)."""
        regs = machine_map(machine)
        size = {"input": 0, "holding": 0}
        for reg in regs:
            if reg.table in size:
                size[reg.table] = max(size[reg.table], reg.address + reg.size)
        return cls(
            machine=machine,
            registers={r.name: r for r in regs if r.kind == "signal"},
            tables={t: [0] * n for t, n in size.items()},
            bits={"coil": [False] * BITS_PER_BLOCK, "discrete": [False] * BITS_PER_BLOCK},
        )

    def put(self, name: str, value: float | int, transform: str | None = None) -> None:
        """Encode `value` of signal `name` into the image (a fault may garble it)."""
        reg = self.registers[name]
        if transform == "malformed" and name in self.process_names:
            words = NAN_WORDS if reg.type == "float32" else [INT16_INVALID]
            words = words if reg.word_order == "big" or reg.size == 1 else words[::-1]
        else:
            if transform == "out_of_range" and name in self.process_names:
                sig = self.machine.signal(name)
                value = sig.high + (sig.high - sig.low)
            words = encode(reg, float(value))
        table = self.tables[reg.table]
        table[reg.address : reg.address + reg.size] = words
        if name == "state":
            self._status(int(value))

    @functools.cached_property
    def process_names(self) -> frozenset[str]:
        """Names of the process signals."""
        return frozenset(s.name for s in self.machine.signals if s.is_process)

    def _status(self, state: int) -> None:
        label = STATUS_OF_STATE.get(MachineState(state))
        bits = self.bits["discrete"]
        for i, name in enumerate(STATUS_BITS):
            if name == "alarm_active":
                continue
            bits[i] = name == label
        alarm = self.tables["input"][1]
        bits[STATUS_BITS.index("alarm_active")] = alarm != 0

    def packed(self, table: str, first_register: int, count: int) -> list[int]:
        """Bits of `table` packed 16 per register (bit 0 = lowest address)."""
        bits = self.bits[table]
        out = []
        for r in range(first_register, first_register + count):
            word = 0
            for i, bit in enumerate(bits[r * 16 : r * 16 + 16]):
                if bit:
                    word |= 1 << i
            out.append(word)
        return out


class ModbusServer:
    """The Modbus TCP server of the plant, behind a fault proxy."""

    def __init__(
        self, scenario: Scenario, faults: FaultBook, command: CommandFn, host: str, port: int
    ) -> None:
        self.scenario = scenario
        self.faults = faults
        self.command = command
        self.host = host
        self.units: dict[int, UnitImage] = {}
        self.by_index: dict[int, UnitImage] = {}
        for m in scenario.by_protocol("modbus"):
            assert m.unit_id is not None
            image = UnitImage.build(m)
            self.units[m.unit_id] = image
            self.by_index[m.index] = image
        self._backend: ModbusTcpServer | None = None
        self._backend_port = 0
        self.proxy = FaultProxy("modbus", host, port, lambda: (self.host, self._backend_port))
        self.requests = 0
        self.values_published = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._released: dict[str, asyncio.Event] = {}
        faults.listeners.append(self._on_fault)

    @property
    def port(self) -> int:
        """The public port."""
        return self.proxy.port

    def _devices(self) -> list[SimDevice]:
        devices = [
            SimDevice(
                id=0,
                simdata=(
                    [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                    [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                    [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
                    [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)],
                ),
                action=self._unknown_unit,
            )
        ]
        for unit_id, image in self.units.items():
            holding = [SimData(0, count=3, values=0, datatype=DataType.REGISTERS)]
            if image.machine.modbus_layout == "int16":
                process = len(image.process_names)
                holding = [SimData(0, count=2, values=0, datatype=DataType.REGISTERS)]
                if process:
                    holding.append(
                        SimData(
                            INT16_BASE,
                            count=process,
                            values=0,
                            datatype=DataType.REGISTERS,
                            readonly=True,
                        )
                    )
            devices.append(
                SimDevice(
                    id=unit_id,
                    simdata=(
                        [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                        [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
                        holding,
                        [
                            SimData(
                                0,
                                count=len(image.tables["input"]),
                                values=0,
                                datatype=DataType.REGISTERS,
                                readonly=True,
                            )
                        ],
                    ),
                    action=functools.partial(self._action, image),
                )
            )
        return devices

    async def start(self) -> None:
        """Start the server on a private port and the proxy on the public one."""
        await self._start_backend()
        await self.proxy.start()

    async def _start_backend(self) -> None:
        server = ModbusTcpServer(self._devices(), address=(self.host, 0))
        await server.serve_forever(background=True)
        listener = server.transport
        if not isinstance(listener, asyncio.Server) or not listener.sockets:
            raise RuntimeError("the Modbus server did not start listening")
        self._backend = server
        self._backend_port = int(listener.sockets[0].getsockname()[1])

    async def _stop_backend(self) -> None:
        server, self._backend = self._backend, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        """Stop listening."""
        await self.proxy.stop()
        await self._stop_backend()

    # --- values ------------------------------------------------------------------------------

    def publish(self, samples: list[Sample], names: list[list[list[str]]]) -> None:
        """Write new samples into the unit images."""
        for s in samples:
            image = self.by_index.get(s.machine)
            if image is None:
                continue
            faults = self.faults.on_machine(image.machine.code)
            if "freeze" in faults:
                continue
            transform = (
                "malformed"
                if "malformed" in faults
                else "out_of_range"
                if "out_of_range" in faults
                else None
            )
            for name, value in zip(names[s.machine][s.group], s.values, strict=True):
                image.put(name, value, transform)
            self.values_published += len(s.values)

    def sync_controls(self, machine: MachineDef, setpoint: float, run: bool) -> None:
        """Mirror the machine's setpoint and run command into the holding registers/coils."""
        image = self.by_index[machine.index]
        if (setpoint, run) == image.controls:
            return
        image.controls = (setpoint, run)
        image.bits["coil"][0] = run
        reg = Register(
            "",
            "setpoint",
            "command",
            "holding",
            1,
            "float32" if machine.modbus_layout == "float32" else "uint16",
            machine.word_order,
            1.0 if machine.modbus_layout == "float32" else 0.1,
        )
        image.tables["holding"][1 : 1 + reg.size] = encode(reg, setpoint)

    # --- the datastore hook -----------------------------------------------------------------

    async def _unknown_unit(self, *_: Any) -> ExcCodes | None:
        return ExcCodes.GATEWAY_PATH_UNAVIABLE

    async def _action(
        self,
        image: UnitImage,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests += 1
        faults = self.faults.on_machine(image.machine.code)
        if "offline" in faults:
            return ExcCodes.GATEWAY_NO_RESPONSE
        if "stall" in faults:
            await self._wait_stall_end(image.machine.code)
        table = TABLE_OF_FUNCTION[function_code]
        if values is not None:
            return self._write(image, table, address, values)
        if table in ("coil", "discrete"):
            first = address // 16
            registers[first - start_address : first - start_address + count] = image.packed(
                table, first, count
            )
        else:
            offset = address - start_address
            registers[offset : offset + count] = image.tables[table][address : address + count]
        return None

    async def _wait_stall_end(self, code: str) -> None:
        released = self._released.get(code)
        if released is not None:
            await released.wait()

    def _write(
        self, image: UnitImage, table: str, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        code = image.machine.code
        try:
            if table == "coil":
                for offset, bit in enumerate(values):
                    coil = address + offset
                    if coil == 0:
                        self.command(code, "start" if bit else "stop", source="modbus")
                        image.bits["coil"][0] = bool(bit)
                    elif coil == 1 and bit:
                        self.command(code, "reset", source="modbus")
                return None
            words = [int(v) for v in values]
            end = address + len(words)
            if address <= 0 < end:
                command = COMMAND_CODES.get(words[0 - address])
                if command is None:
                    return ExcCodes.ILLEGAL_VALUE
                self.command(code, command, source="modbus")
                image.tables["holding"][0] = words[0 - address]
            size = 2 if image.machine.modbus_layout == "float32" else 1
            if address < 1 + size and end > 1:
                if address > 1 or end < 1 + size:
                    return ExcCodes.ILLEGAL_VALUE  # the setpoint must be written whole
                part = words[1 - address : 1 + size - address]
                reg = Register(
                    "",
                    "setpoint",
                    "command",
                    "holding",
                    1,
                    "float32" if size == 2 else "uint16",
                    image.machine.word_order,
                    1.0 if size == 2 else 0.1,
                )
                setpoint = decode(reg, part)
                if not math.isfinite(setpoint):
                    return ExcCodes.ILLEGAL_VALUE
                self.command(code, "setpoint", setpoint, source="modbus")
                image.tables["holding"][1 : 1 + size] = part
        except CommandError as err:
            log.info("modbus write refused for %s: %s", code, err)
            return ExcCodes.ILLEGAL_VALUE
        return None

    # --- server faults ----------------------------------------------------------------------

    def _on_fault(self, fault: Fault, active: bool) -> None:
        if fault.kind == "stall" and fault.target != "modbus" and fault.protocol == "modbus":
            for code in fault.machines:
                released = self._released.setdefault(code, asyncio.Event())
                if active:
                    released.clear()
                else:
                    released.set()
        if fault.target != "modbus":
            return
        if fault.kind == "drop" and active:
            self.proxy.drop()
        elif fault.kind == "stall":
            self.proxy.stall(active)
        elif fault.kind == "malformed":
            self.proxy.corrupt = corrupt_mbap if active else None
        elif fault.kind == "restart":
            task = asyncio.get_running_loop().create_task(self._lifecycle(up=not active))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _lifecycle(self, *, up: bool) -> None:
        async with self._lock:
            if up:
                await self._start_backend()
                await self.proxy.start()
            else:
                await self.proxy.stop()
                await self._stop_backend()


def corrupt_mbap(data: bytes) -> bytes:
    """Garble a Modbus TCP response: a bad protocol id and a truncated frame.

    >>> corrupt_mbap(bytes([0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 7]))
    b'\\x00\\x01\\xff\\xff\\x00\\x05\\x01\\x03\\x02\\x00'
    """
    if len(data) < 8:
        return data[:-1]
    return data[:2] + b"\xff\xff" + data[4:-1]


__all__ = ["FLOAT_BASE", "ModbusServer", "UnitImage", "corrupt_mbap"]
