"""Calendar service: patterns, assignments, and the planned-time questions the OEE engine asks.

`planned_production_time(session=..., equipment_id=..., start=..., end=...)` and
`shift_at(session=..., equipment_id=..., at=...)` resolve the pattern of a piece of equipment
from the nearest assignment up its hierarchy (machine, then line, area, site) for each day, in
a fixed number of queries whatever the range.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, selectinload

from core.audit import service as audit
from core.auth.principal import Principal
from core.calendar.models import (
    CalendarAssignment,
    NonWorkingPeriod,
    Shift,
    ShiftBreak,
    ShiftPattern,
)
from core.calendar.schemas import (
    AssignmentCreate,
    AssignmentOut,
    NonWorkingIn,
    PatternCreate,
    PatternOut,
    PatternUpdate,
    ShiftIn,
)
from core.calendar.timeline import (
    PatternDef,
    ShiftDef,
    ShiftInstance,
    occurrences,
    shift_set_problem,
    total,
)
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.equipment import service as equipment_service
from core.equipment.models import Equipment
from core.errors import Conflict, NotFound, ValidationFailed

ENTITY = "shift_pattern"
ASSIGNMENT_ENTITY = "calendar_assignment"
MAX_RANGE = timedelta(days=366)
PATTERN_SPEC = ListSpec(
    search=[ShiftPattern.code, ShiftPattern.name],
    sort={
        "id": ShiftPattern.id,
        "code": ShiftPattern.code,
        "name": ShiftPattern.name,
        "created_at": ShiftPattern.created_at,
    },
    default_sort="code",
)
ASSIGNMENT_SPEC = ListSpec(
    search=[Equipment.code, ShiftPattern.code],
    sort={
        "id": CalendarAssignment.id,
        "valid_from": CalendarAssignment.valid_from,
        "equipment_code": Equipment.code,
        "pattern_code": ShiftPattern.code,
    },
    default_sort="equipment_code,valid_from",
)


async def _saved(session: AsyncSession, obj: Any) -> dict[str, Any]:
    """Flush, reload the columns the database set and snapshot for the audit."""
    await session.flush()
    await session.refresh(obj, [a.key for a in sa_inspect(obj).mapper.column_attrs])
    return audit.snapshot(obj)


def _full() -> list[Any]:
    return [
        selectinload(ShiftPattern.shifts).selectinload(Shift.breaks),
        selectinload(ShiftPattern.non_working),
    ]


def _times(snap: dict[str, Any]) -> dict[str, Any]:
    """Wall-clock times as text (the audit serialiser knows dates and datetimes only)."""
    return {k: v.isoformat() if isinstance(v, time) else v for k, v in snap.items()}


def _pattern_snapshot(pattern: ShiftPattern) -> dict[str, Any]:
    snap = audit.snapshot(pattern)
    snap["shifts"] = [
        {**_times(audit.snapshot(s)), "breaks": [_times(audit.snapshot(b)) for b in s.breaks]}
        for s in pattern.shifts
    ]
    return snap


# --- patterns --------------------------------------------------------------------------------


async def get_pattern(session: AsyncSession, pattern_id: int) -> ShiftPattern:
    """The pattern with shifts, breaks and non-working periods, or NotFound."""
    stmt = (
        select(ShiftPattern)
        .options(*_full())
        .where(ShiftPattern.id == pattern_id)
        .execution_options(populate_existing=True)
    )
    pattern = (await session.scalars(stmt)).first()
    if pattern is None:
        raise NotFound(f"shift pattern {pattern_id} not found")
    return pattern


async def list_patterns(
    *, session: AsyncSession, params: ListParams, active: bool | None = None
) -> Page[PatternOut]:
    """Patterns matching search (code, name) and filters, with their shifts."""
    stmt = select(ShiftPattern).options(
        selectinload(ShiftPattern.shifts).selectinload(Shift.breaks)
    )
    return await paginate(
        session,
        stmt,
        PATTERN_SPEC,
        params,
        schema=PatternOut,
        filters={ShiftPattern.active: active},
    )


def _shift_defs(shifts: list[ShiftIn]) -> list[ShiftDef]:
    return [
        ShiftDef(
            shift_id=index,
            code=s.code,
            name=s.name,
            start=s.start,
            end=s.end,
            days=frozenset(s.days),
            breaks=tuple((b.start, b.end) for b in s.breaks),
        )
        for index, s in enumerate(shifts)
    ]


def _check_shifts(shifts: list[ShiftIn], field: str) -> None:
    codes = [s.code for s in shifts]
    if len(set(codes)) != len(codes):
        raise ValidationFailed(field, "shift codes must be unique within the pattern")
    problem = shift_set_problem(_shift_defs(shifts))
    if problem is not None:
        raise ValidationFailed(field, problem)


def _add_shifts(pattern: ShiftPattern, shifts: list[ShiftIn]) -> None:
    for s in shifts:
        pattern.shifts.append(
            Shift(
                code=s.code,
                name=s.name,
                start_time=s.start,
                end_time=s.end,
                days=s.days,
                breaks=[
                    ShiftBreak(name=b.name, start_time=b.start, end_time=b.end) for b in s.breaks
                ],
            )
        )


async def create_pattern(
    *, session: AsyncSession, principal: Principal, data: PatternCreate
) -> ShiftPattern:
    """Create a pattern; 422 when shifts overlap or breaks lie outside their shift."""
    _check_shifts(data.shifts, "body.shifts")
    if await session.scalar(select(ShiftPattern.id).where(ShiftPattern.code == data.code)):
        raise Conflict(f"shift pattern code {data.code!r} already exists")
    pattern = ShiftPattern(**data.model_dump(exclude={"shifts"}), shifts=[], non_working=[])
    _add_shifts(pattern, data.shifts)
    session.add(pattern)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=pattern.id,
        after=_pattern_snapshot(pattern),
    )
    await session.commit()
    return await get_pattern(session, pattern.id)


async def update_pattern(
    *, session: AsyncSession, principal: Principal, pattern_id: int, data: PatternUpdate
) -> ShiftPattern:
    """Change header fields."""
    pattern = await get_pattern(session, pattern_id)
    before = audit.snapshot(pattern)
    for field, value in data.changes().items():
        setattr(pattern, field, value)
    after = await _saved(session, pattern)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ENTITY,
        entity_id=pattern_id,
        before=before,
        after=after,
    )
    await session.commit()
    return await get_pattern(session, pattern_id)


async def replace_shifts(
    *, session: AsyncSession, principal: Principal, pattern_id: int, shifts: list[ShiftIn]
) -> ShiftPattern:
    """Replace all shifts of a pattern (validated as a whole)."""
    _check_shifts(shifts, "body.shifts")
    pattern = await get_pattern(session, pattern_id)
    before = _pattern_snapshot(pattern)
    pattern.shifts.clear()
    await session.flush()
    _add_shifts(pattern, shifts)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="replace_shifts",
        entity=ENTITY,
        entity_id=pattern_id,
        before=before,
        after=_pattern_snapshot(pattern),
    )
    await session.commit()
    return await get_pattern(session, pattern_id)


async def delete_pattern(*, session: AsyncSession, principal: Principal, pattern_id: int) -> None:
    """Delete a pattern no assignment uses."""
    pattern = await get_pattern(session, pattern_id)
    used = await session.scalar(
        select(CalendarAssignment.id).where(CalendarAssignment.pattern_id == pattern_id).limit(1)
    )
    if used is not None:
        raise Conflict(f"shift pattern {pattern.code} is assigned; remove its assignments first")
    before = _pattern_snapshot(pattern)
    await session.delete(pattern)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=ENTITY,
        entity_id=pattern_id,
        before=before,
    )
    await session.commit()


async def add_non_working(
    *, session: AsyncSession, principal: Principal, pattern_id: int, data: NonWorkingIn
) -> NonWorkingPeriod:
    """Add a holiday or shutdown to a pattern."""
    await get_pattern(session, pattern_id)
    period = NonWorkingPeriod(pattern_id=pattern_id, **data.model_dump())
    session.add(period)
    after = await _saved(session, period)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity="non_working_period",
        entity_id=period.id,
        after=after,
    )
    await session.commit()
    return period


async def delete_non_working(
    *, session: AsyncSession, principal: Principal, pattern_id: int, period_id: int
) -> None:
    """Remove a non-working period."""
    period = await session.get(NonWorkingPeriod, period_id)
    if period is None or period.pattern_id != pattern_id:
        raise NotFound(f"non-working period {period_id} of pattern {pattern_id} not found")
    before = audit.snapshot(period)
    await session.delete(period)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity="non_working_period",
        entity_id=period_id,
        before=before,
    )
    await session.commit()


# --- assignments -----------------------------------------------------------------------------


async def list_assignments(
    *,
    session: AsyncSession,
    params: ListParams,
    equipment_id: int | None = None,
    pattern_id: int | None = None,
) -> Page[AssignmentOut]:
    """Assignments matching search (equipment and pattern codes) and filters."""
    stmt = (
        select(CalendarAssignment)
        .join(CalendarAssignment.equipment)
        .join(CalendarAssignment.pattern)
        .options(
            contains_eager(CalendarAssignment.equipment), contains_eager(CalendarAssignment.pattern)
        )
    )
    return await paginate(
        session,
        stmt,
        ASSIGNMENT_SPEC,
        params,
        schema=AssignmentOut,
        filters={
            CalendarAssignment.equipment_id: equipment_id,
            CalendarAssignment.pattern_id: pattern_id,
        },
    )


async def _assignment(session: AsyncSession, assignment_id: int) -> CalendarAssignment:
    stmt = (
        select(CalendarAssignment)
        .options(
            selectinload(CalendarAssignment.equipment), selectinload(CalendarAssignment.pattern)
        )
        .where(CalendarAssignment.id == assignment_id)
        .execution_options(populate_existing=True)
    )
    found = (await session.scalars(stmt)).first()
    if found is None:
        raise NotFound(f"calendar assignment {assignment_id} not found")
    return found


async def create_assignment(
    *, session: AsyncSession, principal: Principal, data: AssignmentCreate
) -> CalendarAssignment:
    """Assign a pattern to equipment; Conflict when it overlaps another assignment there."""
    if await session.get(Equipment, data.equipment_id) is None:
        raise ValidationFailed("body.equipment_id", f"equipment {data.equipment_id} not found")
    if await session.get(ShiftPattern, data.pattern_id) is None:
        raise ValidationFailed("body.pattern_id", f"shift pattern {data.pattern_id} not found")
    await session.scalar(
        select(Equipment.id).where(Equipment.id == data.equipment_id).with_for_update()
    )
    overlap = await session.scalar(
        select(CalendarAssignment.id).where(
            CalendarAssignment.equipment_id == data.equipment_id,
            or_(
                CalendarAssignment.valid_to.is_(None), CalendarAssignment.valid_to > data.valid_from
            ),
            true() if data.valid_to is None else CalendarAssignment.valid_from < data.valid_to,
        )
    )
    if overlap is not None:
        raise Conflict(
            f"equipment {data.equipment_id} already has assignment {overlap} in that range; "
            "end it first"
        )
    row = CalendarAssignment(**data.model_dump())
    session.add(row)
    after = await _saved(session, row)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ASSIGNMENT_ENTITY,
        entity_id=row.id,
        after=after,
    )
    await session.commit()
    return await _assignment(session, row.id)


async def end_assignment(
    *, session: AsyncSession, principal: Principal, assignment_id: int, valid_to: date
) -> CalendarAssignment:
    """Set the first day an assignment no longer applies."""
    row = await _assignment(session, assignment_id)
    if valid_to <= row.valid_from:
        raise ValidationFailed("body.valid_to", "must be after valid_from")
    before = audit.snapshot(row)
    row.valid_to = valid_to
    after = await _saved(session, row)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ASSIGNMENT_ENTITY,
        entity_id=assignment_id,
        before=before,
        after=after,
    )
    await session.commit()
    return await _assignment(session, assignment_id)


async def delete_assignment(
    *, session: AsyncSession, principal: Principal, assignment_id: int
) -> None:
    """Remove an assignment."""
    row = await _assignment(session, assignment_id)
    before = audit.snapshot(row)
    await session.delete(row)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=ASSIGNMENT_ENTITY,
        entity_id=assignment_id,
        before=before,
    )
    await session.commit()


# --- planned time ----------------------------------------------------------------------------


def _as_def(pattern: ShiftPattern) -> PatternDef:
    return PatternDef(
        pattern_id=pattern.id,
        code=pattern.code,
        tz=ZoneInfo(pattern.timezone),
        shifts=tuple(
            ShiftDef(
                shift_id=s.id,
                code=s.code,
                name=s.name,
                start=s.start_time,
                end=s.end_time,
                days=frozenset(s.days),
                breaks=tuple((b.start_time, b.end_time) for b in s.breaks),
            )
            for s in pattern.shifts
        ),
        non_working=tuple((p.start_ts, p.end_ts) for p in pattern.non_working),
    )


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def aware(value: datetime, field: str) -> datetime:
    """The moment in UTC; 422 without a time zone or outside 2000..2200."""
    if value.tzinfo is None:
        raise ValidationFailed(field, "give a time zone (e.g. Z or +09:00)")
    if not EARLIEST <= value <= LATEST:
        raise ValidationFailed(field, "must lie between 2000-01-01 and 2200-01-01")
    return value.astimezone(UTC)


async def shift_instances(
    *, session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> list[ShiftInstance]:
    """Shift occurrences that apply to the equipment and overlap [start, end), in time order.

    Each day uses the nearest assignment up the hierarchy valid on it (the equipment's own,
    else its line's, area's or site's). Three queries whatever the range.
    """
    start, end = aware(start, "query.start"), aware(end, "query.end")
    if end <= start:
        raise ValidationFailed("query.end", "must be after start")
    if end - start > MAX_RANGE:
        raise ValidationFailed("query.end", f"the range may span at most {MAX_RANGE.days} days")
    if await session.get(Equipment, equipment_id) is None:
        raise NotFound(f"equipment {equipment_id} not found")
    chain = await equipment_service.ancestor_ids(session, equipment_id)
    depth = {eq: i for i, eq in enumerate(chain)}
    first_day = (start - timedelta(days=2)).date()
    last_day = (end + timedelta(days=1)).date()
    stmt = (
        select(CalendarAssignment)
        .options(
            selectinload(CalendarAssignment.pattern).options(*_full()),
        )
        .where(
            CalendarAssignment.equipment_id.in_(chain),
            CalendarAssignment.valid_from <= last_day,
            or_(CalendarAssignment.valid_to.is_(None), CalendarAssignment.valid_to > first_day),
        )
    )
    assignments = sorted(await session.scalars(stmt), key=lambda a: depth[a.equipment_id])
    if not assignments:
        return []
    defs = {a.pattern_id: _as_def(a.pattern) for a in assignments if a.pattern.active}
    found: list[ShiftInstance] = []
    day = first_day
    while day <= last_day:
        chosen = next(
            (
                a
                for a in assignments
                if a.valid_from <= day and (a.valid_to is None or day < a.valid_to)
            ),
            None,
        )
        if chosen is not None and chosen.pattern_id in defs:
            for shift in occurrences(defs[chosen.pattern_id], day):
                if shift.start < end and shift.end > start:
                    found.append(shift)
        day += timedelta(days=1)
    return sorted(found, key=lambda s: s.start)


async def planned_production_time(
    *, session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> timedelta:
    """Planned production time of the equipment in [start, end): shift time minus breaks and
    non-working periods (the denominator of OEE availability)."""
    instances = await shift_instances(
        session=session, equipment_id=equipment_id, start=start, end=end
    )
    return total(
        interval
        for s in instances
        for interval in s.planned_within(start.astimezone(UTC), end.astimezone(UTC))
    )


async def shift_at(
    *, session: AsyncSession, equipment_id: int, at: datetime
) -> tuple[ShiftInstance | None, bool]:
    """The shift of the equipment containing `at` (None outside shifts), and whether `at` falls
    in one of its breaks or a non-working period."""
    at = aware(at, "query.at")
    instances = await shift_instances(
        session=session, equipment_id=equipment_id, start=at, end=at + timedelta(microseconds=1)
    )
    for shift in instances:
        if shift.start <= at < shift.end:
            working = any(a <= at < b for a, b in shift.planned)
            return shift, not working
    return None, False
