"""Inspection plans and their characteristics; every change is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from core.items.models import Item
from core.processes.models import Routing, RoutingOperation
from core.quality.models import (
    Characteristic,
    CharacteristicKind,
    Inspection,
    InspectionPlan,
    InspectionResult,
)
from core.quality.schemas import (
    CharacteristicCreate,
    CharacteristicUpdate,
    PlanCreate,
    PlanSummary,
    PlanUpdate,
    check_limits,
)

PLAN = "inspection_plan"
CHARACTERISTIC = "inspection_characteristic"
LIST_SPEC = ListSpec(
    search=[InspectionPlan.code, InspectionPlan.name],
    sort={
        "id": InspectionPlan.id,
        "code": InspectionPlan.code,
        "name": InspectionPlan.name,
        "created_at": InspectionPlan.created_at,
        "updated_at": InspectionPlan.updated_at,
    },
    default_sort="code",
)


def plan_snapshot(plan: InspectionPlan) -> dict[str, Any]:
    """The plan and its characteristics for the audit trail."""
    return {
        **audit.snapshot(plan),
        "characteristics": [audit.snapshot(c) for c in plan.characteristics],
    }


async def get_plan(
    *, session: AsyncSession, plan_id: int, field: str | None = None
) -> InspectionPlan:
    """The plan with its characteristics, or NotFound."""
    plan = await session.scalar(
        select(InspectionPlan)
        .where(InspectionPlan.id == plan_id)
        .options(selectinload(InspectionPlan.characteristics))
        .execution_options(populate_existing=True)
    )
    if plan is None:
        details = [ErrorDetail(field=field, reason="not found")] if field else None
        raise NotFound(f"inspection plan {plan_id} not found", details=details)
    return plan


async def list_plans(
    *,
    session: AsyncSession,
    params: ListParams,
    item_id: int | None = None,
    operation_id: int | None = None,
    active: bool | None = None,
) -> Page[PlanSummary]:
    """Plans matching search and filters."""
    return await paginate(
        session,
        select(InspectionPlan),
        LIST_SPEC,
        params,
        schema=PlanSummary,
        filters={
            InspectionPlan.item_id: item_id,
            InspectionPlan.operation_id: operation_id,
            InspectionPlan.active: active,
        },
    )


async def _check_operation(session: AsyncSession, operation_id: int, item_id: int) -> None:
    """The routing operation exists and belongs to the routing of the plan's item."""
    owner = await session.scalar(
        select(Routing.item_id)
        .join(RoutingOperation, RoutingOperation.routing_id == Routing.id)
        .where(RoutingOperation.id == operation_id)
    )
    if owner is None:
        raise NotFound(
            f"routing operation {operation_id} not found",
            details=[ErrorDetail(field="body.operation_id", reason="not found")],
        )
    if owner != item_id:
        raise ValidationFailed(
            "body.operation_id",
            f"routing operation {operation_id} is not on the routing of this item",
        )


async def create_plan(
    *, session: AsyncSession, principal: Principal, data: PlanCreate
) -> InspectionPlan:
    """Create a plan with its characteristics; Conflict when the code is taken."""
    if await session.get(Item, data.item_id) is None:
        raise NotFound(
            f"item {data.item_id} not found",
            details=[ErrorDetail(field="body.item_id", reason="not found")],
        )
    if await session.scalar(select(InspectionPlan.id).where(InspectionPlan.code == data.code)):
        raise Conflict(f"inspection plan code {data.code!r} already exists")
    if data.operation_id is not None:
        await _check_operation(session, data.operation_id, data.item_id)
    plan = InspectionPlan(**data.model_dump(exclude={"characteristics"}))
    plan.characteristics = [Characteristic(**c.model_dump()) for c in data.characteristics]
    session.add(plan)
    await session.flush()
    plan = await get_plan(session=session, plan_id=plan.id)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=PLAN,
        entity_id=plan.id,
        after=plan_snapshot(plan),
    )
    await session.commit()
    return plan


