"""Lowering `gateway.workers` (or going between one process and several) retires gateway
processes whose persistent MQTT sessions the broker keeps, still taking a share of the messages.
The state file of the ids that ran; the retired sessions' client ids and filters; and, with `mes
gateway` as processes on a real Mosquitto and PostgreSQL: what a retired session queued is drained
into `reading` exactly once, the session is deleted at the broker (later messages are not split to
it), a restart with the same count drains nothing, going to one process and back drains each
side's sessions, and a drain killed midway resumes at the next start. In process: a retired
session the broker no longer has is forgotten at once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config import load_config, load_text
from gateway.runtime import Gateway
from gateway.sessions import (
    forget,
    known_ids,
    record_start,
    retired_ids,
    retired_sessions,
    state_path,
)
from gateway.settings import GatewaySettings
from gateway.sinks.spool import Spool
from tests.gateway.load import BatchLoad
from tests.gateway.test_mqtt import mqtt_device
from tests.support.databases import TestDb
from tests.support.gateway import (
    GatewayProcess,
    base_config,
    count_readings,
    eventually,
    fetch,
    metric_samples,
    process_env,
    write_config,
)
from tests.support.mosquitto import Broker

# --- the state of ids that ran ------------------------------------------------------------------


def test_ids_are_recorded_and_retired_ids_found(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    assert record_start(root, "edge-1", 3) == []  # a first start: nothing retired
    assert orjson.loads(state_path(root, "edge-1").read_bytes()) == {
        "version": 1, "ids": ["edge-1-w0", "edge-1-w1", "edge-1-w2"]
    }  # fmt: skip
    assert record_start(root, "edge-1", 3) == []  # the same count again: nothing
    assert record_start(root, "edge-1", 2) == ["edge-1-w2"]
    assert known_ids(root, "edge-1") == ["edge-1-w0", "edge-1-w1", "edge-1-w2"]  # until drained
    assert retired_ids(root, "edge-1", 2) == ["edge-1-w2"]  # what worker 0 reads
    forget(root, "edge-1", "edge-1-w2")
    assert retired_ids(root, "edge-1", 2) == []
    # to one process: every worker is retired; back to workers: the single process is
    assert record_start(root, "edge-1", 1) == ["edge-1-w0", "edge-1-w1"]
    forget(root, "edge-1", "edge-1-w0")
    assert record_start(root, "edge-1", 2) == ["edge-1"]  # w1 still waits for its drain, it runs
    assert known_ids(root, "edge-1") == ["edge-1", "edge-1-w0", "edge-1-w1"]
    assert record_start(root, "other", 2) == []  # another gateway's state is its own


def test_without_a_state_file_the_spool_directories_tell_which_ids_ran(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    for name in ("edge-1", "edge-1-w0", "edge-1-w1", "edge-1-w2", "edge-10-w0", "other-w1"):
        Spool(root / name, max_bytes=10**6)
    assert record_start(root, "edge-1", 2) == ["edge-1", "edge-1-w2"]
    state_path(root, "edge-1").write_bytes(b"{not json")  # damaged: the directories again
    assert known_ids(root, "edge-1") == ["edge-1", "edge-1-w0", "edge-1-w1", "edge-1-w2"]
    state_path(root, "edge-1").write_bytes(b'{"version": 1, "ids": "edge-1-w0"}')
    assert retired_ids(root, "edge-1", 2) == ["edge-1", "edge-1-w2"]


CONFIG = """\
version: 1
gateway: {id: edge-1, workers: 2}
devices:
  - {name: bus, protocol: mqtt, host: h, port: 1, client_id: edge-bus,
     subscriptions: [{topic: 'x/+', signal: '{1}'}, {topic: 'y/#', signal: '{1}'}]}
  - {name: grouped, protocol: mqtt, host: h, port: 1, share_group: g1,
     subscriptions: [{topic: 'z/+', signal: '{1}'}]}
  - {name: volatile, protocol: mqtt, host: h, port: 1, session_expiry_s: 0,
     subscriptions: [{topic: 'v/+', signal: '{1}'}]}
  - {name: unused, protocol: mqtt, host: h, port: 1, enabled: false,
     subscriptions: [{topic: 'o/+', signal: '{1}'}]}
  - {name: plc, protocol: modbus, host: h, port: 502, groups: [{interval_ms: 100,
     tags: [{signal: p.l, table: holding, address: 0, type: uint16}]}]}
