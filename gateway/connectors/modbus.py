"""Modbus TCP (pymodbus): polling groups, block reads, typed decoding, one link per device."""

from __future__ import annotations

import logging
import struct
from typing import Any, ClassVar

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException

from gateway import quality
from gateway.config.models import ModbusDevice
from gateway.connectors.base import Connector, ConnectorContext, LinkLost, PollGroup
from gateway.connectors.modbus_codec import (
    BIT_TABLES,
    FAST,
    Block,
    Columnar,
    Point,
    columnar,
    decode,
    plan_blocks,
)
from gateway.records import Record, SignalSpec, utcnow

log = logging.getLogger("gateway.modbus")

UNREACHABLE_CODES = {10, 11}  # gateway path unavailable, gateway target failed to respond
READS = {
    "holding": "read_holding_registers",
    "input": "read_input_registers",
    "coil": "read_coils",
    "discrete": "read_discrete_inputs",
}


class ModbusConnector(Connector):
    """One Modbus TCP device (one connection per device, so a dead one never delays others)."""

    protocol: ClassVar[str] = "modbus"

    def __init__(self, device: ModbusDevice, context: ConnectorContext) -> None:
        self.device = device
        self.context = context
        self._client: AsyncModbusTcpClient | None = None
        self._specs: list[SignalSpec] = []
        self._groups: list[list[Block]] = []
        self._columnar: dict[int, Columnar | None] = {}  # by id() of the block
        self._refused: set[tuple[str, int]] = set()  # blocks the device answered with an exception
        equipment = device.equipment or device.name
        for group in device.groups:
            points = []
            for tag in group.tags:
                meta = context.signal_meta(tag.signal)
                self._specs.append(
                    SignalSpec(
                        key=tag.signal,
                        equipment_code=tag.equipment or equipment,
                        name=tag.signal.rsplit(".", 1)[-1],
                        unit=tag.unit if tag.unit is not None else meta.get("unit"),
                        data_type=meta.get("data_type") or tag.type,
                        protocol="modbus",
                        source=f"{device.host}:{device.port}/{device.unit_id}/{tag.table}/"
                        f"{tag.address}",
                        description=tag.description or meta.get("description"),
                        deadband=tag.deadband.spec() if tag.deadband else None,
                    )
                )
                points.append(
                    Point(
                        key=tag.signal,
                        table=tag.table,
                        address=tag.address,
                        size=tag.registers,
                        type=tag.type,
                        byte_order=tag.byte_order or device.byte_order,
                        word_order=tag.word_order or device.word_order,
                        scale=tag.scale,
                        offset=tag.offset,
                        bit=tag.bit,
                        encoding=tag.encoding,
                    )
                )
            blocks = plan_blocks(points, max_gap=device.max_gap, max_block=device.max_block)
            self._groups.append(blocks)
            self._columnar.update((id(b), columnar(b)) for b in blocks)

    @property
    def endpoint(self) -> str:
        return f"modbus://{self.device.host}:{self.device.port}/{self.device.unit_id}"

    def signals(self) -> list[SignalSpec]:
        return list(self._specs)

    def blocks(self, group: int) -> list[Block]:
        """The reads one poll of `group` makes."""
        return self._groups[group]

    async def connect(self) -> None:
        client = AsyncModbusTcpClient(
            self.device.host,
            port=self.device.port,
            timeout=self.device.timeout_ms / 1000,
            retries=0,
            reconnect_delay=0,
        )
        self._client = client
        try:
            ok = await client.connect()
        except (OSError, ModbusException) as err:
            raise LinkLost(f"cannot connect to {self.endpoint}: {err}") from err
        if not ok or not client.connected:
            raise LinkLost(f"cannot connect to {self.endpoint}")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def poll_groups(self) -> list[PollGroup]:
        return [
            PollGroup(index=n, interval_s=group.interval_ms / 1000)
            for n, group in enumerate(self.device.groups)
        ]

    async def poll(self, group: PollGroup) -> list[Record]:
        out: list[Record] = []
        for block in self._groups[group.index]:
            out.extend(await self._read_block(block))
        return out

    async def _read_block(self, block: Block) -> list[Record]:
        client = self._client
        if client is None or not client.connected:
            raise LinkLost(f"not connected to {self.endpoint}")
        read = getattr(client, READS[block.table])
        try:
            response: Any = await read(
                block.address, count=block.count, device_id=self.device.unit_id
            )
        except (TimeoutError, ConnectionException, OSError) as err:
            raise LinkLost(f"{self.endpoint}: {err or type(err).__name__}") from err
        except ModbusException as err:
            raise LinkLost(f"{self.endpoint}: {err}") from err
        now = utcnow()
        if response.isError():
            code = getattr(response, "exception_code", None)
            if code in UNREACHABLE_CODES:  # a Modbus gateway says the device does not answer
                raise LinkLost(f"{self.endpoint}: device unreachable (exception code {code})")
            return self._refused_block(block, response, now)
        self._refused.discard((block.table, block.address))
        out = []
        base = block.address
        good = quality.GOOD
        if block.table in BIT_TABLES:
            bits = response.bits
            for point in block.points:
                out.append(Record(point.key, None, now, 1.0 if bits[point.address - base] else 0.0,
                                  good))  # fmt: skip
            return out
        words = response.registers
        if len(words) < block.count:
            raise LinkLost(f"{self.endpoint}: short response ({len(words)} of {block.count})")
        plan = self._columnar.get(id(block))
        if plan is not None:  # plain 16-bit registers: the whole block at once
            new = tuple.__new__
            return [
                new(Record, (key, None, now, value, good))
                for key, value in zip(plan.keys, plan.values(words), strict=True)
            ]
        raw = struct.pack(f">{len(words)}H", *words)
        for point in block.points:
            start = point.address - base
            fast = FAST.get(point.type) if point.plain else None
            try:
                if fast is not None:  # big-endian bytes and words: straight from the buffer
                    number = float(fast.unpack_from(raw, start * 2)[0])
                    if point.scale != 1.0 or point.offset != 0.0:
                        number = round(number * point.scale + point.offset, 12)
                    value: float | str | None = number
                else:
                    value = decode(point, words[start : start + point.size])
                q = good
            except (ValueError, IndexError, UnicodeError, struct.error):
                value, q = None, quality.BAD_TYPE_MISMATCH
            out.append(Record(point.key, None, now, value, q))
        return out

    def _refused_block(self, block: Block, response: Any, now: Any) -> list[Record]:
        """An exception response (e.g. illegal address): the block's signals are Bad."""
        if (block.table, block.address) not in self._refused:
            self._refused.add((block.table, block.address))
            log.error(
                "device refused a read; its signals are Bad (check the register map)",
                extra={
                    "device": self.device.name,
                    "table": block.table,
                    "address": block.address,
                    "count": block.count,
                    "exception_code": getattr(response, "exception_code", None),
                },
            )
        return [
            Record(p.key, None, now, None, quality.BAD_CONFIGURATION_ERROR) for p in block.points
        ]
