"""Production plan service: drafts and lines, release into work orders, close and cancel."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.equipment.models import Equipment, EquipmentLevel
from core.errors import Conflict, NotFound, ValidationFailed
from core.items.models import Item
from core.plans.models import PlanStatus, ProductionPlan, ProductionPlanLine
from core.plans.schemas import (
    PlanCreate,
    PlanLineCreate,
    PlanLineUpdate,
    PlanOut,
    PlanUpdate,
    ReleaseRequest,
)
from core.work_orders import service as work_orders
from core.work_orders.models import WorkOrder, WorkOrderAction
from core.work_orders.schemas import WorkOrderCreate

ENTITY = "production_plan"
LINE_ENTITY = "production_plan_line"
LINES_EDITABLE = frozenset({PlanStatus.DRAFT, PlanStatus.RELEASED})
LIST_SPEC = ListSpec(
    search=[ProductionPlan.code, ProductionPlan.name, ProductionPlan.description],
    sort={
        "id": ProductionPlan.id,
        "code": ProductionPlan.code,
        "name": ProductionPlan.name,
        "period_start": ProductionPlan.period_start,
        "status": ProductionPlan.status,
        "created_at": ProductionPlan.created_at,
        "updated_at": ProductionPlan.updated_at,
    },
    default_sort="-period_start,code",
)


async def _saved(session: AsyncSession, obj: Any) -> dict[str, Any]:
    """Flush, reload the columns the database set and snapshot for the audit."""
    await session.flush()
    await session.refresh(obj, [a.key for a in sa_inspect(obj).mapper.column_attrs])
    return audit.snapshot(obj)


def _lines() -> Any:
    return selectinload(ProductionPlan.lines).options(
        selectinload(ProductionPlanLine.item), selectinload(ProductionPlanLine.line)
    )


async def get(session: AsyncSession, plan_id: int, *, lock: bool = False) -> ProductionPlan:
    """The plan with its lines (row-locked with `lock`) or NotFound."""
    stmt = select(ProductionPlan).options(_lines()).where(ProductionPlan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update(of=ProductionPlan)
    plan = (await session.scalars(stmt.execution_options(populate_existing=True))).first()
    if plan is None:
        raise NotFound(f"production plan {plan_id} not found")
    return plan


async def list_plans(
    *,
    session: AsyncSession,
    params: ListParams,
    status: str | None = None,
    active_on: date | None = None,
    item_id: int | None = None,
    line_id: int | None = None,
) -> Page[PlanOut]:
    """Plans matching search (code, name, description) and filters."""
    stmt = select(ProductionPlan)
    if active_on is not None:
        stmt = stmt.where(
            ProductionPlan.period_start <= active_on, ProductionPlan.period_end >= active_on
        )
    for column, value in (
        (ProductionPlanLine.item_id, item_id),
        (ProductionPlanLine.line_id, line_id),
    ):
        if value is not None:
            stmt = stmt.where(
                ProductionPlan.id.in_(select(ProductionPlanLine.plan_id).where(column == value))
            )
    return await paginate(
        session, stmt, LIST_SPEC, params, schema=PlanOut, filters={ProductionPlan.status: status}
    )


async def _check_line_fields(
    session: AsyncSession,
    plan: ProductionPlan,
    *,
    item_id: int | None,
    line_id: int | None,
    due_date: date | None,
    field: str,
) -> None:
    if item_id is not None and await session.get(Item, item_id) is None:
        raise ValidationFailed(f"{field}.item_id", f"item {item_id} not found")
    if line_id is not None:
        line = await session.get(Equipment, line_id)
        if line is None:
            raise ValidationFailed(f"{field}.line_id", f"equipment {line_id} not found")
        if line.level != EquipmentLevel.LINE:
            raise ValidationFailed(
                f"{field}.line_id", f"{line.code} is a {line.level}, not a production line"
            )
    if due_date is not None and not plan.period_start <= due_date <= plan.period_end:
        raise ValidationFailed(
            f"{field}.due_date",
            f"{due_date.isoformat()} is outside the plan period "
            f"{plan.period_start.isoformat()}..{plan.period_end.isoformat()}",
        )


async def _add_line(
    session: AsyncSession,
    principal: Principal,
    plan: ProductionPlan,
    data: PlanLineCreate,
    field: str,
) -> ProductionPlanLine:
    await _check_line_fields(
        session,
        plan,
        item_id=data.item_id,
        line_id=data.line_id,
        due_date=data.due_date,
        field=field,
    )
    line = ProductionPlanLine(plan_id=plan.id, released_quantity=Decimal(0), **data.model_dump())
    session.add(line)
    after = await _saved(session, line)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=LINE_ENTITY,
        entity_id=line.id,
        after=after,
    )
    return line


async def create(
    *, session: AsyncSession, principal: Principal, data: PlanCreate
) -> ProductionPlan:
    """Create a draft plan with its lines; Conflict when the code is taken."""
    if await session.scalar(select(ProductionPlan.id).where(ProductionPlan.code == data.code)):
        raise Conflict(f"production plan code {data.code!r} already exists")
    plan = ProductionPlan(**data.model_dump(exclude={"lines"}), status=PlanStatus.DRAFT)
    session.add(plan)
    after = await _saved(session, plan)
    audit.record(
        session, principal=principal, action="create", entity=ENTITY, entity_id=plan.id, after=after
    )
    for index, line in enumerate(data.lines):
        await _add_line(session, principal, plan, line, f"body.lines.{index}")
    await session.commit()
    return await get(session, plan.id)


async def update(
    *, session: AsyncSession, principal: Principal, plan_id: int, data: PlanUpdate
) -> ProductionPlan:
    """Change the header of a draft (line due dates must stay inside the period)."""
    plan = await get(session, plan_id, lock=True)
    if plan.status != PlanStatus.DRAFT:
        raise Conflict(f"plan {plan.code} is {plan.status}; only drafts can be changed")
    changes = data.changes()
    start = changes.get("period_start", plan.period_start)
    end = changes.get("period_end", plan.period_end)
    if end < start:
        raise ValidationFailed("body.period_end", "must not be before period_start")
    outside = [
        line.id
        for line in plan.lines
        if line.due_date is not None and not start <= line.due_date <= end
    ]
    if outside:
        raise ValidationFailed(
            "body.period_start" if "period_start" in changes else "body.period_end",
            f"lines {outside} are due outside the new period",
        )
    before = audit.snapshot(plan)
    for field, value in changes.items():
        setattr(plan, field, value)
    after = await _saved(session, plan)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ENTITY,
        entity_id=plan_id,
        before=before,
        after=after,
    )
    await session.commit()
    return await get(session, plan_id)


async def delete(*, session: AsyncSession, principal: Principal, plan_id: int) -> None:
    """Delete a draft plan and its lines."""
    plan = await get(session, plan_id, lock=True)
    if plan.status != PlanStatus.DRAFT:
        raise Conflict(f"plan {plan.code} is {plan.status}; only drafts can be deleted")
    before = audit.snapshot(plan)
    before["lines"] = [audit.snapshot(line) for line in plan.lines]
    await session.delete(plan)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=ENTITY,
        entity_id=plan_id,
        before=before,
    )
    await session.commit()


async def _set_status(
    session: AsyncSession,
    principal: Principal,
    plan_id: int,
    sources: frozenset[PlanStatus],
    target: PlanStatus,
    action: str,
) -> ProductionPlan:
    plan = await get(session, plan_id, lock=True)
    if plan.status not in sources:
        raise Conflict(f"plan {plan.code} is {plan.status}; cannot {action} it")
    before = audit.snapshot(plan)
    plan.status = target
    after = await _saved(session, plan)
    audit.record(
        session,
        principal=principal,
        action=action,
        entity=ENTITY,
        entity_id=plan_id,
        before=before,
        after=after,
    )
    await session.commit()
    return await get(session, plan_id)


async def close(*, session: AsyncSession, principal: Principal, plan_id: int) -> ProductionPlan:
    """released -> closed: nothing more is released from the plan."""
    return await _set_status(
        session, principal, plan_id, frozenset({PlanStatus.RELEASED}), PlanStatus.CLOSED, "close"
    )


async def cancel(*, session: AsyncSession, principal: Principal, plan_id: int) -> ProductionPlan:
    """draft -> cancelled."""
    return await _set_status(
        session, principal, plan_id, frozenset({PlanStatus.DRAFT}), PlanStatus.CANCELLED, "cancel"
    )


async def _line(plan: ProductionPlan, line_id: int) -> ProductionPlanLine:
    line = next((ln for ln in plan.lines if ln.id == line_id), None)
    if line is None:
        raise NotFound(f"line {line_id} of plan {plan.code} not found")
    return line


def _require_lines_editable(plan: ProductionPlan) -> None:
    if plan.status not in LINES_EDITABLE:
        raise Conflict(f"plan {plan.code} is {plan.status}; its lines are frozen")


async def add_line(
    *, session: AsyncSession, principal: Principal, plan_id: int, data: PlanLineCreate
) -> ProductionPlanLine:
    """Add a line to a draft or released plan."""
    plan = await get(session, plan_id, lock=True)
    _require_lines_editable(plan)
    line = await _add_line(session, principal, plan, data, "body")
    await session.commit()
    return await _line(await get(session, plan_id), line.id)


async def update_line(
    *,
    session: AsyncSession,
    principal: Principal,
    plan_id: int,
    line_id: int,
    data: PlanLineUpdate,
) -> ProductionPlanLine:
    """Change a line; its quantity cannot drop below what was already released."""
    plan = await get(session, plan_id, lock=True)
    _require_lines_editable(plan)
    line = await _line(plan, line_id)
    changes = data.changes()
    await _check_line_fields(
        session,
        plan,
        item_id=None,
        line_id=changes.get("line_id"),
        due_date=changes.get("due_date"),
        field="body",
    )
    quantity = changes.get("quantity")
    if quantity is not None and quantity < line.released_quantity:
        raise ValidationFailed(
            "body.quantity", f"below the {line.released_quantity} already released"
        )
    before = audit.snapshot(line)
    for field, value in changes.items():
        setattr(line, field, value)
    after = await _saved(session, line)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=LINE_ENTITY,
        entity_id=line_id,
        before=before,
        after=after,
    )
    await session.commit()
    return await _line(await get(session, plan_id), line_id)


async def delete_line(
    *, session: AsyncSession, principal: Principal, plan_id: int, line_id: int
) -> None:
    """Remove a line nothing was released from."""
    plan = await get(session, plan_id, lock=True)
    _require_lines_editable(plan)
    line = await _line(plan, line_id)
    if line.released_quantity > 0:
        raise Conflict(f"line {line_id} has released work orders; reduce it instead")
    before = audit.snapshot(line)
    await session.delete(line)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=LINE_ENTITY,
        entity_id=line_id,
        before=before,
    )
    await session.commit()


def _batches(remaining: Decimal, batch_size: Decimal | None) -> list[Decimal]:
    """Split a quantity into orders of at most `batch_size`.

    >>> _batches(Decimal(1200), Decimal(500))
    [Decimal('500'), Decimal('500'), Decimal('200')]
    >>> _batches(Decimal(7), None)
    [Decimal('7')]
    """
    if batch_size is None:
        return [remaining]
    full, rest = divmod(remaining, batch_size)
    return [batch_size] * int(full) + ([rest] if rest > 0 else [])


async def release(
    *, session: AsyncSession, principal: Principal, plan_id: int, data: ReleaseRequest
) -> tuple[ProductionPlan, list[WorkOrder]]:
    """Create work orders for the unreleased quantity of the chosen lines, in one transaction."""
    plan = await get(session, plan_id, lock=True)
    if plan.status not in LINES_EDITABLE:
        raise Conflict(f"plan {plan.code} is {plan.status}; nothing can be released from it")
    chosen = plan.lines
    if data.line_ids is not None:
        unknown = sorted(set(data.line_ids) - {ln.id for ln in plan.lines})
        if unknown:
            raise ValidationFailed("body.line_ids", f"not lines of plan {plan.code}: {unknown}")
        chosen = [ln for ln in plan.lines if ln.id in set(data.line_ids)]
    created: list[WorkOrder] = []
    for line in chosen:
        remaining = line.quantity - line.released_quantity
        if remaining <= 0:
            continue
        for quantity in _batches(remaining, data.batch_size):
            order = await work_orders.create_in_session(
                session=session,
                principal=principal,
                data=WorkOrderCreate(
                    item_id=line.item_id,
                    quantity=quantity,
                    line_id=line.line_id,
                    due_date=line.due_date or plan.period_end,
                    note=f"plan {plan.code}",
                ),
                plan_line_id=line.id,
            )
            if data.release_orders:
                await work_orders.apply_transition(
                    session=session,
                    principal=principal,
                    work_order=await work_orders.get(session, order.id),
                    action=WorkOrderAction.RELEASE,
                    comment=f"released with plan {plan.code}",
                )
            created.append(order)
        before = audit.snapshot(line)
        line.released_quantity = line.quantity
        audit.record(
            session,
            principal=principal,
            action="release",
            entity=LINE_ENTITY,
            entity_id=line.id,
            before=before,
            after=await _saved(session, line),
        )
    if not created:
        raise Conflict(f"plan {plan.code}: nothing left to release on the chosen lines")
    before = audit.snapshot(plan)
    plan.status = PlanStatus.RELEASED
    audit.record(
        session,
        principal=principal,
        action="release",
        entity=ENTITY,
        entity_id=plan.id,
        before=before,
        after={**await _saved(session, plan), "work_orders": [o.id for o in created]},
    )
    await session.commit()
    orders = [await work_orders.get(session, o.id) for o in created]
    return await get(session, plan_id), orders
