"""Modbus TCP end to end: values in a real pymodbus server == rows in `reading`; a device that
goes away turns Bad without delaying the others, and recovers by itself."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from gateway import quality
from gateway.settings import GatewaySettings
from tests.gateway.servers import ModbusTestServer, float32_registers
from tests.support.databases import TestDb
from tests.support.gateway import base_config, eventually, fetch, readings, running_gateway


@pytest.fixture
async def plc() -> AsyncIterator[ModbusTestServer]:
    server = ModbusTestServer(units=(1,))
    await server.start()
    yield server
    await server.stop()


def words(fmt: str, value: Any) -> list[int]:
    raw = struct.pack(">" + fmt, value)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def modbus_device(name: str, port: int, tags: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "modbus",
        "equipment": name,
        "host": "127.0.0.1",
        "port": port,
        "unit_id": 1,
        "timeout_ms": 500,
        "max_gap": 8,
        "backoff": {"initial_ms": 100, "max_ms": 500},
        "groups": [{"interval_ms": 100, "tags": tags}],
        **extra,
    }


TAGS = [
    {"signal": "P.temp", "table": "holding", "address": 0, "type": "float32", "unit": "degC"},
    {"signal": "P.delta", "table": "holding", "address": 2, "type": "int16"},
    {"signal": "P.count", "table": "holding", "address": 4, "type": "uint32",
     "word_order": "little"},
    {"signal": "P.energy", "table": "holding", "address": 6, "type": "float64"},
    {"signal": "P.speed", "table": "holding", "address": 10, "type": "uint16", "scale": 0.1,
     "offset": -5},
    {"signal": "P.recipe", "table": "holding", "address": 12, "type": "string", "length": 3},
    {"signal": "P.door", "table": "holding", "address": 15, "type": "bool", "bit": 2},
    {"signal": "P.lamp", "table": "coil", "address": 0, "type": "bool"},
    {"signal": "P.total", "table": "input", "address": 0, "type": "int32"},
    {"signal": "P.little", "table": "input", "address": 2, "type": "float32",
     "byte_order": "little", "word_order": "little"},
]  # fmt: skip


async def fill(plc: ModbusTestServer, temp: float = 21.5) -> None:
    await plc.set("holding", 0, float32_registers(temp))
    await plc.set("holding", 2, words("h", -1234))
    await plc.set("holding", 4, list(reversed(words("I", 3_000_000_000))))
    await plc.set("holding", 6, words("d", 1234.5678))
    await plc.set("holding", 10, [1234])
    await plc.set("holding", 12, [0x5231, 0x2D41, 0x0000])  # "R1-A"
    await plc.set("holding", 15, [0b0100])
    await plc.set("coil", 0, [True])
    await plc.set("input", 0, words("i", -70000))
    raw = struct.pack("<f", 3.25)  # fully little-endian float
    await plc.set("input", 2, [raw[0] << 8 | raw[1], raw[2] << 8 | raw[3]])


EXPECTED = {
    "P.temp": 21.5, "P.delta": -1234.0, "P.count": 3_000_000_000.0, "P.energy": 1234.5678,
    "P.speed": 118.4, "P.door": 1.0, "P.lamp": 1.0, "P.total": -70000.0, "P.little": 3.25,
}  # fmt: skip


async def latest(db: TestDb) -> dict[str, tuple[Any, ...]]:
    rows = await fetch(
        db,
        "SELECT DISTINCT ON (s.key) s.key, r.ts, r.value, r.quality FROM reading r"
        " JOIN signal s ON s.id = r.signal_id ORDER BY s.key, r.ts DESC",
    )
    return {r[0]: r[1:] for r in rows}


async def test_every_data_type_lands_in_reading(
    plc: ModbusTestServer, db: TestDb, settings: GatewaySettings, tmp_path: Path
) -> None:
    await fill(plc)
    started = datetime.now(UTC)
    config = base_config([modbus_device("P", plc.port, TAGS)])
    async with running_gateway(config, settings, tmp_path / "gw.yaml") as gw:
        await eventually(lambda: _has(db, set(EXPECTED)), what="a reading of every numeric signal")
        await eventually(lambda: _text(db, "P.recipe"), what="the string signal")
        got = await latest(db)
        for key, value in EXPECTED.items():
            ts, stored, q = got[key]
            assert stored == pytest.approx(value, rel=1e-12), key
            assert q == quality.GOOD, key
            assert started <= ts <= datetime.now(UTC), key
        text = await fetch(
            db,
            "SELECT t.value, t.quality FROM reading_text t"
            " JOIN signal s ON s.id = t.signal_id WHERE s.key = 'P.recipe'",
        )
        assert text == [("R1-A", 0)]
        signal = await fetch(
            db,
            "SELECT equipment_code, unit, data_type, protocol FROM signal WHERE key = 'P.temp'",
        )
        assert signal == [("P", "degC", "float32", "modbus")]
        # the block planner merged the register map into three reads
        blocks = gw.devices["P"].connector.blocks(0)  # type: ignore[attr-defined]
        assert [(b.table, b.address, b.count) for b in blocks] == [
            ("coil", 0, 1), ("holding", 0, 16), ("input", 0, 4)
        ]  # fmt: skip

        # a change in the PLC is a new row; unchanged values are not repeated
        before = await fetch(db, "SELECT count(*) FROM reading r JOIN signal s"
                                 " ON s.id = r.signal_id WHERE s.key = 'P.delta'")  # fmt: skip
        await plc.set("holding", 0, float32_registers(22.75))
        await eventually(lambda: _value_is(db, "P.temp", 22.75), what="the new temperature")
        after = await fetch(db, "SELECT count(*) FROM reading r JOIN signal s"
                                " ON s.id = r.signal_id WHERE s.key = 'P.delta'")  # fmt: skip
        assert after == before == [(1,)]


async def _has(db: TestDb, keys: set[str]) -> bool:
    return keys <= set(await latest(db))


async def _text(db: TestDb, key: str) -> bool:
    rows = await fetch(db, "SELECT 1 FROM reading_text t JOIN signal s ON s.id = t.signal_id"
                           " WHERE s.key = %s", key)  # fmt: skip
    return bool(rows)


async def _value_is(db: TestDb, key: str, value: float) -> bool:
    got = await latest(db)
    return key in got and got[key][1] == value


async def test_unplugged_device_goes_bad_and_others_are_unaffected(
    db: TestDb, settings: GatewaySettings, tmp_path: Path
) -> None:
    a, b = ModbusTestServer(), ModbusTestServer()
    await a.start()
    await b.start()
    try:
        tag = {"signal": "{}.level", "table": "holding", "address": 0, "type": "uint16"}
        config = base_config(
            [
                modbus_device("A", a.port, [{**tag, "signal": "A.level"}]),
                modbus_device("B", b.port, [{**tag, "signal": "B.level"}]),
            ]
        )
        await a.set("holding", 0, [1])
        await b.set("holding", 0, [100])
        async with running_gateway(config, settings, tmp_path / "gw.yaml") as gw:
            await eventually(lambda: _has(db, {"A.level", "B.level"}), what="both devices")
            await a.stop()  # unplugged
            await eventually(
                lambda: _quality_is(db, "A.level", quality.BAD_NO_COMMUNICATION),
                what="A's signal to go Bad",
            )
            assert gw.links.links["A"].state in ("backoff", "disconnected")
            # B keeps being read on schedule while A is gone: every change lands
            for n in range(101, 106):
                await b.set("holding", 0, [n])
                await eventually(partial(_value_is, db, "B.level", float(n)), what=f"B={n}")
            assert gw.links.links["B"].state == "connected"
            assert gw.links.links["B"].reconnect_count == 0
            await a.set("holding", 0, [2])
            await a.start()  # plugged back in
            await eventually(lambda: _value_is(db, "A.level", 2.0), what="A to recover")
            rows = await readings(db, "A.level")
            assert [(v, q) for _, _, v, q in rows] == [
                (1.0, 0), (None, quality.BAD_NO_COMMUNICATION), (2.0, 0)
            ]  # fmt: skip
            assert gw.links.links["A"].reconnect_count == 1
            await gw.flush_links()
            link = await fetch(
                db,
                "SELECT device, protocol, state, reconnect_count, last_error IS NOT NULL,"
                " last_data_at IS NOT NULL FROM gateway_device_link ORDER BY device",
            )
            assert link == [
                ("A", "modbus", "connected", 1, True, True),
                ("B", "modbus", "connected", 0, False, True),
            ]
    finally:
        await a.stop()
        await b.stop()


async def _quality_is(db: TestDb, key: str, q: int) -> bool:
    got = await latest(db)
    return key in got and got[key][2] == q
