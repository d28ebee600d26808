"""Production reports: output by day/shift/line/item (planned vs actual, yield, scrap), downtime
and scrap Pareto, work-order lead times.

Good output counts the final operation of each order only (a piece passes every operation);
scrap counts at every operation. Aggregation happens in SQL; only shift grouping fetches
per-minute sums to place them in the calendar's shift occurrences.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import service as calendar
from core.calendar.timeline import ShiftInstance
from core.equipment.models import Equipment
from core.errors import ValidationFailed
from core.items.models import Item
from core.reports.schemas import (
    Dimension,
    DowntimeBy,
    LeadTimeRow,
    LeadTimes,
    Pareto,
    ParetoRow,
    ProductionReport,
    ProductionRow,
    ScrapBy,
)

ZERO = Decimal(0)
MAX_RANGE = timedelta(days=366)

ACTUAL_SQL = """
    SELECT {bucket} AS bucket, wo.line_id, wo.item_id,
           sum(CASE WHEN r.operation_id IS NULL OR op.sequence = last.seq
                    THEN r.good_quantity ELSE 0 END) AS good,
           sum(r.scrap_quantity) AS scrap
    FROM work_order_report r
    JOIN work_order wo ON wo.id = r.work_order_id
    LEFT JOIN work_order_operation op ON op.id = r.operation_id
    LEFT JOIN LATERAL (
        SELECT max(o.sequence) AS seq FROM work_order_operation o
        WHERE o.work_order_id = r.work_order_id
    ) last ON true
    WHERE r.reported_at >= :start AND r.reported_at < :end {filters}
    GROUP BY 1, 2, 3
"""
PLANNED_SQL = """
    SELECT wo.due_date, wo.line_id, wo.item_id, sum(wo.quantity)
    FROM work_order wo
    WHERE wo.status <> 'cancelled' AND wo.due_date BETWEEN :first AND :last {filters}
    GROUP BY 1, 2, 3
"""


def check_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Aware, ordered, at most a year."""
    start, end = calendar.aware(start, "query.start"), calendar.aware(end, "query.end")
    if end <= start:
        raise ValidationFailed("query.end", "must be after start")
    if end - start > MAX_RANGE:
        raise ValidationFailed("query.end", f"the range may span at most {MAX_RANGE.days} days")
    return start, end


