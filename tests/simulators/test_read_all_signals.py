"""Every signal of the demo plant, read through independent clients over real sockets: asyncua,
pymodbus and a paho subscriber. Types, units, ranges, timestamps, and values that move."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncua.client.client import Client
from asyncua.ua.object_ids import ObjectIds
from pymodbus.client import AsyncModbusTcpClient

from simulators.model import Plant
from simulators.scenario import Scenario
from tests.simulators.clients import Subscriber
from tests.simulators.conftest import DEMO_SEED
from tests.support.simulators import SimProcess

DATATYPES = {"uint16": ObjectIds.UInt16, "uint32": ObjectIds.UInt32, "float32": ObjectIds.Float}
MOVING = ("cycle_time",)  # besides the process signals, changes with every part


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll an async condition."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out after {within:.0f}s waiting for {what}")


def test_no_machine_fails_early_with_the_test_seed(demo: Scenario) -> None:
    """Precondition of the 'values move' checks: every machine produces during the first hour."""
    plant = Plant(demo, DEMO_SEED)
    plant.advance(3600.0)
    events = plant.drain_events()
    assert not [e for e in events if e.type in ("failure", "maintenance_start")]
    producing = {e.machine for e in events if e.type == "cycle"}
    assert producing == set(demo.codes)


async def test_opcua_serves_every_signal_with_type_unit_range_and_timestamps(
    demo_sim: SimProcess, demo: Scenario
) -> None:
    async with Client(demo_sim.opcua_url, timeout=10) as client:
        ns = await client.get_namespace_index("urn:knu-mes:simulator")
        for m in demo.by_protocol("opcua"):
            folder = await client.nodes.objects.get_child(
                [f"{ns}:KNU", f"{ns}:{m.line}", f"{ns}:{m.code}"]
            )
            children = {(await c.read_browse_name()).Name for c in await folder.get_children()}
            assert {s.name for s in m.signals} | {"Commands"} == children
            for sig in m.signals:
                node = client.get_node(f"ns={ns};s={sig.key}")
                assert (await node.read_data_type()).Identifier == DATATYPES[sig.data_type]
                dv = await node.read_data_value()
                assert dv.StatusCode is not None and dv.StatusCode.is_good(), sig.key
                assert dv.SourceTimestamp is not None and dv.ServerTimestamp is not None
                assert dv.Value is not None
                value = dv.Value.Value
                assert sig.low <= value <= sig.high, (sig.key, value)
                if sig.unit:
                    eu = await (await node.get_child("0:EngineeringUnits")).read_value()
                    assert eu.DisplayName.Text == sig.unit
                if sig.data_type == "float32":
                    rng = await (await node.get_child("0:EURange")).read_value()
                    assert (rng.Low, rng.High) == (sig.low, sig.high)
            state = client.get_node(f"ns={ns};s={m.code}.state")
            names = await (await state.get_child("0:EnumStrings")).read_value()
            assert [n.Text for n in names][:3] == ["idle", "setup", "running"]

        # values move: every process signal and the cycle time change, counters increase
        first: dict[str, Any] = {}
        moved: set[str] = set()
        keys = [s.key for m in demo.by_protocol("opcua") for s in m.signals
                if s.is_process or s.name in MOVING]  # fmt: skip
        counters = [f"{m.code}.good_count" for m in demo.by_protocol("opcua")]
        counted: set[str] = set()

        async def all_moved() -> bool:
            for key in keys + counters:
                value = await client.get_node(f"ns={ns};s={key}").read_value()
                first.setdefault(key, value)
                if value != first[key]:
                    (counted if key in counters else moved).add(key)
            return moved == set(keys) and counted == set(counters)

        await eventually(all_moved, 90, "every OPC UA value to change")


async def test_opcua_source_timestamps_follow_simulated_time(demo_sim: SimProcess) -> None:
    async with Client(demo_sim.opcua_url, timeout=10) as client:
        ns = await client.get_namespace_index("urn:knu-mes:simulator")
        dv = await client.get_node(f"ns={ns};s=CNC-101.spindle_speed").read_data_value()
        status = demo_sim.status()
        sim_now = datetime.fromisoformat(status["sim_ts"].replace("Z", "+00:00"))
        origin = datetime.fromisoformat(status["origin"].replace("Z", "+00:00"))
        assert dv.SourceTimestamp is not None
        source = dv.SourceTimestamp.replace(tzinfo=UTC)
        assert origin <= source <= sim_now
        assert source.microsecond % 1000 == 0  # samples fall on the simulated 1 s grid
        assert source.microsecond == 0


async def test_opcua_subscription_delivers_changes(demo_sim: SimProcess) -> None:
    received: list[tuple[str, float]] = []

    class Handler:
        def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
            received.append((node.nodeid.Identifier, value))

    async with Client(demo_sim.opcua_url, timeout=10) as client:
        ns = await client.get_namespace_index("urn:knu-mes:simulator")
        sub = await client.create_subscription(100, Handler())
        for key in ("CNC-101.vibration_rms", "PACK-205.motor_current"):
            await sub.subscribe_data_change(client.get_node(f"ns={ns};s={key}"))

        async def both_changed_twice() -> bool:
            keys = [k for k, _ in received]
            return (
                keys.count("CNC-101.vibration_rms") >= 3
                and keys.count("PACK-205.motor_current") >= 3
            )

        await eventually(both_changed_twice, 30, "data change notifications")
        await sub.delete()


def _datatype(client: AsyncModbusTcpClient, reg: dict[str, Any]) -> Any:
    return {
        "uint16": client.DATATYPE.UINT16,
        "int16": client.DATATYPE.INT16,
        "uint32": client.DATATYPE.UINT32,
        "float32": client.DATATYPE.FLOAT32,
    }[reg["type"]]


async def _read_unit(client: AsyncModbusTcpClient, unit: dict[str, Any]) -> dict[str, float | bool]:
    """Every point of a unit, decoded with pymodbus' own conversions."""
    out: dict[str, float | bool] = {}
    unit_id = unit["unit_id"]
    for reg in unit["registers"]:
        table, address, size = reg["table"], reg["address"], reg["size"]
        if table in ("coil", "discrete"):
            read = client.read_coils if table == "coil" else client.read_discrete_inputs
            bits = await read(address, count=1, device_id=unit_id)
            assert not bits.isError(), (reg["key"], bits)
            out[reg["key"]] = bool(bits.bits[0])
            continue
        read = client.read_input_registers if table == "input" else client.read_holding_registers
        response = await read(address, count=size, device_id=unit_id)
        assert not response.isError(), (reg["key"], response)
        raw = client.convert_from_registers(
            response.registers, _datatype(client, reg), word_order=unit["word_order"]
        )
        assert isinstance(raw, int | float)
        out[reg["key"]] = raw * reg["scale"] + reg["offset"]
    return out


