"""The one query layer over readings; hides whether TimescaleDB or plain partitions hold them.

Both back ends expose `reading` and the rollups `reading_1m` / `reading_1h` with the same columns
(see db/telemetry_ddl.py). Rollups can lag: hours marked in `telemetry_dirty` and the most recent
two hours are always computed from raw rows, so a chart or statistic never misses fresh data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

Resolution = Literal["raw", "1m", "1h"]

RAW_MAX_SPAN = timedelta(hours=2)
MINUTE_MAX_SPAN = timedelta(days=3)
RECENT_FROM_RAW = timedelta(hours=2)
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
GRAIN = {"raw": timedelta(0), "1m": timedelta(minutes=1), "1h": timedelta(hours=1)}
ROLLUP_TABLE = {"1m": "reading_1m", "1h": "reading_1h"}
NICE_SECONDS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
)


@dataclass(frozen=True, slots=True)
class Bucket:
    """Aggregate of one signal over one time bucket (values of Bad quality left out)."""

    signal_id: int
    ts: datetime
    n: int
    vmin: float | None
    vmax: float | None
    vavg: float | None


@dataclass(frozen=True, slots=True)
class RawPoint:
    """One stored reading."""

    signal_id: int
    ts: datetime
    value: float | None
    quality: int


@dataclass(frozen=True, slots=True)
class SignalStats:
    """Descriptive statistics of one signal over a range (Bad quality left out)."""

    signal_id: int
    n: int
    vmin: float | None
    vmax: float | None
    mean: float | None
    std: float | None


def choose_resolution(start: datetime, end: datetime) -> Resolution:
    """Raw for short ranges, minute rollups for days, hour rollups beyond.

    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> choose_resolution(t, t + timedelta(hours=1)), choose_resolution(t, t + timedelta(days=1))
    ('raw', '1m')
    >>> choose_resolution(t, t + timedelta(days=30))
    '1h'
    """
    span = end - start
    if span <= RAW_MAX_SPAN:
        return "raw"
    if span <= MINUTE_MAX_SPAN:
        return "1m"
    return "1h"


def bucket_width(
    start: datetime, end: datetime, max_points: int, resolution: Resolution
) -> timedelta:
    """The smallest 'nice' bucket width that keeps a series within `max_points` buckets.

    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> bucket_width(t, t + timedelta(days=1), 1000, "1m")
    datetime.timedelta(seconds=120)
    >>> bucket_width(t, t + timedelta(minutes=10), 1000, "raw")
    datetime.timedelta(seconds=1)
    """
    needed = max((end - start).total_seconds() / max_points, GRAIN[resolution].total_seconds(), 1)
    for seconds in NICE_SECONDS:
        if seconds >= needed:
            return timedelta(seconds=seconds)
    return timedelta(seconds=math.ceil(needed / 86400) * 86400)


def _floor(ts: datetime, grain: timedelta) -> datetime:
    if not grain:
        return ts
    step = grain.total_seconds()
    return ORIGIN + timedelta(seconds=math.floor((ts - ORIGIN).total_seconds() / step) * step)


def _source_sql(resolution: Resolution) -> str:
    """Rows (signal_id, ts, n, vmin, vmax, vsum, vsumsq) for [start, end) from the cheapest
    correct source: raw rows, or a rollup with fresh/dirty hours taken from raw rows."""
    raw = (
        "SELECT signal_id, ts, 1 AS n, value AS vmin, value AS vmax, value AS vsum,"
        " value * value AS vsumsq FROM reading"
        " WHERE signal_id = ANY(:ids) AND ts >= :start AND ts < :end"
        " AND quality >= 0 AND value IS NOT NULL"
    )
    if resolution == "raw":
        return raw
    table = ROLLUP_TABLE[resolution]
    # raw rows only where the rollup cannot answer: the recent hours, and each dirty hour by its
    # own index range (a filter over the whole range would read every raw row of it)
    return (
        "WITH dirty AS (SELECT DISTINCT bucket FROM telemetry_dirty"
        "  WHERE bucket >= :hour_start AND bucket < :end)"
        f" SELECT signal_id, bucket AS ts, n, vmin, vmax, vsum, vsumsq FROM {table}"
        " WHERE signal_id = ANY(:ids) AND bucket >= :start_grain AND bucket < :end"
        " AND bucket < :recent"
        " AND date_trunc('hour', bucket, 'UTC') NOT IN (SELECT bucket FROM dirty)"
        f" UNION ALL {raw} AND ts >= :recent"
        " UNION ALL SELECT r.signal_id, r.ts, 1, r.value, r.value, r.value, r.value * r.value"
        " FROM dirty d JOIN reading r ON r.ts >= d.bucket AND r.ts < d.bucket + interval '1 hour'"
        " WHERE r.signal_id = ANY(:ids) AND r.ts >= :start AND r.ts < :end AND r.ts < :recent"
        " AND r.quality >= 0 AND r.value IS NOT NULL"
    )


def _params(
    ids: list[int], start: datetime, end: datetime, resolution: Resolution, now: datetime | None
) -> dict[str, Any]:
    grain = GRAIN[resolution]
    recent = _floor((now or datetime.now(UTC)) - RECENT_FROM_RAW, max(grain, timedelta(hours=1)))
    return {
        "ids": ids,
        "start": start,
        "end": end,
        "start_grain": _floor(start, grain),
        "hour_start": _floor(start, timedelta(hours=1)),
        "recent": recent,
    }


async def buckets(
    session: AsyncSession,
    signal_ids: list[int],
    start: datetime,
    end: datetime,
    *,
    max_points: int = 1000,
    resolution: Resolution | None = None,
    now: datetime | None = None,
) -> tuple[list[Bucket], Resolution, timedelta]:
    """Per-signal buckets (min/max/avg) of at most `max_points` per signal, with the source
    resolution used and the bucket width."""
    res = resolution or choose_resolution(start, end)
    width = bucket_width(start, end, max_points, res)
    sql = text(
        f"SELECT signal_id, date_bin(:width, ts, :origin) AS b, sum(n), min(vmin), max(vmax),"
        f" sum(vsum) / NULLIF(sum(n), 0) FROM ({_source_sql(res)}) src"
        " GROUP BY 1, 2 ORDER BY 1, 2"
    )
    params = {**_params(signal_ids, start, end, res, now), "width": width, "origin": ORIGIN}
    rows = (await session.execute(sql, params)).all()
    return [Bucket(r[0], r[1], int(r[2]), r[3], r[4], r[5]) for r in rows], res, width


async def raw_points(
    session: AsyncSession, signal_ids: list[int], start: datetime, end: datetime, *, limit: int
) -> tuple[list[RawPoint], bool]:
    """Stored readings (all qualities) in [start, end), at most `limit`; True when truncated."""
    rows = (
        await session.execute(
            text(
                "SELECT signal_id, ts, value, quality FROM reading"
                " WHERE signal_id = ANY(:ids) AND ts >= :start AND ts < :end"
                " ORDER BY signal_id, ts LIMIT :limit"
            ),
            {"ids": signal_ids, "start": start, "end": end, "limit": limit + 1},
        )
    ).all()
    points = [RawPoint(r[0], r[1], r[2], int(r[3])) for r in rows[:limit]]
    return points, len(rows) > limit


async def stats(
    session: AsyncSession,
    signal_ids: list[int],
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> list[SignalStats]:
    """Count, min, max, mean and sample standard deviation per signal over [start, end)."""
    res = choose_resolution(start, end)
    sql = text(
        "SELECT signal_id, sum(n), min(vmin), max(vmax), sum(vsum) / NULLIF(sum(n), 0),"
        " CASE WHEN sum(n) > 1 THEN sqrt(GREATEST(0,"
        "  (sum(vsumsq) - sum(vsum) * sum(vsum) / sum(n)) / (sum(n) - 1))) END"
        f" FROM ({_source_sql(res)}) src GROUP BY 1 ORDER BY 1"
    )
    rows = (await session.execute(sql, _params(signal_ids, start, end, res, now))).all()
    found = {r[0]: SignalStats(r[0], int(r[1]), r[2], r[3], r[4], r[5]) for r in rows}
    return [found.get(i, SignalStats(i, 0, None, None, None, None)) for i in signal_ids]


@dataclass(frozen=True, slots=True)
class Moments:
    """Count, extremes, sum and sum of squares of one signal over a range (Bad left out):
    moments of several ranges add up, so statistics over unions of ranges can be merged."""

    signal_id: int
    n: int
    vmin: float | None
    vmax: float | None
    vsum: float
    vsumsq: float


async def moments(
    session: AsyncSession,
    signal_ids: list[int],
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> list[Moments]:
    """Moments per signal over [start, end) (rollups for long ranges, fresh data from raw)."""
    res = choose_resolution(start, end)
    sql = text(
        "SELECT signal_id, sum(n), min(vmin), max(vmax), sum(vsum), sum(vsumsq)"
        f" FROM ({_source_sql(res)}) src GROUP BY 1 ORDER BY 1"
    )
    rows = (await session.execute(sql, _params(signal_ids, start, end, res, now))).all()
    return [Moments(r[0], int(r[1]), r[2], r[3], float(r[4] or 0), float(r[5] or 0)) for r in rows]


async def latest(
    session: AsyncSession, signal_ids: list[int], *, since: datetime
) -> list[RawPoint]:
    """The newest reading of each signal not older than `since`."""
    rows = (
        await session.execute(
            text(
                "SELECT s.id, r.ts, r.value, r.quality"
                " FROM unnest(CAST(:ids AS integer[])) AS s(id)"
                " CROSS JOIN LATERAL (SELECT ts, value, quality FROM reading"
                "  WHERE signal_id = s.id AND ts >= :since ORDER BY ts DESC LIMIT 1) r"
            ),
            {"ids": signal_ids, "since": since},
        )
    ).all()
    return [RawPoint(r[0], r[1], r[2], int(r[3])) for r in rows]


async def backend(session: AsyncSession) -> str:
    """'timescaledb' or 'partitioned'."""
    value = await session.scalar(text("SELECT value FROM mes_meta WHERE key = 'telemetry_backend'"))
    return str(value)
