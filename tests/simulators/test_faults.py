"""Fault injection at run time, observed with real clients: dropped connections, stalled
responses, server restarts, offline devices, malformed and out-of-range data, bad quality,
skewed clocks. Every fault starts and ends in the event log; bad requests are refused."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncua.client.client import Client

from tests.simulators.clients import Subscriber
from tests.support.mosquitto import Broker
from tests.support.simulators import ControlError, SimProcess, running_simulators

CLI_FAULT = "WASH-105:bad_quality:for=2"


@pytest.fixture(scope="module")
def sim(broker: Broker) -> Iterator[SimProcess]:
    with running_simulators(
        broker, scenario="demo", seed=42, speed=10, extra_args=("--fault", CLI_FAULT)
    ) as s:
        yield s


@pytest.fixture(autouse=True)
def no_faults_left(sim: SimProcess) -> Iterator[None]:
    yield
    sim.clear_faults()


async def until(check: Callable[[], Any], within: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out after {within:.0f}s waiting for {what}")


# --- raw Modbus TCP, to see exactly what comes back ---------------------------------------------


def read_request(tid: int, unit: int, address: int = 0, count: int = 8) -> bytes:
    """A Read Input Registers request frame."""
    return struct.pack(">HHHBBHH", tid, 0, 6, unit, 4, address, count)


@contextlib.asynccontextmanager
async def modbus_socket(
    sim: SimProcess,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(sim.host, sim.modbus_port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frame: bytes
) -> bytes:
    writer.write(frame)
    await writer.drain()
    return await asyncio.wait_for(reader.read(256), 3.0)


def registers(response: bytes) -> list[int]:
    """Register values of a read response (MBAP + fc + byte count + data)."""
    count = response[8] // 2
    return list(struct.unpack(f">{count}H", response[9 : 9 + 2 * count]))


def floats(words: list[int]) -> list[float]:
    return [struct.unpack(">f", struct.pack(">HH", words[i], words[i + 1]))[0]
            for i in range(0, len(words), 2)]  # fmt: skip


async def test_modbus_drop_closes_connections_and_accepts_new_ones(sim: SimProcess) -> None:
    async with modbus_socket(sim) as (reader, writer):
        assert len(await exchange(reader, writer, read_request(1, 1))) > 9
        sim.fault("modbus", "drop")
        assert await asyncio.wait_for(reader.read(256), 5) == b""  # closed by the server side
    async with modbus_socket(sim) as (reader, writer):
        assert len(await exchange(reader, writer, read_request(2, 1))) > 9


async def test_modbus_stall_holds_responses_until_cleared(sim: SimProcess) -> None:
    async with modbus_socket(sim) as (reader, writer):
        fault = sim.fault("modbus", "stall")
        writer.write(read_request(7, 2))
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(256), 1.5)
        sim.clear_fault(fault["id"])
        late = await asyncio.wait_for(reader.read(256), 5)
        assert late[:2] == struct.pack(">H", 7) and late[7] == 4


async def test_modbus_restart_refuses_connections_then_comes_back(sim: SimProcess) -> None:
    sim.fault("modbus", "restart", duration=3)

    async def refused() -> bool:
        try:
            _, writer = await asyncio.open_connection(sim.host, sim.modbus_port)
        except ConnectionRefusedError:
            return True
        writer.close()
        return False

    await until(refused, 10, "the Modbus port to refuse connections")

    async def serving() -> bool:
        try:
            async with modbus_socket(sim) as (reader, writer):
                return len(await exchange(reader, writer, read_request(3, 1))) > 9
        except (OSError, TimeoutError):
            return False

    await until(serving, 20, "the Modbus server to answer again")
    kinds = [(e["kind"], e["action"]) for e in sim.events() if e["type"] == "fault"]
    assert ("restart", "start") in kinds and ("restart", "end") in kinds


async def test_modbus_malformed_frames(sim: SimProcess) -> None:
    sim.fault("modbus", "malformed", duration=10)
    async with modbus_socket(sim) as (reader, writer):
        response = await exchange(reader, writer, read_request(4, 1))
    assert response[2:4] == b"\xff\xff"  # protocol id must be 0
    assert len(response) < 9 + 16  # truncated


async def test_modbus_unit_offline_stall_and_garbled_values(sim: SimProcess) -> None:
    async with modbus_socket(sim) as (reader, writer):
        offline = sim.fault("LATHE-103", "offline")
        response = await exchange(reader, writer, read_request(5, 1))
        assert response[7] == 0x84 and response[8] == 0x0B  # gateway target failed to respond
        assert registers(await exchange(reader, writer, read_request(6, 2, 8, 2)))  # MILL-104 fine
        sim.clear_fault(offline["id"])
        assert len(registers(await exchange(reader, writer, read_request(7, 1)))) == 8

        stall = sim.fault("MILL-104", "stall")
        writer.write(read_request(8, 2))
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(256), 1.5)
        sim.clear_fault(stall["id"])
        assert registers(await asyncio.wait_for(reader.read(256), 5))

        sim.fault("LATHE-103", "out_of_range", duration=30)
        high = 5000  # LATHE-103.spindle_speed range 0..5000

        async def beyond() -> bool:
            words = registers(await exchange(reader, writer, read_request(9, 1, 8, 2)))
            return floats(words)[0] > high

        await until(beyond, 10, "an out-of-range spindle speed")
        sim.fault("LATHE-103", "malformed", duration=30)

        async def nan() -> bool:
            words = registers(await exchange(reader, writer, read_request(10, 1, 8, 2)))
            value = floats(words)[0]
            return value != value

        await until(nan, 10, "a NaN register pair")


async def test_opcua_restart_and_drop(sim: SimProcess) -> None:
    client = Client(sim.opcua_url, timeout=3)
    await client.connect()
    try:
        sim.fault("opcua", "drop")

        async def broken() -> bool:
            try:
                await client.check_connection()
                await client.nodes.server_state.read_value()
            except Exception:  # noqa: BLE001 - any failure means the connection is gone
                return True
            return False

        await until(broken, 15, "the OPC UA connection to break")
    finally:
        with contextlib.suppress(Exception):
            await client.disconnect()

    sim.fault("opcua", "restart", duration=3)

    async def refused() -> bool:
        try:
            async with Client(sim.opcua_url, timeout=2):
                return False
        except (OSError, TimeoutError):
            return True

    await until(refused, 10, "OPC UA connections to be refused")

    async def serving() -> bool:
        try:
            async with Client(sim.opcua_url, timeout=3) as c:
                ns = await c.get_namespace_index("urn:knu-mes:simulator")
                dv = await c.get_node(f"ns={ns};s=CNC-101.temperature").read_data_value()
                return dv.StatusCode is not None and dv.StatusCode.is_good()
        except (OSError, TimeoutError):
            return False

    await until(serving, 60, "the OPC UA server to serve again")


async def test_opcua_stall_delays_answers(sim: SimProcess) -> None:
    async with Client(sim.opcua_url, timeout=10) as client:
        ns = await client.get_namespace_index("urn:knu-mes:simulator")
        node = client.get_node(f"ns={ns};s=CNC-102.state")
        fault = sim.fault("opcua", "stall")
        pending = asyncio.ensure_future(node.read_value())
        await asyncio.sleep(1.5)
        assert not pending.done()
        sim.clear_fault(fault["id"])
        assert await asyncio.wait_for(pending, 10) in range(7)


async def test_opcua_machine_offline_quality_skew_and_range(sim: SimProcess) -> None:
    async with Client(sim.opcua_url, timeout=10) as client:
        ns = await client.get_namespace_index("urn:knu-mes:simulator")

        def node(key: str) -> Any:
            return client.get_node(f"ns={ns};s={key}")

        offline = sim.fault("ROBOT-202", "offline")

        async def no_communication() -> bool:
            dv = await node("ROBOT-202.motor_current").read_data_value(raise_on_bad_status=False)
            return bool(dv.StatusCode is not None and dv.StatusCode.name == "BadNoCommunication")

        await until(no_communication, 10, "BadNoCommunication")
        sim.clear_fault(offline["id"])

        async def good_again() -> bool:
            dv = await node("ROBOT-202.motor_current").read_data_value(raise_on_bad_status=False)
            return bool(dv.StatusCode.is_good())

        await until(good_again, 10, "good values after offline")

        sim.fault("PACK-205", "bad_quality", duration=30)

        async def sensor_failure() -> bool:
            dv = await node("PACK-205.temperature").read_data_value(raise_on_bad_status=False)
            return bool(dv.StatusCode is not None and dv.StatusCode.name == "BadSensorFailure")

        await until(sensor_failure, 10, "BadSensorFailure")
        state = await node("PACK-205.state").read_data_value()
        assert state.StatusCode.is_good()  # the state is not a sensor

        sim.fault("CNC-102", "skew", skew_s=3600, duration=30)

        async def skewed() -> bool:
            dv = await node("CNC-102.spindle_speed").read_data_value()
            sim_now = datetime.fromisoformat(sim.status()["sim_ts"].replace("Z", "+00:00"))
            return bool(dv.SourceTimestamp.replace(tzinfo=UTC) > sim_now + timedelta(minutes=50))

        await until(skewed, 10, "source timestamps an hour ahead")

        sim.fault("CNC-101", "out_of_range", duration=30)

        async def out_of_range() -> bool:
            return bool(await node("CNC-101.spindle_speed").read_value() > 6000)

        await until(out_of_range, 10, "a spindle speed beyond its EURange")


def test_mqtt_device_faults(sim: SimProcess) -> None:
    prefix = "KNU/ASSY/L2/TEST-204"
    with Subscriber(sim.broker.port, [f"{prefix}/#", "KNU/MACH/L1/WASH-105/#"]) as sub:
        sub.wait(lambda ms: any(m.topic == f"{prefix}/leak_rate" for m in ms), 30, "values")

        mark = len(sub.snapshot())
        sim.fault("TEST-204", "drop")
        statuses = sub.wait(
            lambda ms: [m.payload for m in ms[mark:] if m.topic == f"{prefix}/status"][-2:]
            == [b"offline", b"online"],
            30, "last will offline, then birth online",
        )  # fmt: skip
        assert statuses

        mark = len(sub.snapshot())
        fault = sim.fault("TEST-204", "offline")
        sub.wait(lambda ms: any(m.payload == b"offline" for m in ms[mark:]), 30, "offline")
        time.sleep(1.0)
        quiet = len(sub.snapshot())
        time.sleep(1.5)
        assert not [m for m in sub.snapshot()[quiet:] if m.topic.startswith(prefix)]
        sim.clear_fault(fault["id"])
        sub.wait(lambda ms: any(m.topic == f"{prefix}/pressure" for m in ms[quiet:]), 30, "back")

        mark = len(sub.snapshot())
        sim.fault("TEST-204", "malformed", duration=30)

        def unparseable(m: Any) -> bool:
            try:
                data = m.json()
            except ValueError:
                return True
            return not isinstance(data, dict) or not isinstance(data.get("value"), int | float)

        def four_bad(ms: list[Any]) -> bool:
            return sum(unparseable(m) for m in ms[mark:] if not m.topic.endswith("/status")) >= 4

        bad = sub.wait(four_bad, 30, "malformed payloads")
        assert bad
        sim.clear_faults()

        mark = len(sub.snapshot())
        sim.fault("WASH-105", "skew", skew_s=-7200, duration=30)
        sim.fault("WASH-105", "out_of_range", duration=30)

        def skewed_out_of_range(ms: list[Any]) -> bool:
            for m in ms[mark:]:
                if m.topic == "KNU/MACH/L1/WASH-105/pressure":
                    data = m.json()
                    sim_now = datetime.fromisoformat(sim.status()["sim_ts"].replace("Z", "+00:00"))
                    ts = datetime.fromisoformat(data["ts"].replace("Z", "+00:00"))
                    if ts < sim_now - timedelta(minutes=100) and data["value"] > 10:
                        return True
            return False

        sub.wait(skewed_out_of_range, 30, "skewed, out-of-range pressure")


def test_fault_from_the_command_line_and_the_log(sim: SimProcess) -> None:
    def both_logged() -> bool:
        marks = [
            (e["target"], e["kind"], e["action"]) for e in sim.events() if e["type"] == "fault"
        ]
        return ("WASH-105", "bad_quality", "start") in marks and (
            "WASH-105", "bad_quality", "end") in marks  # fmt: skip

    deadline = time.monotonic() + 30
    while not both_logged():
        assert time.monotonic() < deadline, "the --fault flag did not start and end its fault"
        time.sleep(0.1)


def test_fault_requests_are_validated(sim: SimProcess) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"target": "modbus", "kind": "explode"}, "kind"),
        ({"target": "opcua", "kind": "malformed"}, "kind"),
        ({"target": "CNC-101", "kind": "stall"}, "kind"),
        ({"target": "LATHE-103", "kind": "skew", "skew_s": 5}, "kind"),
        ({"target": "NOPE", "kind": "drop"}, "target"),
        ({"target": "WASH-105", "kind": "skew"}, "skew_s"),
        ({"target": "modbus", "kind": "restart"}, "for"),
        ({"target": "modbus", "kind": "drop", "at": -1}, "at"),
        ({"target": "modbus", "kind": "drop", "duration": 0}, "for"),
    ]
    for body, field in cases:
        kwargs = dict(body)
        target, kind = kwargs.pop("target"), kwargs.pop("kind")
        with pytest.raises(ControlError) as err:
            sim.fault(target, kind, **kwargs)
        assert (err.value.status, err.value.field) == (400, field), body
    pending = sim.fault("modbus", "drop", at=3600)
    assert pending["active"] is False and pending["starts_in_s"] > 3500
    assert [f["id"] for f in sim.status()["faults"]] == [pending["id"]]
    with pytest.raises(ControlError) as err:
        sim.clear_fault(987654)
    assert err.value.status == 404