async def test_modbus_serves_every_register_of_the_map(
    demo_sim: SimProcess, demo: Scenario
) -> None:
    register_map = demo_sim.register_map()
    units = {u["machine"]: u for u in register_map["units"]}
    assert {m.code: m.unit_id for m in demo.by_protocol("modbus")} == {
        code: u["unit_id"] for code, u in units.items()
    }
    assert units["MILL-104"]["word_order"] == "little"
    assert units["PRESS-201"]["layout"] == "int16"
    client = AsyncModbusTcpClient(demo_sim.host, port=demo_sim.modbus_port, timeout=5)
    await client.connect()
    try:
        first = {code: await _read_unit(client, unit) for code, unit in units.items()}
        for m in demo.by_protocol("modbus"):
            values = first[m.code]
            for sig in m.signals:
                assert sig.low <= values[sig.key] <= sig.high, (sig.key, values[sig.key])
            assert values[f"{m.code}.running"] == (values[f"{m.code}.state"] == 2)
            assert values[f"{m.code}.setpoint"] == pytest.approx(100.0)
            assert values[f"{m.code}.run"] is True
        keys = [s.key for m in demo.by_protocol("modbus") for s in m.signals
                if s.is_process or s.name in MOVING or s.name == "good_count"]  # fmt: skip
        moved: set[str] = set()

        async def all_moved() -> bool:
            for code, unit in units.items():
                now = await _read_unit(client, unit)
                moved.update(
                    k for k in keys if k.startswith(f"{code}.") and now[k] != first[code][k]
                )
            return moved == set(keys)

        await eventually(all_moved, 90, "every Modbus value to change")
    finally:
        client.close()


async def test_modbus_unknown_unit_answers_gateway_path_unavailable(demo_sim: SimProcess) -> None:
    client = AsyncModbusTcpClient(demo_sim.host, port=demo_sim.modbus_port, timeout=5)
    await client.connect()
    try:
        response = await client.read_input_registers(0, count=1, device_id=99)
        assert response.isError()
        assert response.exception_code == 0x0A
        beyond = await client.read_input_registers(200, count=4, device_id=1)
        assert beyond.isError() and beyond.exception_code == 0x02  # illegal address
    finally:
        client.close()


def test_mqtt_publishes_every_signal_with_value_timestamp_and_quality(
    demo_sim: SimProcess, demo: Scenario
) -> None:
    machines = demo.by_protocol("mqtt")
    with Subscriber(demo_sim.broker.port, ["KNU/#"]) as sub:
        seen: dict[str, list[Any]] = {}

        def complete(messages: list[Any]) -> bool:
            seen.clear()
            for msg in messages:
                if msg.topic.endswith("/status"):
                    continue
                data = msg.json()
                prefix = msg.topic.rsplit("/", 1)[0]
                code = prefix.rsplit("/", 1)[1]
                items = (
                    [(v["signal"], v) for v in data["values"]]
                    if msg.topic.endswith("/batch")
                    else [(msg.topic.rsplit("/", 1)[1], data)]
                )
                for name, item in items:
                    seen.setdefault(f"{code}.{name}", []).append(item)
            wanted = {s.key for m in machines for s in m.signals}
            return wanted <= set(seen) and all(
                len({i["value"] for i in seen[s.key]}) >= 2
                for m in machines for s in m.signals if s.is_process or s.name == "good_count"
            )  # fmt: skip

        messages = sub.wait(complete, 90, "every MQTT signal, twice with different values")
    for m in machines:
        status = [x for x in messages if x.topic == f"{m.topic_prefix}/status"]
        assert status and status[0].payload == b"online" and status[0].retain
        for sig in m.signals:
            for item in seen[sig.key]:
                assert set(item) >= {"value", "ts", "q"}
                assert item["q"] == "good"
                assert isinstance(item["value"], int | float)
                assert sig.low <= item["value"] <= sig.high, (sig.key, item)
                ts = datetime.fromisoformat(item["ts"].replace("Z", "+00:00"))
                assert ts.tzinfo is not None and item["ts"].endswith("Z")
                assert ts.utcoffset() == timedelta(0)
    # the high-rate torque signal arrives in batches, ten values per simulated second
    batches = [x.json() for x in messages if x.topic == "KNU/ASSY/L2/SCREW-203/batch"]
    assert batches and all(v["signal"] in ("torque", "angle") for b in batches for v in b["values"])
    stamps = sorted({v["ts"] for b in batches for v in b["values"] if v["signal"] == "torque"})
    assert any(s.endswith(".100Z") or s.endswith(".500Z") for s in stamps)
