"""End to end through the plant simulators: `mes sim export-gateway-config --scenario demo` output
runs in `mes gateway` unchanged; the simulator's values arrive exactly (values, timestamps,
quality); simulator faults (OPC UA server restart, a Modbus machine offline, malformed MQTT
payloads) are survived without operator action."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
import yaml
from asyncua.client.client import Client
from paho.mqtt.enums import CallbackAPIVersion

from gateway import quality
from gateway.config import load_config
from tests.support.databases import TestDb
from tests.support.gateway import MES, GatewayProcess, eventually, fetch
from tests.support.mosquitto import private_broker
from tests.support.simulators import SimProcess, running_simulators

pytestmark = pytest.mark.slow


@pytest.fixture
def sim() -> Iterator[SimProcess]:
    """The demo plant on a broker of its own: the exported configuration's fixed MQTT client id
    must not resume a persistent session another test left on the shared broker."""
    with (
        private_broker() as broker,
        running_simulators(broker, scenario="demo", seed=11, speed=10) as process,
    ):
        yield process


def export(sim: SimProcess, path: Path) -> Path:
    """The exported configuration, exactly as the command line writes it."""
    result = subprocess.run(
        [MES, "sim", "export-gateway-config", "--scenario", "demo", "--out", str(path)],
        env={**os.environ, **sim.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return path


def configured_signals(path: Path, env: dict[str, str]) -> dict[str, str]:
    """signal key -> device, for the explicit tags of the file."""
    config = load_config(path, env={**os.environ, **env})
    out: dict[str, str] = {}
    for device in config.devices:
        if device.protocol == "opcua":
            out.update({t.signal: device.name for t in device.tags})
        elif device.protocol == "modbus":
            out.update({t.signal: device.name for g in device.groups for t in g.tags})
    return out


async def stored_keys(db: TestDb) -> set[str]:
    rows = await fetch(
        db, "SELECT DISTINCT s.key FROM reading r JOIN signal s ON s.id = r.signal_id"
    )
    return {r[0] for r in rows}


async def test_exported_demo_config_runs_unchanged_and_survives_faults(
    sim: SimProcess, db: TestDb, tmp_path: Path
) -> None:
    path = export(sim, tmp_path / "gateway.yaml")
    assert "${MES_SIM_OPCUA_PORT}" in path.read_text()  # unchanged: references, not values
    env = {**db.env, **sim.env, "MES_GATEWAY_SPOOL_DIR": str(tmp_path / "spool")}
    polled_and_subscribed = configured_signals(path, env)
    gateway = GatewayProcess(path, env, tmp_path / "gateway.log")
    try:
        await asyncio.to_thread(gateway.start)
        await eventually(
            lambda: _all_connected(gateway), what="every device connected", timeout=120
        )
        await eventually(
            lambda: _covers(db, set(polled_and_subscribed)), what="every configured signal",
            timeout=120,
        )  # fmt: skip
        # MQTT signals are published by the machines on their own schedule: wait for them too
        await eventually(
            lambda: _covers(db, {"SCREW-203.torque", "TEST-204.leak_rate", "WASH-105.temperature"}),
            what="the MQTT machines' signals", timeout=120,
        )  # fmt: skip
        equipment = {r[0] for r in await fetch(db, "SELECT DISTINCT equipment_code FROM signal")}
        assert equipment == ALL_MACHINES

        # OPC UA: what the server holds now is in `reading`, with its source timestamp
        await _opcua_matches(sim, db, "CNC-101")

        # faults, each recovered without action: the OPC UA server restarts ...
        before = gateway.healthy()["devices"]["CNC-101"]["reconnects"]
        await sim.afault("opcua", "restart", duration=3)
        await eventually(
            lambda: _reconnected(gateway, "CNC-101", before), what="OPC UA back", timeout=120
        )
        await _opcua_matches(sim, db, "CNC-101")
        # ... a Modbus machine goes offline: its signals turn Bad, the others keep flowing
        await sim.afault("LATHE-103", "offline", duration=6)
        await eventually(
            lambda: _latest_quality(db, "LATHE-103.state", quality.BAD_NO_COMMUNICATION),
            what="LATHE-103 Bad",
        )
        down_at = datetime.now(UTC)
        mill_before = await _count(db, "MILL-104.%")
        await eventually(
            lambda: _latest_quality(db, "LATHE-103.state", quality.GOOD), what="LATHE-103 back",
            timeout=120,
        )  # fmt: skip
        # the machine next to it (same Modbus server, another unit) kept being read, all Good
        assert await _count(db, "MILL-104.%") > mill_before
        bad_mill = await fetch(
            db,
            "SELECT count(*) FROM reading r JOIN signal s ON s.id = r.signal_id"
            " WHERE s.key LIKE 'MILL-104.%%' AND r.quality < 0 AND r.ts >= %s",
            down_at,
        )
        assert bad_mill == [(0,)]
        # ... and malformed MQTT payloads are counted, never fatal
        await sim.afault("SCREW-203", "malformed", duration=3)
        await eventually(
            lambda: _malformed(gateway) > 0, what="malformed payloads counted", timeout=60
        )
        count = await _count(db, "SCREW-203.%")
        await eventually(
            lambda: _count_above(db, "SCREW-203.%", count), what="SCREW-203 still stored"
        )
        assert gateway.healthy()["devices"]["sim-mqtt"]["state"] == "connected"
    finally:
        gateway.stop()


ALL_MACHINES = {
    "CNC-101", "CNC-102", "LATHE-103", "MILL-104", "WASH-105",
    "PRESS-201", "ROBOT-202", "SCREW-203", "TEST-204", "PACK-205",
}  # fmt: skip


def _all_connected(gateway: GatewayProcess) -> bool:
    health = gateway.health()
    return bool(health) and all(
        d["state"] == "connected"
        for d in health["devices"].values()  # type: ignore[index]
    )


def _reconnected(gateway: GatewayProcess, device: str, before: int) -> bool:
    link = gateway.healthy()["devices"][device]
    return bool(link["reconnects"] > before and link["state"] == "connected")


async def _covers(db: TestDb, keys: set[str]) -> bool:
    return keys <= await stored_keys(db)


async def _count(db: TestDb, like: str) -> int:
    rows = await fetch(
        db,
        "SELECT count(*) FROM reading r JOIN signal s ON s.id = r.signal_id WHERE s.key LIKE %s",
        like,
    )
    return int(rows[0][0])


async def _count_above(db: TestDb, like: str, n: int) -> bool:
    return await _count(db, like) > n


async def _latest_quality(db: TestDb, key: str, q: int) -> bool:
    rows = await fetch(
        db,
        "SELECT r.quality FROM reading r JOIN signal s ON s.id = r.signal_id WHERE s.key = %s"
        " ORDER BY r.ts DESC LIMIT 1",
        key,
    )
    return bool(rows) and rows[0][0] == q


def _malformed(gateway: GatewayProcess) -> float:
    total = 0.0
    for line in gateway.metrics().splitlines():
        if line.startswith("gateway_mqtt_malformed_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _opcua_matches(sim: SimProcess, db: TestDb, machine: str) -> None:
    """Every data change a bare asyncua subscription sees for a few seconds is stored exactly:
    value, source timestamp and quality."""
    seen: list[tuple[str, Any, Any, int]] = []

    class Collect:
        def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
            dv = data.monitored_item.Value
            key = node.nodeid.Identifier
            status = dv.StatusCode.value if dv.StatusCode is not None else 0
            seen.append((key, dv.SourceTimestamp, value, quality.from_status_code(status)))

    client = Client(sim.opcua_url, timeout=10)
    await client.connect()
    try:
        ns = await client.get_namespace_index("urn:knu-mes:simulator")
        nodes = [
            client.get_node(f"ns={ns};s={machine}.{name}")
            for name in ("good_count", "state", "spindle_speed", "temperature")
        ]
        sub = await client.create_subscription(500, Collect())  # as the exported configuration
        await sub.subscribe_data_change(  # type: ignore[call-overload]
            nodes, queuesize=10, sampling_interval=100.0
        )
        await asyncio.sleep(8)
    finally:
        await client.disconnect()
    # the first notification of each item is the current value, whose timestamp the simulator
    # refreshes without a change (so no subscriber is notified of it): only changes count
    firsts: set[str] = set()
    sample = []
    for item in seen:
        if item[0] in firsts and item[1] is not None:
            sample.append(item)
        firsts.add(item[0])
    assert len(sample) >= 4

    async def stored() -> bool:
        for key, ts, value, q in sample:
            rows = await fetch(
                db,
                "SELECT r.value, r.quality FROM reading r JOIN signal s ON s.id = r.signal_id"
                " WHERE s.key = %s AND r.ts = %s",
                key,
                ts,
            )
            if rows != [(None if value is None else float(value), q)]:
                return False
        return True

    try:
        await eventually(stored, what=f"{len(sample)} OPC UA changes of {machine}", timeout=60)
    except TimeoutError:
        missing = []
        for key, ts, value, q in sample:
            rows = await fetch(
                db,
                "SELECT r.ts, r.value, r.quality FROM reading r JOIN signal s"
                " ON s.id = r.signal_id WHERE s.key = %s AND r.ts BETWEEN %s AND %s",
                key, ts - timedelta(seconds=2), ts + timedelta(seconds=2),
            )  # fmt: skip
            if (ts, None if value is None else float(value), q) not in rows:
                missing.append((key, ts, value, q, rows))
        raise AssertionError(f"not stored: {missing[:3]}") from None


async def test_mqtt_messages_arrive_exactly(sim: SimProcess, db: TestDb, tmp_path: Path) -> None:
    """Every demo MQTT message a bare subscriber sees is stored with its value, timestamp and
    quality (sampled over a few seconds)."""
    path = export(sim, tmp_path / "gateway.yaml")
    env = {**db.env, **sim.env, "MES_GATEWAY_SPOOL_DIR": str(tmp_path / "spool")}
    seen: list[tuple[str, str, float, str]] = []

    def on_message(_c: Any, _u: Any, message: Any) -> None:
        parts = message.topic.split("/")
        if parts[-1] in ("status", "batch"):
            return
        body = orjson.loads(message.payload)
        seen.append(
            (f"{parts[3]}.{parts[4]}", body["ts"], float(body["value"]), body.get("q", "good"))
        )

    watcher = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{db.name}")
    watcher.on_message = on_message
    watcher.connect(sim.broker.host, sim.broker.port)
    gateway = GatewayProcess(path, env, tmp_path / "gateway.log")
    try:
        await asyncio.to_thread(gateway.start)
        await eventually(lambda: _all_connected(gateway), what="connected", timeout=120)
        watcher.subscribe("KNU/+/+/+/+", qos=1)
        watcher.loop_start()
        await asyncio.sleep(5)
        watcher.loop_stop()
        sample = list(seen)
        assert len(sample) > 5

        async def all_stored() -> bool:
            for key, ts, value, q in sample:
                rows = await fetch(
                    db,
                    "SELECT r.value, r.quality FROM reading r JOIN signal s ON s.id = r.signal_id"
                    " WHERE s.key = %s AND r.ts = %s",
                    key,
                    datetime.fromisoformat(ts),
                )
                if rows != [(value, quality.from_text(q))]:
                    return False
            return True

        await eventually(all_stored, what="every sampled message stored exactly", timeout=60)
    finally:
        watcher.disconnect()
        gateway.stop()


def test_exported_config_is_valid_yaml_for_the_format() -> None:
    """The export names the format version this gateway reads."""
    text = subprocess.run(
        [MES, "sim", "export-gateway-config", "--scenario", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
        check=True,
    ).stdout
    assert yaml.safe_load(text)["version"] == 1
