"""`gateway.workers`: several gateway processes side by side. Configuration checks; the device
partition; orphaned spools adopted; and, with `mes gateway` as processes on a real Mosquitto and
PostgreSQL: a shared subscription splits the messages between workers with nothing lost or
stored twice, killing a worker loses nothing acknowledged, polled devices run in one worker each,
and workers stop when their supervisor is killed."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import psutil
import pytest

from gateway.config import ConfigFileError, load_text
from gateway.config.models import MqttDevice
from gateway.sinks.spool import Spool
from gateway.workers import Slot, adopt_orphans, owner, partition
from tests.gateway.load import BatchLoad
from tests.gateway.servers import ModbusTestServer
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
from tests.support.net import LOOPBACK

HEAD = """\
version: 1
gateway:
  id: edge-1
  workers: {workers}
devices:
  - name: plc
    protocol: modbus
    host: 10.0.0.5
    port: 502
{extra}    groups:
      - interval_ms: 1000
        tags:
          - {{signal: plc.level, table: holding, address: 0, type: uint16}}
"""


def config_text(workers: object = 2, extra: str = "") -> str:
    return HEAD.format(workers=workers, extra=extra)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigFileError) as err:
        load_text(text, source="gw.yaml", env={})
    return err.value.problems


# --- configuration ------------------------------------------------------------------------------


def test_workers_setting_is_validated() -> None:
    assert load_text(config_text(4), source="gw.yaml", env={}).gateway.workers == 4
    assert load_text(config_text(1), source="gw.yaml", env={}).gateway.workers == 1
    [zero] = problems(config_text(0))
    assert zero.startswith("config error: gw.yaml:4: gateway.workers:")
    assert "greater than or equal to 1" in zero
    [many] = problems(config_text(33))
    assert "gateway.workers" in many and "less than or equal to 32" in many
    [pinned] = problems(config_text(2, "    worker: 2\n"))
    assert pinned.startswith("config error: gw.yaml:10: devices[0].worker: 2 is not a worker")
    assert "0 to 1" in pinned
    long_id = config_text(10).replace("id: edge-1", "id: " + "g" * 62)
    [too_long] = problems(long_id)
    assert too_long.startswith("config error: gw.yaml:3: gateway.id: too long for 10 workers")


def test_share_group_is_validated() -> None:
    text = config_text(1).replace(
        "devices:\n",
        "devices:\n  - {name: m, protocol: mqtt, host: h, port: 1, share_group: 'a/b',\n"
        "     subscriptions: [{topic: 'x/+', signal: '{1}'}]}\n",
    )
    [bad] = problems(text)
    assert "devices[0].share_group" in bad and "should match pattern" in bad


def test_partition_splits_polled_devices_and_shares_mqtt() -> None:
    devices = "".join(
        f"  - {{name: plc{n}, protocol: modbus, host: h, port: 502, groups: [{{interval_ms: 100,"
        f" tags: [{{signal: p{n}.l, table: holding, address: 0, type: uint16}}]}}]}}\n"
        for n in range(12)
    )
    text = (
        "version: 1\ngateway: {id: edge-1, workers: 3}\ndevices:\n" + devices
        + "  - {name: pinned, protocol: modbus, host: h, port: 502, worker: 2, groups: [{"
        "interval_ms: 100, tags: [{signal: pin.l, table: holding, address: 0, type: uint16}]}]}\n"
        "  - {name: bus, protocol: mqtt, host: h, port: 1, client_id: edge-bus,\n"
        "     subscriptions: [{topic: 'x/+', signal: '{1}'}]}\n"
    )  # fmt: skip
    config = load_text(text, source="gw.yaml", env={})
    parts = [partition(config, Slot(n, 3)) for n in range(3)]
    assert [p.gateway.id for p in parts] == ["edge-1-w0", "edge-1-w1", "edge-1-w2"]
    polled = [[d.name for d in p.devices if d.protocol == "modbus"] for p in parts]
    assert sorted(name for names in polled for name in names) == sorted(
        [f"plc{n}" for n in range(12)] + ["pinned"]
    )  # every polled device in exactly one worker
    assert all(names for names in polled)  # the hash spreads 12 devices over the 3 workers
    assert "pinned" in polled[2]
    for n, p in enumerate(parts):  # the MQTT device in every worker, on one share group
        [bus] = [d for d in p.devices if isinstance(d, MqttDevice)]
        assert bus.client_id == f"edge-bus-w{n}"
        assert bus.share_group == "mes-edge-1.bus"
    assert owner("plc3", None, 3) == owner("plc3", None, 3)
    assert config.gateway.id == "edge-1"  # the loaded configuration is left as it was


def test_orphaned_spools_are_adopted(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    for name, batches in (("edge-1", 2), ("edge-1-w0", 1), ("edge-1-w1", 1), ("edge-1-w2", 3),
                          ("other-w5", 1)):  # fmt: skip
        spool = Spool(root / name, max_bytes=10**6)
        for n in range(batches):
            spool.append(f"{name}:{n}".encode(), rows=n + 1)
    # two workers now: the single-process spool and worker 2's go to worker 0
    assert adopt_orphans(root, "edge-1", 2, max_bytes=10**6) == 5
    w0 = Spool(root / "edge-1-w0", max_bytes=10**6)
    contents = []
    while (entry := w0.oldest()) is not None:
        contents.append((w0.read(entry).decode(), entry.rows))
        w0.remove(entry)
    assert contents == [("edge-1-w0:0", 1), ("edge-1:0", 1), ("edge-1:1", 2), ("edge-1-w2:0", 1),
                        ("edge-1-w2:1", 2), ("edge-1-w2:2", 3)]  # fmt: skip
    assert len(Spool(root / "edge-1-w1", max_bytes=10**6)) == 1  # a worker that still runs
    assert len(Spool(root / "other-w5", max_bytes=10**6)) == 1  # another gateway's
    # back to one process: every worker's batches go to the single spool
    assert adopt_orphans(root, "edge-1", 1, max_bytes=10**6) == 1
    assert len(Spool(root / "edge-1", max_bytes=10**6)) == 1
    assert adopt_orphans(root, "edge-1", 1, max_bytes=10**6) == 0


# --- processes ----------------------------------------------------------------------------------


def workers_connected(gateway: GatewayProcess, device: str) -> bool:
    found = gateway.health()
    if not found:
        return False
    return all(
        w["health"] is not None and w["health"]["devices"][device]["state"] == "connected"
        for w in found["workers"]
    )


def received_by_worker(gateway: GatewayProcess) -> dict[str, float]:
    samples = metric_samples(gateway.metrics(), "gateway_points_received_total")
    return {labels["worker"]: value for labels, value in samples}


@pytest.mark.slow
async def test_shared_subscription_splits_messages_between_workers(
    db: TestDb, own_broker: Broker, tmp_path: Path
) -> None:
    config = base_config(
        [mqtt_device(own_broker, f"gw-share-{db.name}", share_group=f"share-{db.name}")]
    )
    config["gateway"]["workers"] = 2
    path = write_config(tmp_path / "gw.yaml", config)
    gateway = GatewayProcess(path, process_env(db, tmp_path), tmp_path / "gateway.log")
    load = BatchLoad(own_broker.host, own_broker.port, messages=400, values=10, rate=400,
                     client_id=f"load-share-{db.name}")  # fmt: skip
    try:
        await asyncio.to_thread(gateway.start)
        await eventually(lambda: workers_connected(gateway, "line2"), what="workers subscribed")
        load.start()
        await asyncio.to_thread(load.join, 120)
        total = load.messages * load.values
        await eventually(lambda: _count_at_least(db, total), what="every reading", timeout=120)
        rows = await fetch(
            db, "SELECT s.key, r.ts FROM reading r JOIN signal s ON s.id = r.signal_id"
        )
        assert len(rows) == total and set(rows) == load.expected()
        by_worker = received_by_worker(gateway)
        assert set(by_worker) == {"0", "1"}
        assert all(n > 0 for n in by_worker.values())  # both workers had a share
        assert sum(by_worker.values()) == total  # and each message went to one worker only
        written = metric_samples(gateway.metrics(), "gateway_points_written_total")
        assert sum(v for _, v in written) == total  # nothing written twice (no dedup needed)
        await eventually(lambda: _links(db, 2), what="device links written")
        links = await fetch(db, "SELECT gateway_id, device FROM gateway_device_link")
        assert sorted(links) == [("edge-test-w0", "line2"), ("edge-test-w1", "line2")]
        assert gateway.healthy()["points"]["written"] == total
    finally:
        load.close()
        assert gateway.stop() == 0


@pytest.mark.slow
async def test_killing_a_worker_loses_nothing_acknowledged(
    db: TestDb, own_broker: Broker, tmp_path: Path
) -> None:
    # the module's broker outlives each test: a share group of the test's own, or the
    # persistent sessions of an earlier test's workers would keep taking a share of the messages
    device = mqtt_device(own_broker, f"gw-wkill-{db.name}", share_group=f"wkill-{db.name}")
    config = base_config([device], batch={"max_rows": 500, "max_delay_ms": 200})
    config["gateway"]["workers"] = 2
    path = write_config(tmp_path / "gw.yaml", config)
    gateway = GatewayProcess(path, process_env(db, tmp_path), tmp_path / "gateway.log")
    load = BatchLoad(own_broker.host, own_broker.port, messages=1500, values=10, rate=150,
                     client_id=f"load-wkill-{db.name}")  # fmt: skip
    try:
        await asyncio.to_thread(gateway.start)
        await eventually(lambda: workers_connected(gateway, "line2"), what="workers subscribed")
        load.start()
        await eventually(lambda: _count_at_least(db, 2000), what="data flowing")
        victim = gateway.healthy()["workers"][1]
        os.kill(victim["pid"], signal.SIGKILL)  # no flush: its buffered data is gone
        killed_at_count = await count_readings(db)
        await eventually(
            lambda: _restarted(gateway, victim["pid"]), what="the worker restarted", timeout=60
        )
        await asyncio.to_thread(load.join, 120)
        total = load.messages * load.values
        await eventually(lambda: _count_at_least(db, total), what="every reading", timeout=120)
        assert killed_at_count < total  # the kill really happened mid-stream
        assert load.published == load.messages
        rows = await fetch(
            db, "SELECT s.key, r.ts FROM reading r JOIN signal s ON s.id = r.signal_id"
        )
        assert len(rows) == total and set(rows) == load.expected()
        assert gateway.healthy()["workers"][1]["restarts"] == 1
        restarts = metric_samples(gateway.metrics(), "gateway_worker_restarts_total")
        assert dict((labels["worker"], v) for labels, v in restarts) == {"0": 0.0, "1": 1.0}
    finally:
        load.close()
        assert gateway.stop() == 0


@pytest.mark.slow
async def test_polled_devices_run_in_one_worker_each_and_stop_with_the_supervisor(
    db: TestDb, tmp_path: Path
) -> None:
    plc = ModbusTestServer()
    await plc.start()
    await plc.set("holding", 0, [7])

    def modbus(name: str, worker: int) -> dict[str, object]:
        return {
            "name": name, "protocol": "modbus", "host": LOOPBACK, "port": plc.port,
            "worker": worker,
            "groups": [{"interval_ms": 100, "tags": [
                {"signal": f"{name}.level", "table": "holding", "address": 0, "type": "uint16"}
            ]}],
        }  # fmt: skip

    config = base_config([modbus("A", 0), modbus("B", 1), modbus("C", 1)])
    config["gateway"]["workers"] = 2
    path = write_config(tmp_path / "gw.yaml", config)
    gateway = GatewayProcess(path, process_env(db, tmp_path), tmp_path / "gateway.log")
    try:
        await asyncio.to_thread(gateway.start)
        await eventually(lambda: _count_at_least(db, 3), what="a reading of every device")
        await eventually(lambda: _links(db, 3), what="device links written")
        links = await fetch(db, "SELECT gateway_id, device FROM gateway_device_link")
        assert sorted(links) == [("edge-test-w0", "A"), ("edge-test-w1", "B"),
                                 ("edge-test-w1", "C")]  # fmt: skip
        workers = gateway.healthy()["workers"]
        assert [sorted(w["health"]["devices"]) for w in workers] == [["A"], ["B", "C"]]
        pids = [w["pid"] for w in workers]
        assert gateway.process is not None
        gateway.process.send_signal(signal.SIGKILL)  # the supervisor dies without a word
        gateway.process.wait(timeout=30)
        await eventually(
            lambda: not any(_alive(pid) for pid in pids), what="workers stopped", timeout=60
        )
    finally:
        gateway.stop()
        await plc.stop()


async def _count_at_least(db: TestDb, n: int) -> bool:
    return await count_readings(db) >= n


async def _links(db: TestDb, n: int) -> bool:
    return len(await fetch(db, "SELECT 1 FROM gateway_device_link")) >= n


def _restarted(gateway: GatewayProcess, old_pid: int) -> bool:
    found = gateway.health()
    if not found:
        return False
    worker = found["workers"][1]
    return bool(worker["up"] and worker["pid"] != old_pid and worker["health"]
                and worker["health"]["devices"]["line2"]["state"] == "connected")  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
