"""`mes gateway` as a process: kill -9 mid-stream loses nothing acknowledged; SIGHUP reloads the
configuration without losing buffered data (and refuses an invalid file); SIGTERM drains."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

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
    metric_value,
    process_env,
    write_config,
)
from tests.support.mosquitto import Broker

pytestmark = pytest.mark.slow


async def stored(db: TestDb) -> set[tuple[str, object]]:
    rows = await fetch(db, "SELECT s.key, r.ts FROM reading r JOIN signal s ON s.id = r.signal_id")
    return {(k, ts) for k, ts in rows}


async def test_sigkill_mid_stream_loses_nothing_acknowledged(
    db: TestDb, broker: Broker, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "gw.yaml",
        base_config([mqtt_device(broker, f"gw-kill-{db.name}")], batch={"max_rows": 500,
                    "max_delay_ms": 200}),
    )  # fmt: skip
    gateway = GatewayProcess(config, process_env(db, tmp_path), tmp_path / "gateway.log")
    load = BatchLoad(broker.host, broker.port, messages=1500, values=10, rate=150,
                     client_id=f"load-kill-{db.name}")  # fmt: skip
    try:
        await asyncio.to_thread(gateway.start)
        await eventually(lambda: _connected(gateway), what="gateway subscribed")
        load.start()
        await eventually(lambda: _count_at_least(db, 1000), what="data flowing")
        gateway.kill()  # no flush, no goodbye: whatever was in memory is gone
        killed_at_count = await count_readings(db)
        await asyncio.sleep(1)
        await asyncio.to_thread(gateway.start)
        await asyncio.to_thread(load.join, 120)
        total = load.messages * load.values
        await eventually(lambda: _count_at_least(db, total), what="every reading", timeout=120)
        assert killed_at_count < total  # the kill really happened mid-stream
        assert load.published == load.messages
        assert await count_readings(db) == total
        assert await stored(db) == load.expected()
        # messages the broker re-delivered after the kill and that were already committed
        # were recognised and skipped, not stored twice
        text = gateway.metrics()
        assert (
            metric_value(text, "gateway_points_written_total")
            + metric_value(text, "gateway_points_deduplicated_total")
            >= total - killed_at_count
        )
    finally:
        load.close()
        gateway.stop()


def _connected(gateway: GatewayProcess) -> bool:
    health = gateway.health()
    return bool(health) and health["devices"]["line2"]["state"] == "connected"  # type: ignore[index]


async def _count_at_least(db: TestDb, n: int) -> bool:
    return await count_readings(db) >= n


async def test_sighup_reload_keeps_buffered_data(
    db: TestDb, broker: Broker, tmp_path: Path
) -> None:
    plc = ModbusTestServer()
    await plc.start()
    await plc.set("holding", 0, [7])

    def modbus(name: str) -> dict[str, object]:
        return {
            "name": name,
            "protocol": "modbus",
            "host": "127.0.0.1",
            "port": plc.port,
            "groups": [
                {"interval_ms": 100, "tags": [
                    {"signal": f"{name}.level", "table": "holding", "address": 0,
                     "type": "uint16"}
                ]}
            ],
        }  # fmt: skip

    # a batch waits 8 s in memory: a reload that rebuilt the pipeline would lose it
    batch = {"max_rows": 100000, "max_delay_ms": 8000}
    path = write_config(tmp_path / "gw.yaml", base_config([modbus("A")], batch=batch))
    gateway = GatewayProcess(path, process_env(db, tmp_path), tmp_path / "gateway.log")
    try:
        await asyncio.to_thread(gateway.start)
        await eventually(
            lambda: gateway.healthy()["points"]["received"] >= 1,
            what="a reading in the batch",
        )
        assert await count_readings(db) == 0  # still buffered
        path.write_text(path.read_text().replace("protocol: modbus", "protocol: profibus"))
        assert gateway.process is not None
        gateway.process.send_signal(signal.SIGHUP)
        await eventually(
            lambda: "reload refused" in (tmp_path / "gateway.log").read_text(), what="refusal"
        )
        assert gateway.healthy()["reloads"] == 0  # an invalid file is refused, nothing stops
        write_config(path, base_config([modbus("A"), modbus("B")], batch=batch))
        gateway.process.send_signal(signal.SIGHUP)
        await eventually(lambda: gateway.healthy()["reloads"] == 1, what="reload")
        reloaded_at = datetime.now(UTC)
        await eventually(lambda: _count_at_least(db, 2), what="the batch", timeout=30)
        rows = await fetch(
            db,
            "SELECT s.key, r.ts, r.value FROM reading r JOIN signal s ON s.id = r.signal_id",
        )
        a_rows = [(ts, v) for k, ts, v in rows if k == "A.level"]
        assert a_rows and a_rows[0][0] < reloaded_at and a_rows[0][1] == 7.0  # read before
        assert {k for k, _, _ in rows} == {"A.level", "B.level"}
        devices = gateway.healthy()["devices"]
        assert isinstance(devices, dict) and set(devices) == {"A", "B"}
        started = time.monotonic()
        assert gateway.stop() == 0  # SIGTERM: drains and exits cleanly
        assert time.monotonic() - started < 60
        log = (tmp_path / "gateway.log").read_text()
        assert "profibus" in log
    finally:
        gateway.stop()
        await plc.stop()