def zone(name: str) -> ZoneInfo:
    """The IANA zone or a 422 naming the parameter."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as err:
        raise ValidationFailed("query.timezone", f"unknown IANA time zone {name!r}") from err


def pct(part: Decimal, whole: Decimal) -> float | None:
    """Percentage with two decimals, None for an empty whole.

    >>> pct(Decimal(1), Decimal(3)), pct(Decimal(1), Decimal(0))
    (33.33, None)
    """
    return round(float(part / whole * 100), 2) if whole else None


def _filters(line_id: int | None, item_id: int | None) -> tuple[str, dict[str, Any]]:
    sql, params = "", {}
    if line_id is not None:
        sql += " AND wo.line_id = :line_id"
        params["line_id"] = line_id
    if item_id is not None:
        sql += " AND wo.item_id = :item_id"
        params["item_id"] = item_id
    return sql, params


async def _codes(session: AsyncSession, model: Any, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(model.id, model.code).where(model.id.in_(wanted)))
    return {ident: code for ident, code in rows}


def _shift_of(
    instances: list[ShiftInstance], starts: list[datetime], at: datetime
) -> ShiftInstance | None:
    index = bisect.bisect_right(starts, at) - 1
    if index >= 0 and instances[index].start <= at < instances[index].end:
        return instances[index]
    return None


async def production(
    *,
    session: AsyncSession,
    start: datetime,
    end: datetime,
    timezone: str,
    group_by: list[Dimension],
    line_id: int | None = None,
    item_id: int | None = None,
) -> ProductionReport:
    """Planned vs actual output, yield and scrap, grouped by the chosen dimensions."""
    tz = zone(timezone)
    lo, hi = check_range(start, end)
    dims = list(dict.fromkeys(group_by))
    by_shift = Dimension.SHIFT in dims
    filters, params = _filters(line_id, item_id)
    bucket = (
        "date_trunc('minute', r.reported_at)"
        if by_shift
        else ("(r.reported_at AT TIME ZONE :tz)::date")
    )
    actual = (
        await session.execute(
            text(ACTUAL_SQL.format(bucket=bucket, filters=filters)),
            {"start": lo, "end": hi, "tz": timezone, **params},
        )
    ).all()
    first, last = lo.astimezone(tz).date(), (hi - timedelta(microseconds=1)).astimezone(tz).date()
    planned = (
        await session.execute(
            text(PLANNED_SQL.format(filters=filters)), {"first": first, "last": last, **params}
        )
    ).all()
    lines = await _codes(session, Equipment, [r[1] for r in [*actual, *planned]])
    items = await _codes(session, Item, [r[2] for r in [*actual, *planned]])

    shifts: dict[int, tuple[list[ShiftInstance], list[datetime]]] = {}
    if by_shift:
        for line in {r[1] for r in actual if r[1] is not None}:
            found = await calendar.shift_instances(
                session=session, equipment_id=line, start=lo, end=hi
            )
            shifts[line] = (found, [s.start for s in found])

    Key = tuple[Any, ...]
    acc: dict[Key, dict[str, Decimal | None]] = defaultdict(
        lambda: {"planned": None if by_shift else ZERO, "good": ZERO, "scrap": ZERO}
    )

    def key(day: date | None, shift: str | None, line: int | None, item: int) -> Key:
        values = {
            Dimension.DAY: day,
            Dimension.SHIFT: shift,
            Dimension.LINE: lines.get(line) if line is not None else None,
            Dimension.ITEM: items.get(item),
        }
        return tuple(values[d] for d in dims)

    for stamp, line, item, good, scrap in actual:
        day, shift_code = (stamp if not by_shift else stamp.astimezone(tz).date()), None
        if by_shift:
            instance = _shift_of(*shifts[line], stamp) if line in shifts else None
            if instance is not None:
                day, shift_code = instance.day, instance.shift_code
        row = acc[key(day, shift_code, line, item)]
        row["good"] = (row["good"] or ZERO) + Decimal(good)
        row["scrap"] = (row["scrap"] or ZERO) + Decimal(scrap)
    if not by_shift:
        for due, line, item, quantity in planned:
            row = acc[key(due, None, line, item)]
            row["planned"] = (row["planned"] or ZERO) + Decimal(quantity)

    def out(values: dict[str, Decimal | None], **labels: Any) -> ProductionRow:
        good, scrap, plan = values["good"] or ZERO, values["scrap"] or ZERO, values["planned"]
        return ProductionRow(
            **labels,
            planned=plan,
            good=good,
            scrap=scrap,
            yield_pct=pct(good, good + scrap),
            attainment_pct=pct(good, plan) if plan is not None else None,
        )

    ordered = sorted(acc.items(), key=lambda kv: tuple((v is None, str(v)) for v in kv[0]))
    rows = [
        out(values, **dict(zip([d.value for d in dims], k, strict=True))) for k, values in ordered
    ]
    total: dict[str, Decimal | None] = {
        "planned": None if by_shift else sum((v["planned"] or ZERO for v in acc.values()), ZERO),
        "good": sum((v["good"] or ZERO for v in acc.values()), ZERO),
        "scrap": sum((v["scrap"] or ZERO for v in acc.values()), ZERO),
    }
    return ProductionReport(
        start=start, end=end, timezone=timezone, group_by=dims, rows=rows, total=out(total)
    )


def _pareto(
    start: datetime, end: datetime, by: str, unit: str, bars: list[tuple[str, str, int, float]]
) -> Pareto:
    bars = sorted(bars, key=lambda b: (-b[3], b[0]))
    total = sum(b[3] for b in bars)
    rows, running = [], 0.0
    for key, label, count, value in bars:
        running += value
        rows.append(
            ParetoRow(
                key=key,
                label=label,
                count=count,
                value=round(value, 6),
                share_pct=round(value / total * 100, 2) if total else 0.0,
                cumulative_pct=round(running / total * 100, 2) if total else 0.0,
            )
        )
    return Pareto(start=start, end=end, by=by, unit=unit, total=round(total, 6), rows=rows)


DOWNTIME_SQL = """
    SELECT {key} AS key, {label} AS label, count(*) AS n,
           sum(extract(epoch FROM least(coalesce(e.end_ts, now()), :end)
                              - greatest(e.start_ts, :start))) AS seconds
    FROM downtime_event e
    JOIN equipment eq ON eq.id = e.equipment_id
    LEFT JOIN downtime_reason r ON r.id = e.reason_id
    LEFT JOIN downtime_reason c ON c.id = r.parent_id
    WHERE e.start_ts < :end AND (e.end_ts IS NULL OR e.end_ts > :start)
      AND e.start_ts < now() {filters}
    GROUP BY 1, 2
