"""Writes batches into `reading`: binary COPY inside a savepoint, falling back to a temporary
table and INSERT ... ON CONFLICT DO NOTHING when the batch repeats rows already stored (a replay).
In the same transaction: text values, `telemetry_dirty` marks, and the live-path NOTIFY."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import errors

from gateway.records import Record
from gateway.sinks import live
from gateway.sinks.signals import SignalRegistry

HOUR = timedelta(hours=1)
COPY_READING = "COPY reading (ts, signal_id, value, quality) FROM STDIN (FORMAT BINARY)"
TYPES = ["timestamptz", "int4", "float8", "int2"]
DIRTY = (
    "INSERT INTO telemetry_dirty (bucket, writer) VALUES (%s, %s)"
    " ON CONFLICT (bucket, writer) DO UPDATE SET writer = EXCLUDED.writer"
)
STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS gateway_reading_stage"
    " (ts timestamptz, signal_id integer, value double precision, quality smallint)"
    " ON COMMIT DELETE ROWS"
)
TEXT = (
    "INSERT INTO reading_text (ts, signal_id, value, quality) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (signal_id, ts) DO NOTHING"
)


@dataclass
class WriteResult:
    """What one batch did to the database."""

    inserted: int = 0
    deduplicated: int = 0
    text_inserted: int = 0


def _hour(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class ReadingWriter:
    """Writes batches on a connection given by the caller (the forwarder owns connections)."""

    def __init__(self, *, gateway_id: str, registry: SignalRegistry, channel: str | None) -> None:
        self.gateway_id = gateway_id
        self.registry = registry
        self.channel = channel

    async def write(
        self, conn: psycopg.AsyncConnection, records: list[Record], *, notify: bool
    ) -> WriteResult:
        """Commit `records` (idempotent: rows already stored are skipped and counted)."""
        registry = self.registry
        await registry.resolve(conn, {r.signal for r in records})
        ids = registry.ids
        rows: list[tuple[datetime, int, float | None, int]] = []
        texts: list[tuple[datetime, int, str, int]] = []
        hours: set[datetime] = set()
        lo = hi = None
        latest: dict[int, live.Latest] = {}
        for record in records:
            ts = record.source_ts or record.gateway_ts
            signal_id = ids[record.signal]
            value = record.value
            if lo is None or not (lo <= ts < hi):  # type: ignore[operator]
                lo = _hour(ts)
                hi = lo + HOUR
                hours.add(lo)
            if isinstance(value, str):
                texts.append((ts, signal_id, value, record.quality))
            else:
                rows.append((ts, signal_id, value, record.quality))
            if notify:
                seen = latest.get(signal_id)
                if seen is None or seen[1] <= ts:
                    latest[signal_id] = (signal_id, ts, value, record.quality)
        result = WriteResult()
        async with conn.transaction():
            if rows:
                result.inserted, result.deduplicated = await self._copy(conn, rows)
            if texts:
                async with conn.cursor() as cur:
                    await cur.executemany(TEXT, texts)
                    result.text_inserted = max(cur.rowcount, 0)
            if hours:
                async with conn.cursor() as cur:
                    await cur.executemany(DIRTY, [(h, self.gateway_id) for h in sorted(hours)])
            if notify and self.channel and latest:
                for payload in live.payloads(self.gateway_id, latest.values()):
                    await conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
        return result

    async def _copy(
        self, conn: psycopg.AsyncConnection, rows: list[tuple[datetime, int, float | None, int]]
    ) -> tuple[int, int]:
        try:
            # savepoint: a unique violation undoes only the COPY
            async with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_READING) as copy:
                copy.set_types(TYPES)
                for row in rows:
                    await copy.write_row(row)
            return len(rows), 0
        except errors.UniqueViolation:
            pass
        async with conn.cursor() as cur:
            await cur.execute(STAGE)
            async with cur.copy(
                "COPY gateway_reading_stage (ts, signal_id, value, quality)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(TYPES)
                for row in rows:
                    await copy.write_row(row)
            await cur.execute(
                "INSERT INTO reading (ts, signal_id, value, quality)"
                " SELECT ts, signal_id, value, quality FROM gateway_reading_stage"
                " ON CONFLICT (signal_id, ts) DO NOTHING"
            )
            inserted = max(cur.rowcount, 0)
        return inserted, len(rows) - inserted
