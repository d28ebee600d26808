"""Command nodes, command registers/coils and the control endpoint act on the machines; what
they do shows on the wire and in the event log; bad commands are refused and change nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.uaerrors import BadOutOfRange
from pymodbus.client import AsyncModbusTcpClient

from tests.support.mosquitto import Broker
from tests.support.simulators import ControlError, SimProcess, running_simulators


@pytest.fixture(scope="module")
def sim(broker: Broker) -> Iterator[SimProcess]:
    with running_simulators(broker, scenario="demo", seed=42, speed=20) as s:
        yield s


async def until(check: Callable[[], Any], within: float = 30, what: str = "condition") -> Any:
    """Poll a (sync or async) check until it returns something truthy."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out after {within:.0f}s waiting for {what}")


def logged(sim: SimProcess, machine: str, **fields: Any) -> Callable[[], bool]:
    def check() -> bool:
        return any(
            e.get("machine") == machine and all(e.get(k) == v for k, v in fields.items())
            for e in sim.events()
        )

    return check


async def test_opcua_command_nodes_stop_start_setpoint_reset(sim: SimProcess) -> None:
    async with Client(sim.opcua_url, timeout=10) as client:
        ns = await client.get_namespace_index("urn:knu-mes:simulator")

        def node(key: str) -> Any:
            return client.get_node(f"ns={ns};s={key}")

        await node("CNC-101.cmd.stop").write_value(ua.Variant(True, ua.VariantType.Boolean))
        assert await node("CNC-101.cmd.stop").read_value() is False  # a push button

        async def idle_on_wire() -> bool:
            return bool(await node("CNC-101.state").read_value() == 0)

        await until(idle_on_wire, what="CNC-101 idle on the wire")
        await until(logged(sim, "CNC-101", type="command", command="stop", source="opcua"))
        await until(logged(sim, "CNC-101", type="state", to="idle", reason="stopped"))
        assert sim.machine("CNC-101")["state"] == "idle"

        await node("CNC-101.cmd.start").write_value(ua.Variant(True, ua.VariantType.Boolean))

        async def producing() -> bool:
            return bool(await node("CNC-101.state").read_value() in (2, 3))  # running/blocked

        await until(producing, what="CNC-101 producing again")

        await node("CNC-101.cmd.setpoint").write_value(ua.Variant(80.0, ua.VariantType.Float))
        assert sim.machine("CNC-101")["setpoint"] == 80.0
        assert await node("CNC-101.cmd.setpoint").read_value() == pytest.approx(80.0)
        with pytest.raises(BadOutOfRange):
            await node("CNC-101.cmd.setpoint").write_value(ua.Variant(500.0, ua.VariantType.Float))
        assert sim.machine("CNC-101")["setpoint"] == 80.0  # unchanged

        await until(lambda: sim.machine("CNC-102")["good_count"] > 0, what="a good part")
        await node("CNC-102.cmd.reset").write_value(ua.Variant(True, ua.VariantType.Boolean))
        await until(logged(sim, "CNC-102", type="counter_reset"))
        reset = next(e for e in sim.events() if e["type"] == "counter_reset")
        assert reset["good_count_before"] > 0


async def test_setpoint_slows_the_cycle(sim: SimProcess) -> None:
    sim.command("MILL-104", "setpoint", 50)
    await until(logged(sim, "MILL-104", type="command", command="setpoint", value=50))
    mark = len(sim.events())

    def slow_cycles() -> list[dict[str, Any]]:
        cycles = [
            e for e in sim.events()[mark:] if e["type"] == "cycle" and e["machine"] == "MILL-104"
        ]
        return cycles[1:3] if len(cycles) >= 3 else []  # the first one began before the change

    cycles = await until(slow_cycles, within=120, what="two cycles at 50 %")
    assert all(c["cycle_time"] >= 2 * 45 for c in cycles)  # ideal 45 s at 100 %
    sim.command("MILL-104", "setpoint", 100)


