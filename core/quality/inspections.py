"""Inspections and their results, with automatic pass/fail of each result and of the
inspection once every sample is in."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from core.inventory.models import Lot
from core.quality import plans
from core.quality.models import (
    Characteristic,
    CharacteristicKind,
    Inspection,
    InspectionPlan,
    InspectionResult,
    InspectionStatus,
)
from core.quality.schemas import (
    InspectionCreate,
    InspectionOut,
    InspectionSummary,
    ResultCreate,
    ResultOut,
    ResultsCreate,
)
from core.work_orders.models import WorkOrder

ENTITY = "inspection"
LIST_SPEC = ListSpec(
    # plan, work order and lot are joined (by primary key, at most one row each) when searching
    search=[
        Inspection.inspector,
        Inspection.notes,
        InspectionPlan.code,
        InspectionPlan.name,
        WorkOrder.code,
        Lot.code,
    ],
    sort={
        "id": Inspection.id,
        "created_at": Inspection.created_at,
        "completed_at": Inspection.completed_at,
        "status": Inspection.status,
    },
    default_sort="-id",
)


def passes(characteristic: Characteristic, result: ResultCreate) -> bool:
    """Whether one result conforms: numeric within [LSL, USL], attribute as reported."""
    if characteristic.kind == CharacteristicKind.ATTRIBUTE:
        return bool(result.passed)
    assert result.value is not None
    low, high = characteristic.lsl, characteristic.usl
    return (low is None or result.value >= low) and (high is None or result.value <= high)


async def require_work_order(session: AsyncSession, work_order_id: int, field: str) -> None:
    """NotFound naming `field` unless the work order exists."""
    if await session.scalar(select(WorkOrder.id).where(WorkOrder.id == work_order_id)) is None:
        raise NotFound(
            f"work order {work_order_id} not found",
            details=[ErrorDetail(field=field, reason="not found")],
        )


async def _get(session: AsyncSession, inspection_id: int, *, lock: bool = False) -> Inspection:
    stmt = select(Inspection).where(Inspection.id == inspection_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    inspection = await session.scalar(stmt)
    if inspection is None:
        raise NotFound(f"inspection {inspection_id} not found")
    return inspection


async def get(*, session: AsyncSession, inspection_id: int) -> InspectionOut:
    """The inspection with its results and progress, or NotFound."""
    inspection = await _get(session, inspection_id)
    plan = await plans.get_plan(session=session, plan_id=inspection.plan_id)
    results = (
        await session.scalars(
            select(InspectionResult)
            .where(InspectionResult.inspection_id == inspection_id)
            .order_by(InspectionResult.characteristic_id, InspectionResult.sample_no)
        )
    ).all()
    return InspectionOut(
        **InspectionSummary.model_validate(inspection).model_dump(),
        results=[ResultOut.model_validate(r) for r in results],
        samples_recorded=len(results),
        samples_required=sum(c.sample_size for c in plan.characteristics),
        failed_results=sum(1 for r in results if not r.passed),
    )


async def list_inspections(
    *,
    session: AsyncSession,
    params: ListParams,
    plan_id: int | None = None,
    status: str | None = None,
    work_order_id: int | None = None,
    lot_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[InspectionSummary]:
    """Inspections matching search and filters (`q`: inspector, notes, the plan's code and name,
    the work order's code and the lot's code)."""
    stmt = select(Inspection)
    if params.q:
        stmt = (
            stmt.join(InspectionPlan, InspectionPlan.id == Inspection.plan_id)
            .outerjoin(WorkOrder, WorkOrder.id == Inspection.work_order_id)
            .outerjoin(Lot, Lot.id == Inspection.lot_id)
        )
    if since is not None:
        stmt = stmt.where(Inspection.created_at >= since)
    if until is not None:
        stmt = stmt.where(Inspection.created_at < until)
    return await paginate(
        session,
        stmt,
        LIST_SPEC,
        params,
        schema=InspectionSummary,
        filters={
            Inspection.plan_id: plan_id,
            Inspection.status: status,
            Inspection.work_order_id: work_order_id,
            Inspection.lot_id: lot_id,
        },
    )


async def create(
    *, session: AsyncSession, principal: Principal, data: InspectionCreate
) -> InspectionOut:
    """Start an inspection; the plan must be active with characteristics, the lot of its item."""
    plan = await plans.get_plan(session=session, plan_id=data.plan_id, field="body.plan_id")
    if not plan.active:
        raise Conflict(f"inspection plan {plan.code!r} is inactive")
    if not plan.characteristics:
        raise Conflict(f"inspection plan {plan.code!r} has no characteristics to inspect")
    if data.work_order_id is not None:
        await require_work_order(session, data.work_order_id, "body.work_order_id")
    if data.lot_id is not None:
        lot = await session.get(Lot, data.lot_id)
        if lot is None:
            raise NotFound(
                f"lot {data.lot_id} not found",
                details=[ErrorDetail(field="body.lot_id", reason="not found")],
            )
        if lot.item_id != plan.item_id:
            raise ValidationFailed(
                "body.lot_id",
                f"lot {lot.code!r} is not a lot of the item plan {plan.code!r} inspects",
            )
    inspection = Inspection(**data.model_dump(), inspector=principal.display)
    session.add(inspection)
    await session.flush()
    await session.refresh(inspection)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=inspection.id,
        after=audit.snapshot(inspection),
    )
    await session.commit()
    return await get(session=session, inspection_id=inspection.id)


async def record_results(
    *, session: AsyncSession, principal: Principal, inspection_id: int, data: ResultsCreate
) -> InspectionOut:
    """Record sample results; each passes or fails on its own, and when every sample of every
    characteristic is in, the inspection passes (all passed) or fails. All or nothing."""
    inspection = await _get(session, inspection_id, lock=True)
    if inspection.status != InspectionStatus.OPEN:
        raise Conflict(f"inspection {inspection_id} is {inspection.status}; no more results")
    plan = await plans.get_plan(session=session, plan_id=inspection.plan_id)
    by_id = {c.id: c for c in plan.characteristics}
    taken: dict[int, set[int]] = {c.id: set() for c in plan.characteristics}
    for characteristic_id, sample_no in (
        await session.execute(
            select(InspectionResult.characteristic_id, InspectionResult.sample_no).where(
                InspectionResult.inspection_id == inspection_id
            )
        )
    ).all():
        taken[characteristic_id].add(sample_no)
    rows = []
    for index, result in enumerate(data.results):
        where = f"body.results.{index}"
        characteristic = by_id.get(result.characteristic_id)
        if characteristic is None:
            raise ValidationFailed(
                f"{where}.characteristic_id",
                f"characteristic {result.characteristic_id} is not in plan {plan.code!r}",
            )
        _check_shape(characteristic, result, where)
        used = taken[characteristic.id]
        sample_no = result.sample_no or next(
            (n for n in range(1, characteristic.sample_size + 1) if n not in used),
            characteristic.sample_size + 1,
        )
        if sample_no > characteristic.sample_size:
            raise ValidationFailed(
                f"{where}.sample_no",
                f"characteristic {characteristic.code!r} takes {characteristic.sample_size} "
                f"sample(s); all are recorded or {sample_no} is beyond them",
            )
        if sample_no in used:
            raise Conflict(
                f"sample {sample_no} of characteristic {characteristic.code!r} is already recorded",
                details=[ErrorDetail(field=f"{where}.sample_no", reason="already recorded")],
            )
        used.add(sample_no)
        row = InspectionResult(
            inspection_id=inspection_id,
            characteristic_id=characteristic.id,
            sample_no=sample_no,
            value=result.value,
            passed=passes(characteristic, result),
            recorded_by=principal.display,
            notes=result.notes,
        )
        if result.measured_at is not None:
            row.measured_at = result.measured_at
        rows.append(row)
    session.add_all(rows)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="results",
        entity=ENTITY,
        entity_id=inspection_id,
        after={"results": [_result_audit(r) for r in rows]},
    )
    await _decide(session, principal, inspection, plan.characteristics, taken)
    await session.commit()
    return await get(session=session, inspection_id=inspection_id)


def _check_shape(characteristic: Characteristic, result: ResultCreate, where: str) -> None:
    if characteristic.kind == CharacteristicKind.NUMERIC:
        if result.value is None:
            raise ValidationFailed(
                f"{where}.value", f"numeric characteristic {characteristic.code!r} needs a value"
            )
        if result.passed is not None:
            raise ValidationFailed(
                f"{where}.passed", "pass/fail of a numeric result is decided by its limits"
            )
    else:
        if result.passed is None:
            raise ValidationFailed(
                f"{where}.passed",
                f"attribute characteristic {characteristic.code!r} needs passed true or false",
            )
        if result.value is not None:
            raise ValidationFailed(f"{where}.value", "an attribute result has no value")


def _result_audit(row: InspectionResult) -> dict[str, Any]:
    return {
        "characteristic_id": row.characteristic_id,
        "sample_no": row.sample_no,
        "value": row.value,
        "passed": row.passed,
    }


async def _decide(
    session: AsyncSession,
    principal: Principal,
    inspection: Inspection,
    characteristics: list[Characteristic],
    taken: dict[int, set[int]],
) -> None:
    """Close the inspection with its verdict once every sample is recorded."""
    if any(len(taken[c.id]) < c.sample_size for c in characteristics):
        return
    verdicts = Counter(
        (
            await session.scalars(
                select(InspectionResult.passed).where(
                    InspectionResult.inspection_id == inspection.id
                )
            )
        ).all()
    )
    now = await session.scalar(select(func.now()))
    before = audit.snapshot(inspection)
    inspection.status = InspectionStatus.FAILED if verdicts[False] else InspectionStatus.PASSED
    inspection.completed_at = now
    await session.flush()
    await session.refresh(inspection)
    audit.record(
        session,
        principal=principal,
        action="transition",
        entity=ENTITY,
        entity_id=inspection.id,
        before=before,
        after=audit.snapshot(inspection),
    )
