"""OEE of machines, lines, sites, work orders, shifts and days.

Facts are additive, so a window is the sum of its closed UTC hours (kept in `oee_hour` by the
engine) and of the rest computed live from the state timeline, downtime events, counted parts
and the planned-time calendar. Equipment without any calendar assignment is planned all the
time; with one, only its shifts minus breaks and non-working periods are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import service as calendar_service
from core.calendar.models import CalendarAssignment
from core.calendar.timeline import ShiftInstance
from core.counters.models import ProductionCount
from core.downtime.models import DowntimeEvent, DowntimeReason
from core.equipment import service as equipment_service
from core.equipment.models import Equipment
from core.oee import calc
from core.oee.calc import OeeFacts
from core.oee.models import OeeHour
from core.oee.timeline import EventSpan, Interval, PartCount, facts
from core.states.context import EquipmentContext
from core.states.service import HOUR, hour_of, stored_spans

FACT_COLUMNS = tuple(OeeFacts().as_dict())


@dataclass(frozen=True)
class Window:
    """A named window of one equipment (a shift, a day, a run)."""

    start: datetime
    end: datetime
    planned: list[Interval] | None = None  # known planned intervals (None: ask the calendar)


# --- inputs ------------------------------------------------------------------------------------


async def has_calendar(session: AsyncSession, equipment_id: int) -> bool:
    """True when a calendar is assigned to the equipment or above it."""
    chain = await equipment_service.ancestor_ids(session, equipment_id)
    found = await session.scalar(
        select(CalendarAssignment.id).where(CalendarAssignment.equipment_id.in_(chain)).limit(1)
    )
    return found is not None


async def planned_intervals(
    session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> list[Interval]:
    """Planned production time of the equipment in [start, end) (everything without a calendar)."""
    instances = await calendar_service.shift_instances(
        session=session, equipment_id=equipment_id, start=start, end=end
    )
    if instances:
        return [i for s in instances for i in s.planned_within(start, end)]
    if not await has_calendar(session, equipment_id):
        return [(start, end)]
    return []


async def event_spans(
    session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> list[EventSpan]:
    """Downtime events overlapping [start, end) (open ones end at `end`)."""
    rows = await session.execute(
        select(
            DowntimeEvent.id,
            DowntimeEvent.start_ts,
            DowntimeEvent.end_ts,
            DowntimeEvent.planned,
            DowntimeReason.loss_category,
        )
        .outerjoin(DowntimeReason, DowntimeReason.id == DowntimeEvent.reason_id)
        .where(
            DowntimeEvent.equipment_id == equipment_id,
            DowntimeEvent.start_ts < end,
            (DowntimeEvent.end_ts.is_(None)) | (DowntimeEvent.end_ts > start),
        )
    )
    out = []
    for event_id, a, b, planned, loss in rows:
        b = b if b is not None and b < end else end
        if b > a:
            out.append(EventSpan(event_id, a, b, bool(planned), loss))
    return out


async def part_counts(
    session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> list[PartCount]:
    """Counted parts in [start, end)."""
    p = ProductionCount
    rows = await session.execute(
        select(p.minute, p.good, p.scrap, p.ideal_cycle_s).where(
            p.equipment_id == equipment_id, p.minute >= start, p.minute < end
        )
    )
    return [PartCount(r[0], r[1], r[2], float(r[3]) if r[3] is not None else None) for r in rows]


async def live_facts(
    session: AsyncSession,
    ctx: EquipmentContext,
    start: datetime,
    end: datetime,
    *,
    planned: Sequence[Interval] | None = None,
) -> OeeFacts:
    """Facts of [start, end) computed from the timeline (no materialized hours)."""
    if planned is None:
        planned = await planned_intervals(session, ctx.id, start, end)
    if not planned:
        return OeeFacts()
    margin = timedelta(seconds=max(ctx.micro_stop_s, ctx.startup_s))
    return facts(
        start=start,
        end=end,
        planned=planned,
        spans=await stored_spans(session, ctx.id, start - margin, end + margin),
        events=await event_spans(session, ctx.id, start, end),
        parts=await part_counts(session, ctx.id, start, end),
        micro_stop_s=ctx.micro_stop_s,
        startup_s=ctx.startup_s,
    )


# --- materialized hours ------------------------------------------------------------------------


async def store_hour(session: AsyncSession, ctx: EquipmentContext, hour: datetime) -> OeeFacts:
    """Compute one closed hour and keep it in `oee_hour`."""
    hour_facts = await live_facts(session, ctx, hour, hour + HOUR)
    await session.execute(
        delete(OeeHour).where(OeeHour.equipment_id == ctx.id, OeeHour.hour == hour)
    )
    await session.execute(
        insert(OeeHour), [{"equipment_id": ctx.id, "hour": hour, **hour_facts.as_dict()}]
    )
    return hour_facts


async def stored_hours(
    session: AsyncSession, equipment_ids: Sequence[int], since: datetime
) -> list[tuple[int, datetime]]:
    """(equipment id, hour) of the materialized hours from `since` on."""
    rows = await session.execute(
        select(OeeHour.equipment_id, OeeHour.hour).where(
            OeeHour.equipment_id.in_(list(equipment_ids)), OeeHour.hour >= since
        )
    )
    return [(int(e), h) for e, h in rows]


async def forget_hour(session: AsyncSession, equipment_id: int, hour: datetime) -> None:
    """Drop a materialized hour (it is not closed any more)."""
    await session.execute(
        delete(OeeHour).where(OeeHour.equipment_id == equipment_id, OeeHour.hour == hour)
    )


def _hours(start: datetime, end: datetime) -> list[datetime]:
    out, hour = [], hour_of(start)
    if hour < start:
        hour += HOUR
    while hour + HOUR <= end:
        out.append(hour)
        hour += HOUR
    return out


async def equipment_facts(
    session: AsyncSession,
    ctx: EquipmentContext,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    planned: Sequence[Interval] | None = None,
) -> OeeFacts:
    """Facts of one machine over [start, end): materialized closed hours plus the rest live.
    `planned`, when given, replaces the calendar lookup for the live parts (a known shift)."""
    end = min(end, now)
    if end <= start:
        return OeeFacts()
    current = hour_of(now)
    candidates = [h for h in _hours(start, end) if h + HOUR <= current]
    stored: dict[datetime, OeeFacts] = {}
    if candidates:
        rows = await session.execute(
            select(OeeHour).where(OeeHour.equipment_id == ctx.id, OeeHour.hour.in_(candidates))
        )
        for row in rows.scalars():
            stored[row.hour] = OeeFacts(**{c: getattr(row, c) for c in FACT_COLUMNS})
    gaps: list[tuple[datetime, datetime]] = []
    cursor = start
    for hour in sorted(stored):
        if hour > cursor:
            gaps.append((cursor, hour))
        cursor = hour + HOUR
    if cursor < end:
        gaps.append((cursor, end))
    total = OeeFacts.total(stored.values())
    for a, b in gaps:
        window = None if planned is None else [(max(x, a), min(y, b)) for x, y in planned]
        window = None if window is None else [(x, y) for x, y in window if x < y]
        if window is not None and not window:
            continue
        total = total + await live_facts(session, ctx, a, b, planned=window)
    return total


# --- grouping ----------------------------------------------------------------------------------


async def members(
    session: AsyncSession, contexts: Sequence[EquipmentContext], equipment_id: int
) -> list[EquipmentContext]:
    """The machines at or below `equipment_id`."""
    below = set(await equipment_service.descendant_ids(session, equipment_id))
    return [c for c in contexts if c.id in below]


async def group_facts(
    session: AsyncSession,
    contexts: Sequence[EquipmentContext],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    planned: Sequence[Interval] | None = None,
) -> tuple[OeeFacts, dict[int, OeeFacts]]:
    """Summed facts of several machines, and each machine's."""
    each = {
        c.id: await equipment_facts(session, c, start, end, now=now, planned=planned)
        for c in contexts
    }
    return OeeFacts.total(each.values()), each


