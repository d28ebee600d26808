"""The one query layer over readings; hides whether TimescaleDB or plain partitions hold them.

Both back ends expose `reading` and the rollups `reading_1m` / `reading_1h` with the same columns
(see db/telemetry_ddl.py), so the choice here is only which relation answers a range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

Resolution = Literal["raw", "1m", "1h"]

# Above these spans a rollup answers instead of raw rows.
RAW_MAX_SPAN = timedelta(hours=2)
MINUTE_MAX_SPAN = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One time bucket of one signal (raw rows have n=1 and min=max=avg=value)."""

    signal_id: int
    ts: datetime
    n: int
    vmin: float | None
    vmax: float | None
    vavg: float | None


def choose_resolution(start: datetime, end: datetime) -> Resolution:
    """Raw for short ranges, minute rollups for days, hour rollups beyond.

    >>> from datetime import UTC
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


async def backend(session: AsyncSession) -> str:
    """'timescaledb' or 'partitioned'."""
    value = await session.scalar(text("SELECT value FROM mes_meta WHERE key = 'telemetry_backend'"))
    return str(value)


async def series(
    session: AsyncSession,
    signal_ids: list[int],
    start: datetime,
    end: datetime,
    *,
    resolution: Resolution | None = None,
    limit: int = 100_000,
) -> list[Bucket]:
    """Values of `signal_ids` in [start, end), ordered by signal and time."""
    res = resolution or choose_resolution(start, end)
    params = {"ids": signal_ids, "start": start, "end": end, "limit": limit}
    if res == "raw":
        sql = text(
            "SELECT signal_id, ts, 1 AS n, value, value, value FROM reading"
            " WHERE signal_id = ANY(:ids) AND ts >= :start AND ts < :end"
            " ORDER BY signal_id, ts LIMIT :limit"
        )
    else:
        table = "reading_1m" if res == "1m" else "reading_1h"
        sql = text(
            f"SELECT signal_id, bucket, n, vmin, vmax, vsum / NULLIF(n, 0) FROM {table}"
            " WHERE signal_id = ANY(:ids) AND bucket >= :start AND bucket < :end"
            " ORDER BY signal_id, bucket LIMIT :limit"
        )
    rows = (await session.execute(sql, params)).all()
    return [Bucket(r[0], r[1], int(r[2]), r[3], r[4], r[5]) for r in rows]
