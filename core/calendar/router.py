"""/api/v1/calendar: shift patterns, assignments, planned production time, shift lookup."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, status

from core.auth.deps import require
from core.auth.principal import Principal
from core.calendar import service
from core.calendar.schemas import (
    AssignmentCreate,
    AssignmentOut,
    IntervalOut,
    NonWorkingIn,
    NonWorkingOut,
    PatternCreate,
    PatternOut,
    PatternUpdate,
    PlannedTimeOut,
    ShiftAtOut,
    ShiftInstanceOut,
    ShiftsIn,
)
from core.calendar.timeline import ShiftInstance, total
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import errors

router = APIRouter(prefix="/calendar", tags=["calendar"])

PatternId = Annotated[int, Path(ge=1, le=2**31 - 1, description="shift pattern id")]
PeriodId = Annotated[int, Path(ge=1, le=2**31 - 1, description="non-working period id")]
AssignmentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="assignment id")]
EquipmentQuery = Annotated[int, Query(ge=1, le=2**31 - 1, description="equipment id")]
Writer = Annotated[Principal, require("calendar:write")]
READ = [require("calendar:read")]


def _instance(shift: ShiftInstance, start: datetime, end: datetime) -> ShiftInstanceOut:
    planned = shift.planned_within(start, end)
    return ShiftInstanceOut(
        pattern_id=shift.pattern_id,
        pattern_code=shift.pattern_code,
        shift_id=shift.shift_id,
        shift_code=shift.shift_code,
        shift_name=shift.shift_name,
        day=shift.day,
        start=shift.start,
        end=shift.end,
        planned_seconds=total(planned).total_seconds(),
        planned=[IntervalOut(start=a, end=b) for a, b in planned],
    )


@router.get(
    "/shift-patterns",
    response_model=Page[PatternOut],
    summary="List shift patterns",
    description="Shift patterns with their shifts and breaks; `q` searches code and name.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_shift_patterns(
    session: SessionDep, params: ListParamsDep, active: Annotated[bool | None, Query()] = None
) -> Page[PatternOut]:
    """List shift patterns."""
    return await service.list_patterns(session=session, params=params, active=active)


@router.post(
    "/shift-patterns",
    response_model=PatternOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a shift pattern",
    description="A weekly pattern of shifts with breaks in a local time zone. Shifts must not "
    "overlap (also across midnight and the week's end); breaks lie inside their shift.",
    responses=errors(401, 403, 409, 422),
)
async def create_shift_pattern(
    session: SessionDep, principal: Writer, data: PatternCreate
) -> PatternOut:
    """Create a shift pattern."""
    pattern = await service.create_pattern(session=session, principal=principal, data=data)
    return PatternOut.model_validate(pattern)


@router.get(
    "/shift-patterns/{pattern_id}",
    response_model=PatternOut,
    summary="Get a shift pattern",
    description="A pattern with its shifts and breaks.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_shift_pattern(session: SessionDep, pattern_id: PatternId) -> PatternOut:
    """Get a shift pattern."""
    return PatternOut.model_validate(await service.get_pattern(session, pattern_id))


@router.patch(
    "/shift-patterns/{pattern_id}",
    response_model=PatternOut,
    summary="Update a shift pattern",
    description="Change name, time zone, active flag or description.",
    responses=errors(401, 403, 404, 422),
)
async def update_shift_pattern(
    session: SessionDep, principal: Writer, pattern_id: PatternId, data: PatternUpdate
) -> PatternOut:
    """Update a shift pattern."""
    pattern = await service.update_pattern(
        session=session, principal=principal, pattern_id=pattern_id, data=data
    )
    return PatternOut.model_validate(pattern)


@router.put(
    "/shift-patterns/{pattern_id}/shifts",
    response_model=PatternOut,
    summary="Replace the shifts of a pattern",
    description="Replace every shift (and break) of the pattern; validated as a whole.",
    responses=errors(401, 403, 404, 422),
)
async def replace_pattern_shifts(
    session: SessionDep, principal: Writer, pattern_id: PatternId, data: ShiftsIn
) -> PatternOut:
    """Replace the shifts of a pattern."""
    pattern = await service.replace_shifts(
        session=session, principal=principal, pattern_id=pattern_id, shifts=data.shifts
    )
    return PatternOut.model_validate(pattern)


@router.delete(
    "/shift-patterns/{pattern_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a shift pattern",
    description="Delete a pattern no assignment uses (409 otherwise).",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_shift_pattern(
    session: SessionDep, principal: Writer, pattern_id: PatternId
) -> None:
    """Delete a shift pattern."""
    await service.delete_pattern(session=session, principal=principal, pattern_id=pattern_id)


@router.get(
    "/shift-patterns/{pattern_id}/non-working",
    response_model=list[NonWorkingOut],
    summary="List non-working periods",
    description="Holidays and shutdowns of the pattern, oldest first.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def list_non_working_periods(
    session: SessionDep, pattern_id: PatternId
) -> list[NonWorkingOut]:
    """List non-working periods."""
    pattern = await service.get_pattern(session, pattern_id)
    return [NonWorkingOut.model_validate(p) for p in pattern.non_working]


@router.post(
    "/shift-patterns/{pattern_id}/non-working",
    response_model=NonWorkingOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a non-working period",
    description="No planned time inside it for any equipment using the pattern.",
    responses=errors(401, 403, 404, 422),
)
async def add_non_working_period(
    session: SessionDep, principal: Writer, pattern_id: PatternId, data: NonWorkingIn
) -> NonWorkingOut:
    """Add a non-working period."""
    period = await service.add_non_working(
        session=session, principal=principal, pattern_id=pattern_id, data=data
    )
    return NonWorkingOut.model_validate(period)


@router.delete(
    "/shift-patterns/{pattern_id}/non-working/{period_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a non-working period",
    description="Remove a holiday or shutdown from the pattern.",
    responses=errors(401, 403, 404, 422),
)
async def delete_non_working_period(
    session: SessionDep, principal: Writer, pattern_id: PatternId, period_id: PeriodId
) -> None:
    """Delete a non-working period."""
    await service.delete_non_working(
        session=session, principal=principal, pattern_id=pattern_id, period_id=period_id
    )


@router.get(
    "/assignments",
    response_model=Page[AssignmentOut],
    summary="List calendar assignments",
    description="Which pattern applies to which equipment from when; `q` searches equipment and "
    "pattern codes.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_calendar_assignments(
    session: SessionDep,
    params: ListParamsDep,
    equipment_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    pattern_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Page[AssignmentOut]:
    """List calendar assignments."""
    return await service.list_assignments(
        session=session, params=params, equipment_id=equipment_id, pattern_id=pattern_id
    )


@router.post(
    "/assignments",
    response_model=AssignmentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Assign a pattern to equipment",
    description="The pattern applies to the equipment and everything below it from `valid_from`; "
    "the nearest assignment up the hierarchy wins. 409 when it overlaps another assignment of "
    "the same equipment.",
    responses=errors(401, 403, 409, 422),
)
async def create_calendar_assignment(
    session: SessionDep, principal: Writer, data: AssignmentCreate
) -> AssignmentOut:
    """Assign a pattern to equipment."""
    row = await service.create_assignment(session=session, principal=principal, data=data)
    return AssignmentOut.model_validate(row)


@router.post(
    "/assignments/{assignment_id}/end",
    response_model=AssignmentOut,
    summary="End a calendar assignment",
    description="Set the first day the assignment no longer applies.",
    responses=errors(401, 403, 404, 422),
)
async def end_calendar_assignment(
    session: SessionDep,
    principal: Writer,
    assignment_id: AssignmentId,
    valid_to: Annotated[date, Body(embed=True, examples=["2026-12-31"])],
) -> AssignmentOut:
    """End a calendar assignment."""
    row = await service.end_assignment(
        session=session, principal=principal, assignment_id=assignment_id, valid_to=valid_to
    )
    return AssignmentOut.model_validate(row)


@router.delete(
    "/assignments/{assignment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a calendar assignment",
    description="Remove an assignment.",
    responses=errors(401, 403, 404, 422),
)
async def delete_calendar_assignment(
    session: SessionDep, principal: Writer, assignment_id: AssignmentId
) -> None:
    """Delete a calendar assignment."""
    await service.delete_assignment(
        session=session, principal=principal, assignment_id=assignment_id
    )


@router.get(
    "/planned-time",
    response_model=PlannedTimeOut,
    summary="Planned production time",
    description="Planned production time of a piece of equipment in [start, end): its shifts "
    "(from the nearest pattern assignment up the hierarchy) minus breaks and non-working "
    "periods, with the shift occurrences that make it up. At most 366 days.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_planned_time(
    session: SessionDep,
    equipment_id: EquipmentQuery,
    start: Annotated[datetime, Query(examples=["2026-12-01T00:00:00Z"])],
    end: Annotated[datetime, Query(examples=["2026-12-02T00:00:00Z"])],
) -> PlannedTimeOut:
    """Planned production time."""
    shifts = await service.shift_instances(
        session=session, equipment_id=equipment_id, start=start, end=end
    )
    out = [_instance(s, start, end) for s in shifts]
    return PlannedTimeOut(
        equipment_id=equipment_id,
        start=start,
        end=end,
        planned_seconds=sum(s.planned_seconds for s in out),
        shifts=out,
    )


@router.get(
    "/shift-at",
    response_model=ShiftAtOut,
    summary="Shift at a moment",
    description="The shift of a piece of equipment that contains `at` (null outside shifts), "
    "and whether the moment is in a break or non-working period.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_shift_at(
    session: SessionDep,
    equipment_id: EquipmentQuery,
    at: Annotated[datetime, Query(examples=["2026-12-01T02:00:00Z"])],
) -> ShiftAtOut:
    """Shift at a moment."""
    shift, in_break = await service.shift_at(session=session, equipment_id=equipment_id, at=at)
    return ShiftAtOut(
        equipment_id=equipment_id,
        at=at,
        shift=_instance(shift, shift.start, shift.end) if shift else None,
        in_break=in_break,
    )