async def shifts(
    session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> list[ShiftInstance]:
    """Shift instances of the equipment overlapping [start, end)."""
    return await calendar_service.shift_instances(
        session=session, equipment_id=equipment_id, start=start, end=end
    )


async def shift_now(
    session: AsyncSession, equipment_id: int, now: datetime
) -> ShiftInstance | None:
    """The shift the equipment is in at `now` (breaks included), None outside shifts."""
    shift, _ = await calendar_service.shift_at(session=session, equipment_id=equipment_id, at=now)
    return shift


async def latest_hour(session: AsyncSession) -> datetime | None:
    """The newest materialized hour (for monitoring)."""
    value: datetime | None = await session.scalar(select(func.max(OeeHour.hour)))
    return value


def summary(f: OeeFacts) -> dict[str, float | int | None]:
    """Factors and headline times of facts (for events and the API)."""
    return {
        "availability": calc.availability(f),
        "performance": calc.performance(f),
        "quality": calc.quality(f),
        "oee": calc.oee(f),
        "planned_production_s": f.planned_s,
        "operating_s": f.operating_s,
        "run_s": f.run_s,
        "fully_productive_s": calc.fully_productive_s(f),
        "good": f.good,
        "scrap": f.scrap,
    }


def utcnow() -> datetime:
    """Current UTC time."""
    return datetime.now(UTC)


async def equipment_row(session: AsyncSession, equipment_id: int) -> Equipment | None:
    """The equipment row."""
    return await session.get(Equipment, equipment_id)