"""


def test_retired_sessions_carry_the_client_ids_and_filters_they_used() -> None:
    config = load_text(CONFIG, source="gw.yaml", env={})
    worker = retired_sessions(config, "edge-1-w2")
    assert [(s.device.name, s.client_id, s.filters) for s in worker] == [
        ("bus", "edge-bus-w2", ("$share/mes-edge-1.bus/x/+", "$share/mes-edge-1.bus/y/#")),
        ("grouped", "mes-gateway-edge-1-grouped-w2", ("$share/g1/z/+",)),
    ]  # no session for session_expiry_s 0, none for a disabled device, none for Modbus
    assert all(s.device.share_group is None for s in worker)  # the drainer subscribes nothing
    single = retired_sessions(config, "edge-1")
    assert [(s.device.name, s.client_id, s.filters) for s in single] == [
        ("bus", "edge-bus", ("x/+", "y/#")),
        ("grouped", "mes-gateway-edge-1-grouped", ("z/+",)),
    ]
    assert retired_sessions(config, "edge-10-w1") == []  # not one of this gateway's ids


# --- processes ----------------------------------------------------------------------------------


def connected(gateway: GatewayProcess, device: str) -> bool:
    found = gateway.health()
    if not found:
        return False
    healths = [w["health"] for w in found["workers"]] if "workers" in found else [found]
    return all(h is not None and h["devices"][device]["state"] == "connected" for h in healths)


def drains(gateway: GatewayProcess) -> dict[str, Any]:
    """The retired sessions worker 0 (or the single process) drains, by client id (empty while
    it does not answer)."""
    found = gateway.health() or {}
    if "workers" in found:
        found = found["workers"][0]["health"] or {}
    result: dict[str, Any] = found.get("retired_sessions", {})
    return result


def drained(gateway: GatewayProcess) -> bool:
    sessions = drains(gateway)
    return bool(sessions) and all(s["state"] == "done" for s in sessions.values())


def received(gateway: GatewayProcess) -> float:
    return sum(v for _, v in metric_samples(gateway.metrics(), "gateway_points_received_total"))


def session_present(broker: Broker, client_id: str) -> bool:
    """Whether the broker holds a session for `client_id` (connecting with session expiry 0
    deletes it again when it is there)."""
    flags: dict[str, bool] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_connect = lambda _c, _u, f, _rc, _p: flags.update(present=f.session_present)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    client.connect(broker.host, broker.port, clean_start=False, properties=props)
    deadline = time.monotonic() + 10
    while "present" not in flags and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    assert "present" in flags, "no CONNACK"
    return flags["present"]


async def rows_of(db: TestDb, machine: str) -> list[tuple[Any, ...]]:
    return await fetch(
        db,
        "SELECT s.key, r.ts FROM reading r JOIN signal s ON s.id = r.signal_id WHERE s.key LIKE %s",
        f"{machine}.%",
    )


async def _count_at_least(db: TestDb, n: int, machine: str) -> bool:
    return await count_readings(db, f"{machine}.%") >= n


class Run:
    """`mes gateway` on one configuration file whose worker count the test changes."""

    def __init__(self, db: TestDb, broker: Broker, tmp_path: Path, name: str) -> None:
        self.client_id = f"gw-{name}-{db.name}"
        device = mqtt_device(broker, self.client_id, share_group=f"{name}-{db.name}")
        self.config = base_config([device], batch={"max_rows": 500, "max_delay_ms": 100})
        self.path = tmp_path / "gw.yaml"
        self.env = process_env(db, tmp_path)
        self.log = tmp_path / "gateway.log"
        self.state = state_path(tmp_path / "spool", "edge-test")

    async def start(self, workers: int | None) -> GatewayProcess:
        if workers is None:
            self.config["gateway"].pop("workers", None)
        else:
            self.config["gateway"]["workers"] = workers
        write_config(self.path, self.config)
        gateway = GatewayProcess(self.path, self.env, self.log)
        await asyncio.to_thread(gateway.start)
        await eventually(lambda: connected(gateway, "line2"), what="subscribed")
        return gateway

    def ids(self) -> list[str]:
        ids: list[str] = orjson.loads(self.state.read_bytes())["ids"]
        return ids


async def stop_mid_stream(gateway: GatewayProcess, load: BatchLoad, db: TestDb) -> None:
    """Let data flow, then stop the gateway while the load keeps publishing."""
    load.start()
    await eventually(lambda: _count_at_least(db, 500, load.machine), what="data flowing")
    assert await asyncio.to_thread(gateway.stop) == 0
    assert load.published < load.messages  # the broker queues the rest for the sessions


@pytest.mark.slow
async def test_fewer_workers_drain_the_retired_session_into_reading_exactly_once(
    db: TestDb, own_broker: Broker, tmp_path: Path
) -> None:
    run = Run(db, own_broker, tmp_path, "retire")
    load = BatchLoad(own_broker.host, own_broker.port, machine="RET-1", messages=2500, values=10,
                     rate=150, client_id=f"load-retire-{db.name}")  # fmt: skip
    later = BatchLoad(own_broker.host, own_broker.port, machine="RET-2", messages=300, values=10,
                      rate=300, client_id=f"load-retire2-{db.name}")  # fmt: skip
    gateway = await run.start(3)
    try:
        assert run.ids() == ["edge-test-w0", "edge-test-w1", "edge-test-w2"]
        await stop_mid_stream(gateway, load, db)
        gateway = await run.start(2)
        await asyncio.to_thread(load.join, 120)
        total = load.messages * load.values
        await eventually(lambda: drained(gateway), what="the retired session drained", timeout=120)
        [(client_id, status)] = drains(gateway).items()
        assert client_id == f"{run.client_id}-w2"
        assert status["retired"] == "edge-test-w2" and status["session_found"]
        assert status["messages"] > 0  # it had queued its share while the gateway was stopped
        await eventually(lambda: _count_at_least(db, total, "RET-1"), what="every reading")
        rows = await rows_of(db, "RET-1")
        assert len(rows) == total and set(rows) == load.expected()  # each exactly once
        assert run.ids() == ["edge-test-w0", "edge-test-w1"]  # the retired id is forgotten
        # gone at the broker: nothing of a later load goes to it, the two workers receive it all
        before = received(gateway)
        later.start()
        await asyncio.to_thread(later.join, 120)
        later_total = later.messages * later.values
        await eventually(lambda: _count_at_least(db, later_total, "RET-2"), what="later load")
        assert received(gateway) - before == later_total
        assert set(await rows_of(db, "RET-2")) == later.expected()
        assert await asyncio.to_thread(gateway.stop) == 0
        assert not session_present(own_broker, f"{run.client_id}-w2")
        # the same count again: nothing retired, nothing drained
        gateway = await run.start(2)
        assert drains(gateway) == {}
        assert run.ids() == ["edge-test-w0", "edge-test-w1"]
        samples = metric_samples(gateway.metrics(), "gateway_mqtt_retired_sessions")
        assert [v for _, v in samples] == [0.0, 0.0]  # per worker
    finally:
        load.close()
        later.close()
        gateway.stop()


@pytest.mark.slow
async def test_one_process_and_back_drain_the_sessions_each_side_leaves(
    db: TestDb, own_broker: Broker, tmp_path: Path
) -> None:
    run = Run(db, own_broker, tmp_path, "single")
    first = BatchLoad(own_broker.host, own_broker.port, machine="ONE-1", messages=1500, values=10,
                      rate=150, client_id=f"load-one1-{db.name}")  # fmt: skip
    second = BatchLoad(own_broker.host, own_broker.port, machine="ONE-2", messages=1500, values=10,
                       rate=150, client_id=f"load-one2-{db.name}")  # fmt: skip
    gateway = await run.start(2)
    try:
        # two workers -> one process: both workers' sessions are retired and drained
        await stop_mid_stream(gateway, first, db)
        gateway = await run.start(None)
        await asyncio.to_thread(first.join, 120)
        await eventually(lambda: drained(gateway), what="the workers' sessions drained")
        sessions = drains(gateway)
        assert sorted(sessions) == [f"{run.client_id}-w0", f"{run.client_id}-w1"]
        assert all(s["session_found"] and s["messages"] > 0 for s in sessions.values())
        total = first.messages * first.values
        await eventually(lambda: _count_at_least(db, total, "ONE-1"), what="every reading")
        rows = await rows_of(db, "ONE-1")
        assert len(rows) == total and set(rows) == first.expected()
        assert run.ids() == ["edge-test"]
        # one process -> two workers: the single process's plain subscription is drained
        await stop_mid_stream(gateway, second, db)
        gateway = await run.start(2)
        await asyncio.to_thread(second.join, 120)
        await eventually(lambda: drained(gateway), what="the single session drained")
        [(client_id, status)] = drains(gateway).items()
        assert client_id == run.client_id and status["messages"] > 0
        total = second.messages * second.values
        await eventually(lambda: _count_at_least(db, total, "ONE-2"), what="every reading")
        rows = await rows_of(db, "ONE-2")
        assert len(rows) == total and set(rows) == second.expected()
        assert run.ids() == ["edge-test-w0", "edge-test-w1"]
        assert await asyncio.to_thread(gateway.stop) == 0
        assert not session_present(own_broker, run.client_id)
    finally:
        first.close()
        second.close()
        gateway.stop()


@pytest.mark.slow
async def test_a_drain_killed_midway_resumes_at_the_next_start(
    db: TestDb, own_broker: Broker, tmp_path: Path
) -> None:
    run = Run(db, own_broker, tmp_path, "rekill")
    load = BatchLoad(own_broker.host, own_broker.port, machine="KIL-1", messages=2000, values=10,
                     rate=150, client_id=f"load-rekill-{db.name}")  # fmt: skip
    gateway = await run.start(3)
    try:
        await stop_mid_stream(gateway, load, db)
        gateway = await run.start(2)
        retired = f"{run.client_id}-w2"
        await eventually(lambda: _midway(gateway, retired), what="the drain under way")
        found = gateway.health()
        assert found is not None
        victim = found["workers"][0]["pid"]
        os.kill(victim, signal.SIGKILL)  # mid-drain: nothing flushed, the session not deleted
        await eventually(lambda: _restarted(gateway, victim), what="worker 0 back", timeout=60)
        assert "edge-test-w2" in run.ids()  # still to drain
        await asyncio.to_thread(load.join, 120)
        await eventually(lambda: drained(gateway), what="the drain finished", timeout=120)
        status = drains(gateway)[retired]
        assert status["session_found"]  # the killed drain had left the session: resumed
        total = load.messages * load.values
        await eventually(lambda: _count_at_least(db, total, "KIL-1"), what="every reading")
        rows = await rows_of(db, "KIL-1")
        assert len(rows) == total and set(rows) == load.expected()
        assert run.ids() == ["edge-test-w0", "edge-test-w1"]
        assert await asyncio.to_thread(gateway.stop) == 0
        assert not session_present(own_broker, retired)
    finally:
        load.close()
        gateway.stop()


def _midway(gateway: GatewayProcess, client_id: str) -> bool:
    status = drains(gateway).get(client_id)
    return status is not None and status["messages"] > 0 and status["state"] != "done"


def _restarted(gateway: GatewayProcess, old_pid: int) -> bool:
    found = gateway.health()
    if not found:
        return False
    worker = found["workers"][0]
    return bool(worker["up"] and worker["pid"] != old_pid and worker["health"])


async def test_a_retired_session_the_broker_no_longer_has_is_forgotten_at_once(
    db: TestDb, own_broker: Broker, settings: GatewaySettings, tmp_path: Path
) -> None:
    device = mqtt_device(own_broker, f"gw-gone-{db.name}", share_group=f"gone-{db.name}")
    path = write_config(tmp_path / "gw.yaml", base_config([device]))
    config = load_config(path)
    sessions = retired_sessions(config, "edge-test-w7")  # expired, or deleted by an earlier drain
    forgotten: list[str] = []
    gateway = Gateway(
        config, settings, config_path=path, retired=sessions, forget_retired=forgotten.append
    )
    await gateway.start()
    try:
        await eventually(lambda: forgotten == ["edge-test-w7"], what="the id forgotten")
        [status] = gateway.health()["retired_sessions"].values()
        assert status["state"] == "done" and not status["session_found"]
        assert status["messages"] == 0
    finally:
        await gateway.stop(drain_timeout=20)
    assert not session_present(own_broker, f"gw-gone-{db.name}-w7")  # the empty one made is deleted