async def update_plan(
    *, session: AsyncSession, principal: Principal, plan_id: int, data: PlanUpdate
) -> InspectionPlan:
    """Change name, operation, active flag or description."""
    plan = await get_plan(session=session, plan_id=plan_id)
    changes = data.changes()
    if changes.get("operation_id") is not None:
        await _check_operation(session, changes["operation_id"], plan.item_id)
    before = audit.snapshot(plan)
    for field, value in changes.items():
        setattr(plan, field, value)
    await session.flush()
    plan = await get_plan(session=session, plan_id=plan_id)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=PLAN,
        entity_id=plan.id,
        before=before,
        after=audit.snapshot(plan),
    )
    await session.commit()
    return plan


async def delete_plan(*, session: AsyncSession, principal: Principal, plan_id: int) -> None:
    """Delete a plan never used by an inspection (deactivate it otherwise)."""
    plan = await get_plan(session=session, plan_id=plan_id)
    if await session.scalar(select(exists().where(Inspection.plan_id == plan_id))):
        raise Conflict(f"inspection plan {plan.code!r} has inspections; deactivate it instead")
    before = plan_snapshot(plan)
    await session.delete(plan)
    await session.flush()
    audit.record(
        session, principal=principal, action="delete", entity=PLAN, entity_id=plan_id, before=before
    )
    await session.commit()


async def _has_results(session: AsyncSession, characteristic_id: int) -> bool:
    return bool(
        await session.scalar(
            select(exists().where(InspectionResult.characteristic_id == characteristic_id))
        )
    )


async def get_characteristic(*, session: AsyncSession, characteristic_id: int) -> Characteristic:
    """The characteristic or NotFound."""
    found = await session.get(Characteristic, characteristic_id)
    if found is None:
        raise NotFound(f"characteristic {characteristic_id} not found")
    return found


async def add_characteristic(
    *, session: AsyncSession, principal: Principal, plan_id: int, data: CharacteristicCreate
) -> Characteristic:
    """Add a characteristic to a plan; Conflict when the code is taken in the plan."""
    plan = await get_plan(session=session, plan_id=plan_id)
    if any(c.code == data.code for c in plan.characteristics):
        raise Conflict(f"plan {plan.code!r} already has a characteristic {data.code!r}")
    characteristic = Characteristic(plan_id=plan.id, **data.model_dump())
    session.add(characteristic)
    await session.flush()
    await session.refresh(characteristic)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=CHARACTERISTIC,
        entity_id=characteristic.id,
        after=audit.snapshot(characteristic),
    )
    await session.commit()
    return characteristic


async def update_characteristic(
    *,
    session: AsyncSession,
    principal: Principal,
    characteristic_id: int,
    data: CharacteristicUpdate,
) -> Characteristic:
    """Change name, order, unit, limits or sample size; the limits must still fit the kind.

    Results already recorded keep the pass/fail decided when they were recorded.
    """
    characteristic = await get_characteristic(session=session, characteristic_id=characteristic_id)
    before = audit.snapshot(characteristic)
    changes = data.changes()

    def pick(name: str) -> Any:
        return changes[name] if name in changes else getattr(characteristic, name)

    kind = CharacteristicKind(characteristic.kind)
    problem = check_limits(kind, pick("lsl"), pick("usl"), pick("target"))
    if problem:
        field = next((f for f in ("lsl", "usl", "target") if f in changes), "lsl")
        raise ValidationFailed(f"body.{field}", problem)
    if changes.get("sample_size", characteristic.sample_size) != characteristic.sample_size and (
        await _has_results(session, characteristic_id)
    ):
        raise Conflict(
            f"characteristic {characteristic.code!r} has recorded results; its sample size "
            "cannot change (add a new characteristic instead)"
        )
    for field, value in changes.items():
        setattr(characteristic, field, value)
    await session.flush()
    await session.refresh(characteristic)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=CHARACTERISTIC,
        entity_id=characteristic.id,
        before=before,
        after=audit.snapshot(characteristic),
    )
    await session.commit()
    return characteristic


async def delete_characteristic(
    *, session: AsyncSession, principal: Principal, characteristic_id: int
) -> None:
    """Delete a characteristic with no recorded results."""
    characteristic = await get_characteristic(session=session, characteristic_id=characteristic_id)
    if await _has_results(session, characteristic_id):
        raise Conflict(f"characteristic {characteristic.code!r} has recorded results")
    before = audit.snapshot(characteristic)
    await session.delete(characteristic)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=CHARACTERISTIC,
        entity_id=characteristic_id,
        before=before,
    )
    await session.commit()
