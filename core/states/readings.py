"""The few reading queries the derivation needs (index range scans on (signal_id, ts))."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.states.derive import Point

RANGE = text(
    "SELECT ts, value, quality FROM reading"
    " WHERE signal_id = :id AND ts >= :start AND ts < :end ORDER BY ts"
)
BEFORE = text(
    "SELECT ts, value, quality FROM reading WHERE signal_id = :id AND ts < :before"
    " ORDER BY ts DESC LIMIT 1"
)
LAST_REAL = text(
    "SELECT value FROM reading WHERE signal_id = :id AND ts < :before AND quality >= 0"
    " AND value IN (0, 1, 2, 3, 4, 5) ORDER BY ts DESC LIMIT 1"
)
AT_OR_BEFORE = text(
    "SELECT value FROM reading WHERE signal_id = :id AND ts <= :at AND quality >= 0"
    " ORDER BY ts DESC LIMIT 1"
)
LATEST = text(
    "SELECT max(r.ts) FROM unnest(CAST(:ids AS integer[])) AS s(id)"
    " CROSS JOIN LATERAL (SELECT ts FROM reading WHERE signal_id = s.id AND ts >= :since"
    "  ORDER BY ts DESC LIMIT 1) r"
)
EXISTS_AFTER = text(
    "SELECT EXISTS (SELECT 1 FROM unnest(CAST(:ids AS integer[])) AS s(id)"
    " CROSS JOIN LATERAL (SELECT 1 FROM reading WHERE signal_id = s.id AND ts >= :at LIMIT 1) r)"
)


async def points(
    session: AsyncSession, signal_id: int, start: datetime, end: datetime
) -> list[Point]:
    """Readings of one signal in [start, end), oldest first."""
    rows = await session.execute(RANGE, {"id": signal_id, "start": start, "end": end})
    return [Point(r[0], r[1], int(r[2])) for r in rows]


async def prior(session: AsyncSession, signal_id: int, before: datetime) -> Point | None:
    """The newest reading before `before`."""
    row = (await session.execute(BEFORE, {"id": signal_id, "before": before})).first()
    return Point(row[0], row[1], int(row[2])) if row is not None else None


async def last_real_state(session: AsyncSession, signal_id: int, before: datetime) -> int | None:
    """The newest good state reading before `before` that is neither maintenance nor unknown."""
    value = await session.scalar(LAST_REAL, {"id": signal_id, "before": before})
    return int(value) if value is not None else None


async def value_at(session: AsyncSession, signal_id: int, at: datetime) -> float | None:
    """The value of the newest good reading at or before `at`."""
    value = await session.scalar(AT_OR_BEFORE, {"id": signal_id, "at": at})
    return float(value) if value is not None else None


async def latest_ts(
    session: AsyncSession, signal_ids: Sequence[int], *, since: datetime
) -> datetime | None:
    """The newest reading time over several signals (not older than `since`)."""
    if not signal_ids:
        return None
    value: datetime | None = await session.scalar(LATEST, {"ids": list(signal_ids), "since": since})
    return value


async def any_after(session: AsyncSession, signal_ids: Sequence[int], at: datetime) -> bool:
    """True when one of the signals has a reading at or after `at`."""
    if not signal_ids:
        return False
    return bool(await session.scalar(EXISTS_AFTER, {"ids": list(signal_ids), "at": at}))
