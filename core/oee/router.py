"""/api/v1/oee: OEE of machines, lines and sites, per shift and day, of work orders, and the
stored hourly facts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime
from sqlalchemy import func, select

from core.auth.deps import require
from core.common.listing import ListParamsDep, ListSpec
from core.common.schemas import Page
from core.counters import service as counters
from core.db import SessionDep
from core.equipment.models import Equipment, EquipmentLevel
from core.errors import NotFound, ValidationFailed, errors
from core.live.settings import LiveSettings
from core.oee import calc
from core.oee import service as oee
from core.oee.calc import OeeFacts
from core.oee.models import OeeHour
from core.oee.schemas import (
    OeeHourOut,
    OeeMachine,
    OeeOut,
    OeeRunOut,
    OeeShiftOut,
    OeeWorkOrderOut,
    factors,
    oee_out,
)
from core.states.context import EquipmentContext, Thresholds, load_contexts
from core.states.service import check_range
from core.work_orders import service as work_orders
from mes_common.settings import load_settings

router = APIRouter(prefix="/oee", tags=["oee"], dependencies=[require("oee:read")])

MAX_RANGE = timedelta(days=31)
EquipmentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="equipment id")]
Start = Annotated[AwareDatetime, Query(description="inclusive start (RFC 3339 with offset)")]
End = Annotated[AwareDatetime, Query(description="exclusive end (RFC 3339 with offset)")]
HOUR_SPEC = ListSpec(
    search=[Equipment.code],
    sort={"hour": OeeHour.hour, "equipment_id": OeeHour.equipment_id},
    default_sort="-hour",
)


def _thresholds(request: Request) -> Thresholds:
    runtime = getattr(request.app.state, "live", None)
    settings: LiveSettings = (
        runtime.settings if runtime is not None else load_settings(LiveSettings)
    )
    return Thresholds(settings.live_micro_stop_s, settings.live_startup_s)


async def _scope(
    session: SessionDep, request: Request, equipment_id: int
) -> tuple[Equipment, list[EquipmentContext]]:
    equipment = await session.get(Equipment, equipment_id)
    if equipment is None:
        raise NotFound(f"equipment {equipment_id} not found")
    contexts = await load_contexts(session, _thresholds(request))
    return equipment, await oee.members(session, contexts, equipment_id)


def _machines(
    contexts: list[EquipmentContext], each: dict[int, OeeFacts], equipment: Equipment
) -> list[OeeMachine]:
    if equipment.level in (EquipmentLevel.MACHINE, EquipmentLevel.CELL) and len(each) <= 1:
        return []
    return [
        OeeMachine(equipment_id=c.id, equipment_code=c.code, **factors(each[c.id]))
        for c in contexts
    ]


@router.get(
    "/equipment/{equipment_id}",
    response_model=OeeOut,
    summary="OEE of equipment over a range",
    description="Availability, performance, quality and OEE with the six-big-losses breakdown "
    "for a machine, or for a line, area or site as the sums of its machines' times and parts. "
    "Planned time comes from the shift calendar (all time when none is assigned).",
    responses=errors(401, 403, 404, 422),
)
async def equipment_oee(
    session: SessionDep, request: Request, equipment_id: EquipmentId, start: Start, end: End
) -> OeeOut:
    """OEE of equipment."""
    start, end = check_range(start, end, MAX_RANGE)
    equipment, members = await _scope(session, request, equipment_id)
    total, each = await oee.group_facts(session, members, start, end, now=oee.utcnow())
    return OeeOut(
        **oee_out(
            total,
            equipment_id=equipment.id,
            code=equipment.code,
            level=equipment.level,
            start=start,
            end=end,
            machines=_machines(members, each, equipment),
        )
    )


@router.get(
    "/equipment/{equipment_id}/current-shift",
    response_model=OeeOut,
    summary="OEE of the current shift",
    description="OEE of the equipment's current shift so far (live); 404 outside shifts.",
    responses=errors(401, 403, 404, 422),
)
async def current_shift_oee(
    session: SessionDep, request: Request, equipment_id: EquipmentId
) -> OeeOut:
    """OEE of the current shift."""
    equipment, members = await _scope(session, request, equipment_id)
    now = oee.utcnow()
    shift = await oee.shift_now(session, equipment_id, now)
    if shift is None:
        raise NotFound(f"{equipment.code} is not in a shift now")
    planned = shift.planned_within(shift.start, now)
    total, each = await oee.group_facts(
        session, members, shift.start, now, now=now, planned=planned
    )
    return OeeOut(
        **oee_out(
            total,
            equipment_id=equipment.id,
            code=equipment.code,
            level=equipment.level,
            start=shift.start,
            end=now,
            machines=_machines(members, each, equipment),
        )
    )


async def _shift_rows(
    session: SessionDep, request: Request, equipment_id: int, start: datetime, end: datetime
) -> tuple[Equipment, list[OeeShiftOut]]:
    start, end = check_range(start, end, MAX_RANGE)
    equipment, members = await _scope(session, request, equipment_id)
    now = oee.utcnow()
    out = []
    for shift in await oee.shifts(session, equipment_id, start, end):
        a, b = max(shift.start, start), min(shift.end, end, now)
        if b <= a:
            continue
        planned = shift.planned_within(a, b)
        total, each = await oee.group_facts(session, members, a, b, now=now, planned=planned)
        out.append(
            OeeShiftOut(
                **oee_out(
                    total,
                    equipment_id=equipment.id,
                    code=equipment.code,
                    level=equipment.level,
                    start=a,
                    end=b,
                    machines=_machines(members, each, equipment),
                ),
                day=shift.day,
                shift_code=shift.shift_code,
                shift_name=shift.shift_name,
            )
        )
    return equipment, out


@router.get(
    "/equipment/{equipment_id}/shifts",
    response_model=list[OeeShiftOut],
    summary="OEE per shift",
    description="OEE of each shift of the equipment's calendar overlapping the range (clipped "
    "to it and to now).",
    responses=errors(401, 403, 404, 422),
)
async def oee_by_shift(
    session: SessionDep, request: Request, equipment_id: EquipmentId, start: Start, end: End
) -> list[OeeShiftOut]:
    """OEE per shift."""
    return (await _shift_rows(session, request, equipment_id, start, end))[1]


@router.get(
    "/equipment/{equipment_id}/days",
    response_model=list[OeeShiftOut],
    summary="OEE per production day",
    description="OEE of each production day (the shifts starting on that local date) "
    "overlapping the range.",
    responses=errors(401, 403, 404, 422),
)
async def oee_by_day(
    session: SessionDep, request: Request, equipment_id: EquipmentId, start: Start, end: End
) -> list[OeeShiftOut]:
    """OEE per production day."""
    equipment, rows = await _shift_rows(session, request, equipment_id, start, end)
    days: dict[object, list[OeeShiftOut]] = {}
    for row in rows:
        days.setdefault(row.day, []).append(row)
    out = []
    for day, items in days.items():
        total = OeeFacts.total(OeeFacts(**r.facts) for r in items)  # type: ignore[arg-type]
        out.append(
            OeeShiftOut(
                **oee_out(
                    total,
                    equipment_id=equipment.id,
                    code=equipment.code,
                    level=equipment.level,
                    start=items[0].start,
                    end=items[-1].end,
                ),
                day=day,  # type: ignore[arg-type]
                shift_code=None,
                shift_name=None,
            )
        )
    return out


@router.get(
    "/work-orders/{work_order_id}",
    response_model=OeeWorkOrderOut,
    summary="OEE of a work order",
    description="OEE over the stretches the work order ran (in progress or paused) on each "
    "machine it was dispatched to, and per stretch.",
    responses=errors(401, 403, 404, 422),
)
async def work_order_oee(
    session: SessionDep,
    request: Request,
    work_order_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> OeeWorkOrderOut:
    """OEE of a work order."""
    order = await work_orders.get(session, work_order_id)
    contexts = {c.id: c for c in await load_contexts(session, _thresholds(request))}
    now = oee.utcnow()
    runs = []
    total = OeeFacts()
    for run in await counters.stored_runs(session, work_order_id):
        ctx = contexts.get(run.equipment_id)
        if ctx is None:
            continue
        facts = await oee.equipment_facts(session, ctx, run.start, run.end or now, now=now)
        total = total + facts
        runs.append(
            OeeRunOut(
                equipment_id=ctx.id,
                equipment_code=ctx.code,
                operation_id=run.operation_id,
                start=run.start,
                end=run.end,
                **{k: v for k, v in factors(facts).items() if k != "planned_production_s"},
            )
        )
    return OeeWorkOrderOut(
        work_order_id=order.id,
        work_order_code=order.code,
        **factors(total),
        losses=calc.losses(total),
        runs=runs,
    )


@router.get(
    "/hours",
    response_model=Page[OeeHourOut],
    summary="List stored OEE hours",
    description="The hourly facts the engine keeps per machine (closed hours), newest first; "
    "`q` searches the equipment code.",
    responses=errors(401, 403, 422),
)
async def list_oee_hours(
    session: SessionDep,
    params: ListParamsDep,
    equipment_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    start: Annotated[AwareDatetime | None, Query(description="hours from (inclusive)")] = None,
    end: Annotated[AwareDatetime | None, Query(description="hours before (exclusive)")] = None,
) -> Page[OeeHourOut]:
    """List stored OEE hours."""
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("query.end", "must be after start")
    stmt = select(OeeHour).join(Equipment, Equipment.id == OeeHour.equipment_id)
    condition = HOUR_SPEC.where_search(params.q)
    if condition is not None:
        stmt = stmt.where(condition)
    if equipment_id is not None:
        stmt = stmt.where(OeeHour.equipment_id == equipment_id)
    if start is not None:
        stmt = stmt.where(OeeHour.hour >= start)
    if end is not None:
        stmt = stmt.where(OeeHour.hour < end)
    total_count = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = (
        await session.scalars(
            stmt.order_by(*HOUR_SPEC.order_by(params.sort), OeeHour.equipment_id)
            .limit(params.limit)
            .offset(params.offset)
        )
    ).all()
    items = []
    for row in rows:
        f = OeeFacts(**{c: getattr(row, c) for c in oee.FACT_COLUMNS})
        items.append(
            OeeHourOut(
                equipment_id=row.equipment_id,
                hour=row.hour,
                availability=calc.availability(f),
                performance=calc.performance(f),
                quality=calc.quality(f),
                oee=calc.oee(f),
                reason=calc.undefined_reason(f),
                calendar_s=f.calendar_s,
                run_s=f.run_s,
                good=f.good,
                scrap=f.scrap,
                computed_at=row.computed_at,
            )
        )
    return Page[OeeHourOut](
        items=items, total=total_count or 0, limit=params.limit, offset=params.offset
    )
