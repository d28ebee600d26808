"""Writes batches into `reading`: binary COPY inside a savepoint, falling back to a temporary
table and INSERT ... ON CONFLICT DO NOTHING when the batch repeats rows already stored (a replay).
In the same transaction: text values, `telemetry_dirty` marks, and the live-path NOTIFY."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import errors

from gateway.records import Record
from gateway.sinks import live
from gateway.sinks.signals import SignalRegistry

HOUR = timedelta(hours=1)
COPY_READING = "COPY reading (ts, signal_id, value, quality) FROM STDIN (FORMAT BINARY)"
# PostgreSQL binary COPY format: header, one tuple per row (field count, then length + bytes of
# each field: timestamptz as microseconds since 2000-01-01, int4, float8 or NULL (-1), int2).
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_ROW = struct.Struct(">hiqiiidih")
_ROW_NULL = struct.Struct(">hiqiiiih")
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
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


def _pg_micros(ts: datetime) -> int:
    """Microseconds since 2000-01-01 UTC (exact for any microsecond timestamp of this era).

    >>> _pg_micros(datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC))
    1
    >>> _pg_micros(datetime(2026, 11, 26, 8, 0, 0, 123457, tzinfo=UTC)) % 1_000_000
    123457
    """
    d = ts - _PG_EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


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
        """Commit `records` (idempotent: rows already stored are skipped and counted).

        `conn` must have no transaction in progress: everything below commits together, and the
        NOTIFY is delivered with that commit."""
        registry = self.registry
        async with conn.transaction():  # signals first, in their own short transaction
            await registry.resolve(conn, {r.signal for r in records})
        ids = registry.ids
        pack_value, pack_null = _ROW.pack, _ROW_NULL.pack
        chunks: list[bytes] = [COPY_HEADER]
        texts: list[tuple[datetime, int, str, int]] = []
        hours: set[datetime] = set()
        lo = hi = None
        latest: dict[int, live.Latest] = {}
        last_ts: datetime | None = None
        micros = 0
        for record in records:
            ts = record.source_ts or record.gateway_ts
            signal_id = ids[record.signal]
            value = record.value
            if ts is not last_ts:  # records of one message or poll share their timestamp
                last_ts = ts
                micros = _pg_micros(ts)
                if lo is None or not (lo <= ts < hi):  # type: ignore[operator]
                    lo = _hour(ts)
                    hi = lo + HOUR
                    hours.add(lo)
            if value is None:
                chunks.append(pack_null(4, 8, micros, 4, signal_id, -1, 2, record.quality))
            elif type(value) is str:
                texts.append((ts, signal_id, value, record.quality))
            else:
                chunks.append(pack_value(4, 8, micros, 4, signal_id, 8, value, 2, record.quality))
            if notify:
                latest[signal_id] = (signal_id, ts, value, record.quality)
        chunks.append(COPY_TRAILER)
        rows = len(chunks) - 2
        result = WriteResult()
        async with conn.transaction():
            if rows:
                result.inserted, result.deduplicated = await self._copy(
                    conn, b"".join(chunks), rows
                )
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

    async def _copy(self, conn: psycopg.AsyncConnection, data: bytes, rows: int) -> tuple[int, int]:
        try:
            # savepoint: a unique violation undoes only the COPY
            async with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_READING) as copy:
                await copy.write(data)
            return rows, 0
        except errors.UniqueViolation:
            pass
        async with conn.cursor() as cur:
            await cur.execute(STAGE)
            async with cur.copy(
                "COPY gateway_reading_stage (ts, signal_id, value, quality)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                await copy.write(data)
            await cur.execute(
                "INSERT INTO reading (ts, signal_id, value, quality)"
                " SELECT ts, signal_id, value, quality FROM gateway_reading_stage"
                " ON CONFLICT (signal_id, ts) DO NOTHING"
            )
            inserted = max(cur.rowcount, 0)
        return inserted, rows - inserted
