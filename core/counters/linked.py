"""Readings linked to work orders and lots: the signals of the machines an order ran on, over
the stretches it ran there (its runs), as statistics or raw points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.counters.service import StoredRun, stored_runs
from core.equipment.models import Equipment
from core.errors import NotFound, ValidationFailed
from core.inventory.models import Lot
from core.telemetry import query
from core.telemetry.query import Moments, RawPoint
from core.telemetry.tables import signal
from core.work_orders import service as work_orders


@dataclass(frozen=True)
class LinkedSignal:
    """A signal of a machine the order ran on."""

    id: int
    key: str
    name: str
    unit: str | None
    equipment_id: int
    equipment_code: str


@dataclass(frozen=True)
class LinkedStats:
    """Statistics of one signal over an order's runs."""

    signal: LinkedSignal
    runs: int
    n: int
    vmin: float | None
    vmax: float | None
    mean: float | None
    std: float | None


def merge_moments(
    parts: Sequence[Moments],
) -> tuple[int, float | None, float | None, float | None, float | None]:
    """(n, min, max, mean, sample std) of the union of ranges.

    >>> n, lo, hi, mean, std = merge_moments(
    ...     [Moments(1, 2, 1.0, 3.0, 4.0, 10.0), Moments(1, 2, 5.0, 7.0, 12.0, 74.0)]
    ... )
    >>> n, lo, hi, mean, round(std, 6)  # of 1, 3, 5, 7
    (4, 1.0, 7.0, 4.0, 2.581989)
    """
    n = sum(p.n for p in parts)
    if n == 0:
        return 0, None, None, None, None
    total = sum(p.vsum for p in parts)
    squares = sum(p.vsumsq for p in parts)
    mins = [p.vmin for p in parts if p.vmin is not None]
    maxs = [p.vmax for p in parts if p.vmax is not None]
    std = math.sqrt(max(0.0, (squares - total * total / n) / (n - 1))) if n > 1 else None
    return n, min(mins) if mins else None, max(maxs) if maxs else None, total / n, std


async def order_runs(session: AsyncSession, work_order_id: int) -> list[StoredRun]:
    """The runs of an existing order."""
    await work_orders.get(session, work_order_id)
    return await stored_runs(session, work_order_id)


async def lot_order(session: AsyncSession, lot_id: int) -> int:
    """The work order that produced a lot."""
    lot = await session.get(Lot, lot_id)
    if lot is None:
        raise NotFound(f"lot {lot_id} not found")
    if lot.work_order_id is None:
        raise NotFound(f"lot {lot.code} was not produced by a work order")
    return lot.work_order_id


async def linked_signals(
    session: AsyncSession,
    runs: Sequence[StoredRun],
    *,
    names: Sequence[str] = (),
    ids: Sequence[int] = (),
) -> list[LinkedSignal]:
    """Signals of the run machines (only those named or given by id, when any are)."""
    equipment = {
        e.id: e.code
        for e in await session.scalars(
            select(Equipment).where(Equipment.id.in_({r.equipment_id for r in runs}))
        )
    }
    if not equipment:
        return []
    stmt = select(
        signal.c.id, signal.c.key, signal.c.name, signal.c.unit, signal.c.equipment_code
    ).where(signal.c.equipment_code.in_(list(equipment.values())))
    if names:
        stmt = stmt.where(signal.c.name.in_(list(names)))
    if ids:
        stmt = stmt.where(signal.c.id.in_(list(ids)))
    by_code = {code: i for i, code in equipment.items()}
    found = [
        LinkedSignal(r[0], r[1], r[2], r[3], by_code[r[4]], r[4])
        for r in await session.execute(stmt.order_by(signal.c.key))
    ]
    missing = set(ids) - {s.id for s in found}
    if missing:
        raise ValidationFailed(
            "query.signal_id",
            f"signal(s) {', '.join(map(str, sorted(missing)))} do not belong to a machine of "
            "the order",
        )
    return found


async def stats(
    session: AsyncSession, runs: Sequence[StoredRun], signals: Sequence[LinkedSignal]
) -> list[LinkedStats]:
    """Per signal: statistics over the runs on its machine (rollups for long runs)."""
    now = datetime.now(UTC)
    parts: dict[int, list[Moments]] = {s.id: [] for s in signals}
    used: dict[int, int] = dict.fromkeys(parts, 0)
    for run in runs:
        ids = [s.id for s in signals if s.equipment_id == run.equipment_id]
        end = min(run.end or now, now)
        if not ids or end <= run.start:
            continue
        for m in await query.moments(session, ids, run.start, end, now=now):
            parts[m.signal_id].append(m)
        for i in ids:
            used[i] += 1
    out = []
    for s in signals:
        n, vmin, vmax, mean, std = merge_moments(parts[s.id])
        out.append(LinkedStats(s, used[s.id], n, vmin, vmax, mean, std))
    return out


async def points(
    session: AsyncSession, runs: Sequence[StoredRun], linked: LinkedSignal, *, limit: int
) -> tuple[list[RawPoint], bool]:
    """Raw readings of one signal inside the runs on its machine, oldest first (at most
    `limit`; True when there were more)."""
    now = datetime.now(UTC)
    out: list[RawPoint] = []
    for run in sorted(runs, key=lambda r: r.start):
        if run.equipment_id != linked.equipment_id:
            continue
        end = min(run.end or now, now)
        if end <= run.start:
            continue
        got, more = await query.raw_points(
            session, [linked.id], run.start, end, limit=limit - len(out)
        )
        out += got
        if more or len(out) >= limit:
            return out, True
    return out, False
