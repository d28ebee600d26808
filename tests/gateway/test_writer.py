"""The database writer on real PostgreSQL: idempotent COPY (replays skip stored rows and count
them), telemetry_dirty marks in the same transaction, text values, and the live-path NOTIFY."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import psycopg

from gateway.records import Record, SignalSpec
from gateway.sinks.signals import SignalRegistry
from gateway.sinks.writer import ReadingWriter
from tests.support.databases import TestDb
from tests.support.gateway import fetch

T = datetime(2026, 3, 1, 10, 59, 59, tzinfo=UTC)


def batch(n: int, start: int = 0) -> list[Record]:
    """n readings of two signals, one per millisecond, crossing an hour boundary."""
    return [
        Record(f"M.s{i % 2}", T + timedelta(milliseconds=500 * i), T, float(i), 0)
        for i in range(start, start + n)
    ]


async def test_replays_are_deduplicated_and_counted(db: TestDb) -> None:
    registry = SignalRegistry()
    registry.declare([SignalSpec(key="M.s0", equipment_code="M", name="s0", unit="bar",
                                 protocol="mqtt")])  # fmt: skip
    writer = ReadingWriter(gateway_id="edge-w", registry=registry, channel=None)
    async with await psycopg.AsyncConnection.connect(db.conninfo) as conn:
        first = await writer.write(conn, batch(10), notify=False)
        again = await writer.write(conn, batch(10), notify=False)  # the same batch, replayed
        overlap = await writer.write(conn, batch(10, start=5), notify=False)  # half old, half new
        text = await writer.write(
            conn, [Record("M.recipe", T, T, "R-7", 0), Record("M.recipe", T, T, "R-7", 0)],
            notify=False,
        )  # fmt: skip
    assert (first.inserted, first.deduplicated) == (10, 0)
    assert (again.inserted, again.deduplicated) == (0, 10)
    assert (overlap.inserted, overlap.deduplicated) == (5, 5)
    assert text.text_inserted == 1
    rows = await fetch(db, "SELECT count(*), count(DISTINCT (signal_id, ts)) FROM reading")
    assert rows == [(15, 15)]
    marks = await fetch(db, "SELECT bucket, writer FROM telemetry_dirty ORDER BY bucket")
    assert marks == [
        (datetime(2026, 3, 1, 10, tzinfo=UTC), "edge-w"),
        (datetime(2026, 3, 1, 11, tzinfo=UTC), "edge-w"),
    ]
    signals = await fetch(db, "SELECT key, equipment_code, unit, protocol FROM signal ORDER BY key")
    assert signals == [
        ("M.recipe", None, None, None),  # undeclared keys are registered bare
        ("M.s0", "M", "bar", "mqtt"),
        ("M.s1", None, None, None),
    ]


async def test_live_notify_is_sent_with_the_commit(db: TestDb) -> None:
    registry = SignalRegistry()
    writer = ReadingWriter(gateway_id="edge-w", registry=registry, channel="mes_live_readings")
    async with (
        await psycopg.AsyncConnection.connect(db.conninfo, autocommit=True) as listener,
        await psycopg.AsyncConnection.connect(db.conninfo) as conn,
    ):
        await listener.execute("LISTEN mes_live_readings")
        records = [Record(f"L.s{i}", T + timedelta(seconds=i), T, float(i), 0) for i in range(600)]
        records.append(Record("L.s0", T + timedelta(hours=1), T, -1.0, -32768))  # newer for s0
        await writer.write(conn, records, notify=True)
        received: list[list[object]] = []
        async for note in listener.notifies(timeout=5):  # every notification of the commit
            assert note.channel == "mes_live_readings" and len(note.payload) < 8000
            body = orjson.loads(note.payload)
            assert body["v"] == 1 and body["gw"] == "edge-w"
            received.extend(body["r"])
    ids = {key: i for key, i in registry.ids.items()}
    latest = {row[0]: row[1:] for row in received}
    assert len(received) == 600  # one entry per signal: the latest of the batch
    t_us = int((T + timedelta(hours=1)).timestamp() * 1_000_000)
    assert latest[ids["L.s0"]] == [t_us, -1.0, -32768]
    assert latest[ids["L.s7"]][1:] == [7.0, 0]