async def test_modbus_command_register_coils_and_setpoint(sim: SimProcess) -> None:
    client = AsyncModbusTcpClient(sim.host, port=sim.modbus_port, timeout=5)
    await client.connect()
    try:
        unit = 1  # LATHE-103
        assert not (await client.write_register(0, 2, device_id=unit)).isError()  # stop
        await until(logged(sim, "LATHE-103", type="command", command="stop", source="modbus"))

        async def stopped() -> bool:
            state = await client.read_input_registers(0, count=1, device_id=unit)
            running = await client.read_discrete_inputs(0, count=1, device_id=unit)
            coil = await client.read_coils(0, count=1, device_id=unit)
            return state.registers[0] == 0 and not running.bits[0] and not coil.bits[0]

        await until(stopped, what="LATHE-103 idle on the wire")

        assert not (await client.write_coil(0, True, device_id=unit)).isError()  # run
        await until(lambda: sim.machine("LATHE-103")["state"] != "idle", what="LATHE-103 started")

        words = client.convert_to_registers(75.0, client.DATATYPE.FLOAT32, word_order="big")
        assert not (await client.write_registers(1, words, device_id=unit)).isError()
        assert sim.machine("LATHE-103")["setpoint"] == 75.0
        back = await client.read_holding_registers(1, count=2, device_id=unit)
        assert client.convert_from_registers(back.registers, client.DATATYPE.FLOAT32) == 75.0

        # MILL-104 swaps words; PRESS-201 takes the setpoint as uint16 x 0.1
        words = client.convert_to_registers(60.0, client.DATATYPE.FLOAT32, word_order="little")
        assert not (await client.write_registers(1, words, device_id=2)).isError()
        assert sim.machine("MILL-104")["setpoint"] == 60.0
        assert not (await client.write_register(1, 905, device_id=3)).isError()
        assert sim.machine("PRESS-201")["setpoint"] == pytest.approx(90.5)

        refused = [
            await client.write_register(0, 9, device_id=unit),  # no such command
            await client.write_register(1, 0x4000, device_id=unit),  # half a float32
            await client.write_registers(1, client.convert_to_registers(
                500.0, client.DATATYPE.FLOAT32), device_id=unit),  # out of range
        ]  # fmt: skip
        assert [r.exception_code for r in refused] == [3, 3, 3]  # illegal data value
        assert sim.machine("LATHE-103")["setpoint"] == 75.0
        read_only = await client.write_register(10, 1, device_id=3)  # a PRESS-201 process value
        assert read_only.isError() and read_only.exception_code == 2

        await until(lambda: sim.machine("PRESS-201")["good_count"] > 0, what="a pressed part")
        assert not (await client.write_coil(1, True, device_id=3)).isError()  # reset counters
        await until(logged(sim, "PRESS-201", type="counter_reset"))
    finally:
        client.close()


async def test_control_endpoint_stop_and_fail_now(sim: SimProcess) -> None:
    snapshot = await sim.acommand("PACK-205", "stop")
    assert snapshot["state"] == "idle" and snapshot["enabled"] is False
    await until(logged(sim, "PACK-205", type="state", to="idle", reason="stopped"))
    await sim.acommand("PACK-205", "start")

    failed = await sim.acommand("TEST-204", "fail", mode="sudden", response=30, duration=60)
    assert failed["state"] == "down" and failed["alarm_code"] == 203
    failure = await sim.await_event(lambda e: e["type"] == "failure" and e["machine"] == "TEST-204")
    assert failure["cause"] == "command" and failure["precursor"] is False
    repaired = await sim.await_event(
        lambda e: e["type"] == "maintenance_end" and e["machine"] == "TEST-204", within=60
    )
    assert repaired["t"] == pytest.approx(failure["t"] + 90, abs=0.01)


async def test_control_endpoint_refuses_bad_commands(sim: SimProcess) -> None:
    before = sim.machine("WASH-105")
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"code": "WASH-105", "command": "explode"}, 400, "command"),
        ({"code": "WASH-105", "command": "setpoint", "value": 5}, 400, "value"),
        ({"code": "WASH-105", "command": "setpoint"}, 400, "value"),
        ({"code": "WASH-105", "command": "fail", "mode": "gremlins"}, 400, "command"),
        ({"code": "WASH-105", "command": "start", "colour": "red"}, 400, "colour"),
        ({"code": "NOPE-1", "command": "stop"}, 404, None),
    ]
    for case, status, field in cases:
        code = case.pop("code")
        with pytest.raises(ControlError) as err:
            sim.command(code, **case)
        assert (err.value.status, err.value.field) == (status, field), case
    after = sim.machine("WASH-105")
    assert (after["setpoint"], after["enabled"]) == (before["setpoint"], before["enabled"])
    refused = [e for e in sim.events() if e["type"] == "command" and e.get("accepted") is False]
    assert {e["command"] for e in refused} >= {"explode", "setpoint", "fail"}
