"""A scheduled bearing failure: the degradation precursors (rising vibration, a warning alarm)
show on every protocol before the machine goes down, and the event log has onset, warning and
failure in that order."""

from __future__ import annotations

import asyncio
import statistics
import struct
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asyncua.client.client import Client
from pymodbus.client import AsyncModbusTcpClient

from tests.simulators.clients import Subscriber
from tests.simulators.scenarios import FAILURE_PLANT
from tests.support.mosquitto import Broker
from tests.support.simulators import SimProcess

ONSET_S, FAILURE_S = 300.0, 600.0
SPEED = 30.0


class Recorder:
    """OPC UA data changes: (key, value, source timestamp)."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, Any, datetime]] = []

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        stamp = data.monitored_item.Value.SourceTimestamp.replace(tzinfo=UTC)
        self.changes.append((node.nodeid.Identifier, value, stamp))


def split(values: list[tuple[float, float]]) -> tuple[float, float]:
    """Mean vibration before the onset and in the last fifth of the precursor."""
    before = [v for t, v in values if t < ONSET_S]
    late = [v for t, v in values if FAILURE_S - 60 <= t < FAILURE_S]
    assert len(before) >= 3 and len(late) >= 3, (len(before), len(late))
    return statistics.mean(before), statistics.mean(late)


async def test_precursors_are_visible_on_the_wire_before_the_failure(
    broker: Broker, tmp_path: Path
) -> None:
    scenario = tmp_path / "failing.yaml"
    scenario.write_text(FAILURE_PLANT)
    sim = SimProcess(broker=broker, scenario=str(scenario), seed=1, speed=SPEED)
    with Subscriber(broker.port, ["KNU/MACH/L9/ROBOT-903/#"]) as sub:
        sim.start()
        try:
            origin = datetime.fromisoformat(sim.status()["origin"].replace("Z", "+00:00"))
            recorder = Recorder()
            modbus: list[tuple[float, float, int, int]] = []  # (sim t, vibration, state, alarm)
            async with Client(sim.opcua_url, timeout=10) as client:
                ns = await client.get_namespace_index("urn:knu-mes:simulator")
                subscription = await client.create_subscription(50, recorder)
                for name in ("vibration_rms", "state", "alarm_code"):
                    await subscription.subscribe_data_change(
                        client.get_node(f"ns={ns};s=CNC-901.{name}"), queuesize=100
                    )
                mb = AsyncModbusTcpClient(sim.host, port=sim.modbus_port, timeout=5)
                await mb.connect()
                try:
                    while True:
                        regs = (await mb.read_input_registers(0, count=14, device_id=9)).registers
                        sim_t = float(sim.status()["sim_t"])
                        vib = struct.unpack(">f", struct.pack(">HH", regs[12], regs[13]))[0]
                        modbus.append((sim_t, vib, regs[0], regs[1]))
                        if regs[0] == 5 or sim_t > FAILURE_S + 120:
                            break
                        await asyncio.sleep(0.1)
                finally:
                    mb.close()
                deadline = time.monotonic() + 30
                while not any(k == "CNC-901.state" and v == 5 for k, v, _ in recorder.changes):
                    assert time.monotonic() < deadline, "CNC-901 never went down on OPC UA"
                    await asyncio.sleep(0.1)
            mqtt = sub.wait(
                lambda ms: any(m.topic.endswith("/state") and m.json()["value"] == 5 for m in ms),
                30, "ROBOT-903 down on MQTT",
            )  # fmt: skip
        finally:
            sim.stop()
    # a clean stop leaves every device's retained status at offline
    with Subscriber(broker.port, ["KNU/MACH/L9/+/status"]) as statuses:
        retained = statuses.wait(lambda ms: len(ms) >= 1, 10, "the retained status")
    assert [(m.payload, m.retain) for m in retained] == [(b"offline", True)]
    assert sim.events()[-1]["type"] == "run_end"
    events = [e for e in sim.events() if e.get("machine") in ("CNC-901", "LATHE-902", "ROBOT-903")]

    def t_of(ts: datetime) -> float:
        return (ts - origin) / timedelta(seconds=1)

    # OPC UA: vibration by source timestamp; warning 101 before state down
    opc = [(t_of(s), v) for k, v, s in recorder.changes if k == "CNC-901.vibration_rms"]
    before, late = split(opc)
    assert late > 2 * before
    alarms = [(t_of(s), v) for k, v, s in recorder.changes if k == "CNC-901.alarm_code"]
    down = min(t_of(s) for k, v, s in recorder.changes if k == "CNC-901.state" and v == 5)
    assert any(v == 101 and t < down for t, v in alarms)
    assert down >= FAILURE_S

    # Modbus: polled values, in simulated time as the simulator reported it
    before, late = split([(t, v) for t, v, _, _ in modbus])
    assert late > 2 * before
    first_down = next(t for t, _, state, _ in modbus if state == 5)
    assert any(alarm == 101 for t, _, _, alarm in modbus if t < first_down)

    # MQTT: the payload timestamps are the devices' (simulated) clock
    def mqtt_values(name: str) -> list[tuple[float, float]]:
        out = []
        for m in mqtt:
            if m.topic.endswith(f"/{name}"):
                data = m.json()
                out.append(
                    (t_of(datetime.fromisoformat(data["ts"].replace("Z", "+00:00"))), data["value"])
                )
        return out

    before, late = split(mqtt_values("vibration_rms"))
    assert late > 2 * before
    assert any(v == 101 for t, v in mqtt_values("alarm_code") if t < FAILURE_S)

    # the event log: onset, warning, failure per machine, with the same failure id
    for code in ("CNC-901", "LATHE-902", "ROBOT-903"):
        mine = [e for e in events if e["machine"] == code and e["type"] in
                ("failure_onset", "warning", "failure")]  # fmt: skip
        assert [e["type"] for e in mine[:3]] == ["failure_onset", "warning", "failure"]
        assert [e["t"] for e in (mine[0], mine[2])] == [ONSET_S, FAILURE_S]
        assert len({e["failure_id"] for e in mine[:3]}) == 1
