"""`mes gateway` stopped cleanly (SIGTERM, SIGINT) while MQTT data flows: the acknowledgements of
everything committed reach the broker before the DISCONNECT, so nothing committed is delivered
again at the next start, and the MQTT client is released before the event loop closes (no
"Event loop is closed" from paho's finaliser, nothing ignored on stderr)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.gateway.load import BatchLoad
from tests.gateway.test_mqtt import mqtt_device
from tests.support.databases import TestDb
from tests.support.gateway import (
    GatewayProcess,
    base_config,
    count_readings,
    eventually,
    process_env,
    write_config,
)
from tests.support.mosquitto import Broker

pytestmark = pytest.mark.slow

NOISE = ("Event loop is closed", "Exception ignored", "Traceback")


def connected(gateway: GatewayProcess) -> bool:
    found = gateway.health()
    return found is not None and found["devices"]["line2"]["state"] == "connected"


def stop_with(gateway: GatewayProcess, sig: signal.Signals) -> int:
    """Send `sig` and wait for the exit status."""
    assert gateway.process is not None
    gateway.process.send_signal(sig)
    return gateway.process.wait(timeout=90)


def noise(log: Path) -> list[str]:
    """Lines of a gateway's output that tell of something left to the interpreter's exit."""
    return [line for line in log.read_text().splitlines() if any(n in line for n in NOISE)]


async def test_a_clean_stop_acknowledges_what_it_committed_and_releases_the_client(
    db: TestDb, own_broker: Broker, tmp_path: Path
) -> None:
    device = mqtt_device(own_broker, f"gw-stop-{db.name}")
    path = write_config(
        tmp_path / "gw.yaml", base_config([device], batch={"max_rows": 500, "max_delay_ms": 100})
    )
    first = GatewayProcess(path, process_env(db, tmp_path), tmp_path / "first.log")
    second = GatewayProcess(path, process_env(db, tmp_path), tmp_path / "second.log")
    load = BatchLoad(own_broker.host, own_broker.port, messages=1200, values=10, rate=200,
                     client_id=f"load-stop-{db.name}")  # fmt: skip
    total = load.messages * load.values
    try:
        await asyncio.to_thread(first.start)
        await eventually(lambda: connected(first), what="the first gateway subscribed")
        load.start()
        await eventually(lambda: _count_at_least(db, 2000), what="data flowing", timeout=60)
        assert await asyncio.to_thread(stop_with, first, signal.SIGTERM) == 0
        committed = await count_readings(db)
        assert committed < total  # stopped mid-stream, with messages still coming
        assert noise(tmp_path / "first.log") == []

        await asyncio.to_thread(second.start)
        await asyncio.to_thread(load.join, 120)
        assert load.published == load.messages
        await eventually(lambda: _count_at_least(db, total), what="every reading", timeout=120)
        points = second.healthy()["points"]
        # what the first run committed (or spooled, replayed now) was acknowledged: the broker
        # delivers the rest, once, and nothing comes again to be recognised as a duplicate
        assert points["deduplicated"] == 0
        assert points["received"] == total - committed - points["replayed"]
        assert points["written"] == total - committed - points["replayed"]
        assert await count_readings(db) == total
        assert await asyncio.to_thread(stop_with, second, signal.SIGINT) == 0  # idle, Ctrl-C
        assert noise(tmp_path / "second.log") == []
    finally:
        load.close()
        first.stop()
        second.stop()


async def _count_at_least(db: TestDb, n: int) -> bool:
    return await count_readings(db) >= n
