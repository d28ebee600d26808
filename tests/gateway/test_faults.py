"""Faults with exact counts: the database down for 30 s under load, and a full spool."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.load import BatchLoad
from tests.gateway.test_mqtt import mqtt_device
from tests.support import databases
from tests.support.databases import TestDb
from tests.support.gateway import (
    base_config,
    count_readings,
    eventually,
    fetch,
    gateway_settings,
    running_gateway,
)
from tests.support.mosquitto import Broker
from tests.support.postgres import PgCluster, create_cluster

pytestmark = pytest.mark.slow


@pytest.fixture
def own_cluster() -> Iterator[tuple[PgCluster, TestDb]]:
    """A private PostgreSQL this test may stop and start, with a migrated database."""
    cluster = create_cluster()
    cluster.start()
    name = databases.migrated_template(cluster, name="gw_faults")
    try:
        yield cluster, TestDb(cluster=cluster, name=name)
    finally:
        cluster.stop(mode="immediate")
        shutil.rmtree(cluster.datadir.parent, ignore_errors=True)


async def stored_keys(db: TestDb) -> set[tuple[str, Any]]:
    rows = await fetch(db, "SELECT s.key, r.ts FROM reading r JOIN signal s ON s.id = r.signal_id")
    return {(k, ts) for k, ts in rows}


async def test_database_down_for_30s_under_load_loses_nothing(
    own_cluster: tuple[PgCluster, TestDb], broker: Broker, tmp_path: Path
) -> None:
    cluster, db = own_cluster
    settings = gateway_settings(db, tmp_path / "spool", gateway_write_timeout=5)
    device = mqtt_device(broker, "gw-dbdown")
    config = base_config([device], batch={"max_rows": 2000, "max_delay_ms": 100})
    load = BatchLoad(broker.host, broker.port, messages=2400, values=20, rate=40,
                     client_id="load-dbdown")  # fmt: skip  # 60 s at 800 readings/s
    async with running_gateway(config, settings, tmp_path / "gw.yaml") as gw:
        await eventually(lambda: gw.links.links["line2"].state == "connected", what="subscribed")
        load.start()
        await eventually(lambda: _count_at_least(db, 2000), what="data flowing")
        await asyncio.to_thread(cluster.stop, mode="fast")
        down_at = time.monotonic()
        await eventually(lambda: gw.forwarder.stats.rows_spooled > 0, what="spooling")
        await asyncio.sleep(max(0.0, 30 - (time.monotonic() - down_at)))  # the outage itself
        spooled_during_outage = gw.forwarder.stats.rows_spooled
        await asyncio.to_thread(cluster.start)
        await asyncio.to_thread(load.join, 180)
        total = load.messages * load.values
        await eventually(lambda: _count_at_least(db, total), what="every reading", timeout=180)
        await eventually(lambda: len(gw.spool) == 0, what="spool drained")
        stats = gw.forwarder.stats
        assert load.published == load.messages
        assert await count_readings(db) == total
        assert await stored_keys(db) == load.expected()  # every reading, none twice
        assert spooled_during_outage >= 20 * 40 * 25  # ~25 s of the load went to disk
        assert stats.rows_replayed == stats.rows_spooled
        assert stats.rows_dropped == stats.rows_lost == stats.rows_rejected == 0
        assert stats.rows_written == total + _heartbeats(gw)
    load.close()


def _heartbeats(gw: Any) -> int:
    return 0  # heartbeat_s is an hour in these tests: no heartbeat rows


async def _count_at_least(db: TestDb, n: int) -> bool:
    try:
        return await count_readings(db) >= n
    except Exception:  # noqa: BLE001 - the database may be down while polling
        return False


async def test_full_spool_drops_the_oldest_and_reports_it(
    own_cluster: tuple[PgCluster, TestDb],
    broker: Broker,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster, db = own_cluster
    await asyncio.to_thread(cluster.stop, mode="fast")  # the database is away from the start
    settings = gateway_settings(db, tmp_path / "spool", gateway_write_timeout=5)
    device = mqtt_device(broker, "gw-spoolfull")
    config = base_config(
        [device],
        batch={"max_rows": 50, "max_delay_ms": 20},
        spool={"max_bytes": 16384},
    )
    load = BatchLoad(broker.host, broker.port, messages=200, values=50, rate=200,
                     client_id="load-spoolfull", machine="PRESS-201")  # fmt: skip
    caplog.set_level(logging.WARNING, logger="gateway.forwarder")
    async with running_gateway(config, settings, tmp_path / "gw.yaml") as gw:
        await eventually(lambda: gw.links.links["line2"].state == "connected", what="subscribed")
        load.start()
        await asyncio.to_thread(load.join, 120)
        await eventually(
            lambda: gw.forwarder.stats.rows_spooled + gw.pipeline.rbe.suppressed == 10_000,
            what="every reading spooled",
        )
        stats = gw.forwarder.stats
        health = gw.health()
        # the policy: oldest batches dropped, counted, logged; the spool stays within its bound
        assert stats.rows_dropped > 0 and stats.batches_dropped > 0
        assert gw.spool.bytes <= 16384
        assert stats.rows_spooled - stats.rows_dropped == gw.spool.rows
        assert health["spool"]["dropped_rows"] == stats.rows_dropped
        assert any("spool full" in r.message for r in caplog.records)
        kept = gw.spool.rows
        await asyncio.to_thread(cluster.start)
        await eventually(lambda: len(gw.spool) == 0, what="replay", timeout=120)
        stored = await stored_keys(db)
        assert len(stored) == kept
        # what survived is the newest data: the stored readings are the tail of the load
        newest = sorted(load.expected(), key=lambda k: k[1])[-kept:]
        assert stored == set(newest)
    load.close()