"""
DOWNTIME_KEYS: dict[DowntimeBy, tuple[str, str]] = {
    DowntimeBy.REASON: ("coalesce(r.code, '(unassigned)')", "coalesce(r.name, 'No reason yet')"),
    DowntimeBy.CATEGORY: (
        "coalesce(c.code, r.code, '(unassigned)')",
        "coalesce(c.name, r.name, 'No reason yet')",
    ),
    DowntimeBy.LOSS: (
        "CASE WHEN e.planned THEN 'planned' ELSE coalesce(r.loss_category, '(unassigned)') END",
        "CASE WHEN e.planned THEN 'planned' ELSE coalesce(r.loss_category, '(unassigned)') END",
    ),
    DowntimeBy.EQUIPMENT: ("eq.code", "eq.name"),
}


async def downtime_pareto(
    *,
    session: AsyncSession,
    start: datetime,
    end: datetime,
    by: DowntimeBy,
    equipment_ids: list[int] | None = None,
    include_planned: bool = False,
) -> Pareto:
    """Downtime seconds inside [start, end) ranked by reason, category, loss or equipment."""
    lo, hi = check_range(start, end)
    filters, params = "", {}
    if equipment_ids is not None:
        filters += " AND e.equipment_id = ANY(:equipment_ids)"
        params["equipment_ids"] = equipment_ids
    if not include_planned:
        filters += " AND NOT e.planned"
    key, label = DOWNTIME_KEYS[by]
    rows = await session.execute(
        text(DOWNTIME_SQL.format(key=key, label=label, filters=filters)),
        {"start": lo, "end": hi, **params},
    )
    bars = [(r.key, r.label, int(r.n), float(r.seconds or 0)) for r in rows]
    return _pareto(start, end, by.value, "s", bars)


SCRAP_SQL = """
    SELECT {key} AS key, {label} AS label, count(*) AS n, sum(r.scrap_quantity) AS qty
    FROM work_order_report r
    JOIN work_order wo ON wo.id = r.work_order_id
    JOIN item i ON i.id = wo.item_id
    LEFT JOIN equipment eq ON eq.id = r.equipment_id
    LEFT JOIN work_order_operation op ON op.id = r.operation_id
    WHERE r.scrap_quantity > 0 AND r.reported_at >= :start AND r.reported_at < :end {filters}
    GROUP BY 1, 2
"""
SCRAP_KEYS: dict[ScrapBy, tuple[str, str]] = {
    ScrapBy.REASON: (
        "coalesce(r.scrap_reason, '(none given)')",
        "coalesce(r.scrap_reason, '(none given)')",
    ),
    ScrapBy.ITEM: ("i.code", "i.name"),
    ScrapBy.EQUIPMENT: ("coalesce(eq.code, '(unknown)')", "coalesce(eq.name, 'Not recorded')"),
    ScrapBy.OPERATION: (
        "i.code || ' ' || coalesce(op.sequence::text, '-')",
        "coalesce(op.name, 'order level')",
    ),
}


async def scrap_pareto(
    *,
    session: AsyncSession,
    start: datetime,
    end: datetime,
    by: ScrapBy,
    line_id: int | None = None,
    item_id: int | None = None,
) -> Pareto:
    """Scrapped quantity reported in [start, end) ranked by reason, item, equipment or operation."""
    lo, hi = check_range(start, end)
    filters, params = _filters(line_id, item_id)
    key, label = SCRAP_KEYS[by]
    rows = await session.execute(
        text(SCRAP_SQL.format(key=key, label=label, filters=filters)),
        {"start": lo, "end": hi, **params},
    )
    bars = [(r.key, r.label, int(r.n), float(r.qty or 0)) for r in rows]
    unit = "pcs"
    if item_id is not None:
        unit = await session.scalar(select(Item.unit).where(Item.id == item_id)) or unit
    return _pareto(start, end, by.value, unit, bars)


LEAD_SQL = """
    SELECT i.code, extract(epoch FROM wo.actual_end - wo.created_at) / 3600.0,
           extract(epoch FROM wo.actual_end - wo.actual_start) / 3600.0,
           extract(epoch FROM wo.actual_start - wo.created_at) / 3600.0
    FROM work_order wo JOIN item i ON i.id = wo.item_id
    WHERE wo.status = 'completed' AND wo.actual_end >= :start AND wo.actual_end < :end {filters}
"""


def _lead_row(item: str, rows: list[tuple[float, float, float]]) -> LeadTimeRow:
    lead = sorted(r[0] for r in rows)
    p90 = lead[math.ceil(0.9 * len(lead)) - 1]  # nearest rank
    return LeadTimeRow(
        item=item,
        orders=len(rows),
        lead_avg_h=round(statistics.fmean(lead), 3),
        lead_median_h=round(statistics.median(lead), 3),
        lead_p90_h=round(p90, 3),
        flow_avg_h=round(statistics.fmean(r[1] for r in rows), 3),
        wait_avg_h=round(statistics.fmean(r[2] for r in rows), 3),
    )


async def lead_times(
    *,
    session: AsyncSession,
    start: datetime,
    end: datetime,
    line_id: int | None = None,
    item_id: int | None = None,
) -> LeadTimes:
    """Lead, flow and waiting time of orders completed in [start, end), per item and overall."""
    lo, hi = check_range(start, end)
    filters, params = _filters(line_id, item_id)
    result = await session.execute(
        text(LEAD_SQL.format(filters=filters)), {"start": lo, "end": hi, **params}
    )
    per_item: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for code, lead, flow, wait in result:
        per_item[code].append((float(lead), float(flow or 0), float(wait or 0)))
    rows = [_lead_row(code, values) for code, values in sorted(per_item.items())]
    everything = [v for values in per_item.values() for v in values]
    return LeadTimes(
        start=start,
        end=end,
        rows=rows,
        overall=_lead_row("(all)", everything) if everything else None,
    )
