"""Work order service: creation from routings, the state machine under row locks, dispatch and
quantity reports. Every change is audited in its transaction.

Functions ending in `_in_session` (and `lock`, `apply_transition`) do not commit: flows and other
services compose them into one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, selectinload

from core.audit import service as audit
from core.auth.principal import Principal
from core.calendar.service import EARLIEST
from core.common.listing import ListParams, ListSpec, paginate_rows
from core.common.schemas import Page
from core.equipment import service as equipment_service
from core.equipment.models import Equipment, EquipmentLevel, EquipmentStatus
from core.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from core.items.models import Item
from core.plans.models import ProductionPlanLine
from core.processes import service as routings
from core.work_orders import listing
from core.work_orders.models import (
    EDGES,
    OPEN_STATUSES,
    REPORTABLE_STATUSES,
    OperationStatus,
    ReportSource,
    WorkOrder,
    WorkOrderAction,
    WorkOrderOperation,
    WorkOrderReport,
    WorkOrderStatus,
    WorkOrderTransition,
)
from core.work_orders.schemas import (
    DispatchRequest,
    ReportCreate,
    ReportOut,
    TransitionOut,
    WorkOrderCreate,
    WorkOrderUpdate,
)

LIST_SPEC = listing.LIST_SPEC
ENTITY = "work_order"
REPORT_ENTITY = "work_order_report"
S = WorkOrderStatus
EDITABLE = frozenset({S.PLANNED, S.RELEASED})
DISPATCHABLE = OPEN_STATUSES
FUTURE_TOLERANCE = timedelta(minutes=5)


def now() -> datetime:
    """Current UTC time (transition, start and end timestamps)."""
    return datetime.now(UTC)


async def _saved(session: AsyncSession, obj: Any) -> dict[str, Any]:
    """Flush, reload the columns the database set and snapshot for the audit."""
    await session.flush()
    await session.refresh(obj, [a.key for a in sa_inspect(obj).mapper.column_attrs])
    return audit.snapshot(obj)


def _loaded() -> list[Any]:
    return [
        contains_eager(WorkOrder.item),
        selectinload(WorkOrder.line),
        selectinload(WorkOrder.equipment),
        selectinload(WorkOrder.operations).selectinload(WorkOrderOperation.equipment),
    ]


# --- reading ---------------------------------------------------------------------------------


async def get(session: AsyncSession, work_order_id: int, *, lock: bool = False) -> WorkOrder:
    """The work order with item, line, equipment and operations; `lock` takes its row lock
    (FOR UPDATE) first, so concurrent changes of one order run one after the other."""
    if lock:
        locked = await session.scalar(
            select(WorkOrder.id).where(WorkOrder.id == work_order_id).with_for_update()
        )
        if locked is None:
            raise NotFound(f"work order {work_order_id} not found")
    stmt = (
        select(WorkOrder)
        .join(WorkOrder.item)
        .options(*_loaded())
        .where(WorkOrder.id == work_order_id)
        .execution_options(populate_existing=True)
    )
    work_order = (await session.scalars(stmt)).first()
    if work_order is None:
        raise NotFound(f"work order {work_order_id} not found")
    return work_order


list_work_orders = listing.list_work_orders
"""Work orders matching search and filters (see core.work_orders.listing)."""


REPORT_SPEC = ListSpec(
    search=[
        WorkOrderOperation.name,
        Equipment.code,
        WorkOrderReport.username,
        WorkOrderReport.scrap_reason,
        WorkOrderReport.comment,
    ],
    sort={
        "id": WorkOrderReport.id,
        "reported_at": WorkOrderReport.reported_at,
        "good_quantity": WorkOrderReport.good_quantity,
        "scrap_quantity": WorkOrderReport.scrap_quantity,
        "source": WorkOrderReport.source,
        "username": WorkOrderReport.username,
    },
    default_sort="reported_at,id",
)
TRANSITION_SPEC = ListSpec(
    search=[
        WorkOrderTransition.from_status,
        WorkOrderTransition.to_status,
        WorkOrderTransition.username,
        WorkOrderTransition.comment,
    ],
    sort={
        "id": WorkOrderTransition.id,
        "at": WorkOrderTransition.at,
        "from_status": WorkOrderTransition.from_status,
        "to_status": WorkOrderTransition.to_status,
        "username": WorkOrderTransition.username,
    },
    default_sort="id",
)


async def list_transitions(
    *,
    session: AsyncSession,
    work_order_id: int,
    params: ListParams,
    from_status: WorkOrderStatus | None = None,
    to_status: WorkOrderStatus | None = None,
) -> Page[TransitionOut]:
    """State changes of the order (`q`: statuses, username and comment), oldest first unless
    sorted otherwise; NotFound for an unknown order."""
    await get(session, work_order_id)
    stmt = select(*WorkOrderTransition.__table__.c).where(
        WorkOrderTransition.work_order_id == work_order_id
    )
    return await paginate_rows(
        session,
        stmt,
        TRANSITION_SPEC,
        params,
        schema=TransitionOut,
        tiebreak=WorkOrderTransition.id,
        filters={
            WorkOrderTransition.from_status: from_status,
            WorkOrderTransition.to_status: to_status,
        },
    )


async def list_reports(
    *,
    session: AsyncSession,
    work_order_id: int,
    params: ListParams,
    operation_id: int | None = None,
    equipment_id: int | None = None,
    source: ReportSource | None = None,
) -> Page[ReportOut]:
    """Quantity reports of the order (`q`: operation name, equipment code, username, scrap
    reason and comment), oldest first unless sorted otherwise; NotFound for an unknown order."""
    await get(session, work_order_id)
    stmt = select(*WorkOrderReport.__table__.c).where(
        WorkOrderReport.work_order_id == work_order_id
    )
    if params.q:  # the operation and equipment are joined only to be searched
        stmt = stmt.outerjoin(
            WorkOrderOperation, WorkOrderOperation.id == WorkOrderReport.operation_id
        ).outerjoin(Equipment, Equipment.id == WorkOrderReport.equipment_id)
    return await paginate_rows(
        session,
        stmt,
        REPORT_SPEC,
        params,
        schema=ReportOut,
        tiebreak=WorkOrderReport.id,
        filters={
            WorkOrderReport.operation_id: operation_id,
            WorkOrderReport.equipment_id: equipment_id,
            WorkOrderReport.source: source,
        },
    )


# --- creating --------------------------------------------------------------------------------


async def _check_line(session: AsyncSession, line_id: int | None, field: str) -> None:
    if line_id is None:
        return
    line = await session.get(Equipment, line_id)
    if line is None:
        raise ValidationFailed(field, f"equipment {line_id} not found")
    if line.level != EquipmentLevel.LINE:
        raise ValidationFailed(field, f"{line.code} is a {line.level}, not a production line")


async def _next_code(session: AsyncSession) -> str:
    while True:
        number = await session.scalar(text("SELECT nextval('work_order_code_seq')"))
        code = f"WO-{number:06d}"
        if await session.scalar(select(WorkOrder.id).where(WorkOrder.code == code)) is None:
            return code


def _record(
    session: AsyncSession,
    principal: Principal,
    work_order: WorkOrder,
    frm: WorkOrderStatus | None,
    to: WorkOrderStatus,
    at: datetime,
    comment: str | None,
) -> None:
    session.add(
        WorkOrderTransition(
            work_order_id=work_order.id,
            from_status=frm,
            to_status=to,
            at=at,
            user_id=principal.subject,
            username=principal.display,
            comment=comment,
        )
    )


async def create_in_session(
    *,
    session: AsyncSession,
    principal: Principal,
    data: WorkOrderCreate,
    plan_line_id: int | None = None,
    field: str = "body",
) -> WorkOrder:
    """Create a planned work order with operations copied from the item's routing (no commit)."""
    item = await session.get(Item, data.item_id)
    if item is None:
        raise ValidationFailed(f"{field}.item_id", f"item {data.item_id} not found")
    await _check_line(session, data.line_id, f"{field}.line_id")
    if data.code is not None:
        if await session.scalar(select(WorkOrder.id).where(WorkOrder.code == data.code)):
            raise Conflict(f"work order code {data.code!r} already exists")
        code = data.code
    else:
        code = await _next_code(session)
    work_order = WorkOrder(
        **data.model_dump(exclude={"code"}), code=code, status=S.PLANNED, plan_line_id=plan_line_id
    )
    session.add(work_order)
    await session.flush()
    routing = await routings.for_item(session, item.id)
    for op in routing.operations if routing is not None else []:
        session.add(
            WorkOrderOperation(
                work_order_id=work_order.id,
                sequence=op.sequence,
                name=op.name,
                work_center_id=op.work_center_id,
                equipment_type=op.equipment_type,
                setup_time_s=op.setup_time_s,
                ideal_cycle_time_s=op.ideal_cycle_time_s,
                status=OperationStatus.PENDING,
            )
        )
    after = await _saved(session, work_order)
    after["operations"] = len(routing.operations) if routing is not None else 0
    _record(session, principal, work_order, None, S.PLANNED, now(), None)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=work_order.id,
        after=after,
    )
    return work_order


async def create(
    *, session: AsyncSession, principal: Principal, data: WorkOrderCreate
) -> WorkOrder:
    """Create a work order by hand."""
    work_order = await create_in_session(session=session, principal=principal, data=data)
    await session.commit()
    return await get(session, work_order.id)


async def update(
    *, session: AsyncSession, principal: Principal, work_order_id: int, data: WorkOrderUpdate
) -> WorkOrder:
    """Change a planned or released order."""
    work_order = await get(session, work_order_id, lock=True)
    if work_order.status not in EDITABLE:
        raise Conflict(
            f"work order {work_order.code} is {work_order.status}; only planned or released "
            "orders can be changed"
        )
    changes = data.changes()
    if "line_id" in changes:
        await _check_line(session, changes["line_id"], "body.line_id")
    start = changes.get("planned_start", work_order.planned_start)
    end = changes.get("planned_end", work_order.planned_end)
    if start is not None and end is not None and end < start:
        raise ValidationFailed("body.planned_end", "must not be before planned_start")
    before = audit.snapshot(work_order)
    for field, value in changes.items():
        setattr(work_order, field, value)
    after = await _saved(session, work_order)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ENTITY,
        entity_id=work_order_id,
        before=before,
        after=after,
    )
    await session.commit()
    return await get(session, work_order_id)


async def delete(*, session: AsyncSession, principal: Principal, work_order_id: int) -> None:
    """Delete a planned order (others are cancelled instead, to keep their history)."""
    work_order = await get(session, work_order_id, lock=True)
    if work_order.status != S.PLANNED:
        raise Conflict(
            f"work order {work_order.code} is {work_order.status}; only planned orders can be "
            "deleted (cancel it instead)"
        )
    before = audit.snapshot(work_order)
    await session.delete(work_order)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=ENTITY,
        entity_id=work_order_id,
        before=before,
    )
    await session.commit()


# --- state machine ---------------------------------------------------------------------------


def check_action(
    work_order: WorkOrder, action: WorkOrderAction
) -> tuple[WorkOrderStatus, WorkOrderStatus]:
    """(current, next) status, or InvalidTransition when the action does not apply now."""
    current = WorkOrderStatus(work_order.status)
    sources, target = EDGES[action]
    if current not in sources:
        allowed = [a.value for a, (src, _) in EDGES.items() if current in src]
        raise InvalidTransition(
            f"work order {work_order.code} is {current}; cannot {action} it "
            f"(possible: {', '.join(allowed) or 'nothing, the state is final'})"
        )
    return current, target


async def apply_transition(
    *,
    session: AsyncSession,
    principal: Principal,
    work_order: WorkOrder,
    action: WorkOrderAction,
    comment: str | None = None,
    audit_extra: dict[str, Any] | None = None,
) -> None:
    """Apply an action to a locked order: timestamps, transition row and audit (no commit)."""
    current, target = check_action(work_order, action)
    at = now()
    before = audit.snapshot(work_order)
    work_order.status = target
    if target == S.IN_PROGRESS and work_order.actual_start is None:
        work_order.actual_start = at
    if target == S.COMPLETED:
        work_order.actual_end = at
        for op in work_order.operations:
            op.status = OperationStatus.DONE
            op.actual_end = op.actual_end or at
    if target == S.CANCELLED and work_order.actual_start is not None:
        work_order.actual_end = at
    _record(session, principal, work_order, current, target, at, comment)
    after = await _saved(session, work_order)
    audit.record(
        session,
        principal=principal,
        action=action.value,
        entity=ENTITY,
        entity_id=work_order.id,
        before=before,
        after={**after, **(audit_extra or {}), **({"comment": comment} if comment else {})},
    )


async def transition(
    *,
    session: AsyncSession,
    principal: Principal,
    work_order_id: int,
    action: WorkOrderAction,
    comment: str | None = None,
) -> WorkOrder:
    """Release, start, pause, resume or cancel an order under its row lock (completion is
    `flows.complete`)."""
    work_order = await get(session, work_order_id, lock=True)
    await apply_transition(
        session=session, principal=principal, work_order=work_order, action=action, comment=comment
    )
    await session.commit()
    return await get(session, work_order_id)


# --- dispatch and reports --------------------------------------------------------------------


async def _check_dispatch_target(
    session: AsyncSession, equipment: Equipment, within: int | None, equipment_type: str | None
) -> None:
    if equipment.level not in (EquipmentLevel.MACHINE, EquipmentLevel.CELL):
        raise ValidationFailed(
            "body.equipment_id", f"{equipment.code} is a {equipment.level}, not a machine or cell"
        )
    if equipment.status != EquipmentStatus.IN_SERVICE:
        raise Conflict(f"equipment {equipment.code} is {equipment.status}, not in service")
    if within is not None and equipment.id not in await equipment_service.descendant_ids(
        session, within
    ):
        center = await session.get(Equipment, within)
        raise ValidationFailed(
            "body.equipment_id",
            f"{equipment.code} is not part of {center.code if center else within}",
        )
    if equipment_type is not None and equipment.type != equipment_type:
        raise ValidationFailed(
            "body.equipment_id",
            f"{equipment.code} is of type {equipment.type!r}; the operation needs "
            f"{equipment_type!r}",
        )


async def dispatch(
    *, session: AsyncSession, principal: Principal, work_order_id: int, data: DispatchRequest
) -> WorkOrder:
    """Assign the order (or one operation) to a machine or cell inside its line/work center."""
    work_order = await get(session, work_order_id, lock=True)
    if work_order.status not in DISPATCHABLE:
        raise Conflict(f"work order {work_order.code} is {work_order.status}; it is closed")
    equipment = await session.get(Equipment, data.equipment_id)
    if equipment is None:
        raise ValidationFailed("body.equipment_id", f"equipment {data.equipment_id} not found")
    target: WorkOrder | WorkOrderOperation = work_order
    if data.operation_id is None:
        await _check_dispatch_target(session, equipment, work_order.line_id, None)
    else:
        operation = next((o for o in work_order.operations if o.id == data.operation_id), None)
        if operation is None:
            raise ValidationFailed(
                "body.operation_id",
                f"operation {data.operation_id} is not part of work order {work_order.code}",
            )
        if operation.status == OperationStatus.DONE:
            raise Conflict(f"operation {operation.sequence} is done")
        await _check_dispatch_target(
            session,
            equipment,
            operation.work_center_id or work_order.line_id,
            operation.equipment_type,
        )
        target = operation
    before = {"equipment_id": target.equipment_id}
    target.equipment_id = equipment.id
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="dispatch",
        entity=ENTITY,
        entity_id=work_order.id,
        before=before,
        after={"equipment_id": equipment.id, "operation_id": data.operation_id},
    )
    await session.commit()
    return await get(session, work_order_id)


def _roll_up(work_order: WorkOrder) -> None:
    """Order totals from operation totals: good of the last operation, scrap of all."""
    if not work_order.operations:
        return
    work_order.good_quantity = work_order.operations[-1].good_quantity
    work_order.scrap_quantity = sum((o.scrap_quantity for o in work_order.operations), Decimal(0))


async def report(
    *, session: AsyncSession, principal: Principal, work_order_id: int, data: ReportCreate
) -> WorkOrderReport:
    """Record good and scrap quantities at an operation of an order in progress or paused."""
    work_order = await get(session, work_order_id, lock=True)
    if work_order.status not in REPORTABLE_STATUSES:
        raise Conflict(
            f"work order {work_order.code} is {work_order.status}; quantities are reported "
            "while it is in progress or paused"
        )
    at = data.reported_at or now()
    if at.tzinfo is None:
        raise ValidationFailed("body.reported_at", "give a time zone (e.g. Z)")
    if at > now() + FUTURE_TOLERANCE:
        raise ValidationFailed("body.reported_at", "lies in the future")
    if at < EARLIEST:
        raise ValidationFailed("body.reported_at", "must not be before 2000-01-01")
    operation: WorkOrderOperation | None = None
    if data.operation_id is not None:
        operation = next((o for o in work_order.operations if o.id == data.operation_id), None)
        if operation is None:
            raise ValidationFailed(
                "body.operation_id",
                f"operation {data.operation_id} is not part of work order {work_order.code}",
            )
    elif work_order.operations:
        raise ValidationFailed(
            "body.operation_id", "required: the order has operations; report against one"
        )
    equipment_id = data.equipment_id
    if equipment_id is not None:
        if await session.get(Equipment, equipment_id) is None:
            raise ValidationFailed("body.equipment_id", f"equipment {equipment_id} not found")
    else:
        equipment_id = (operation.equipment_id if operation else None) or work_order.equipment_id
    row = WorkOrderReport(
        work_order_id=work_order.id,
        operation_id=operation.id if operation else None,
        equipment_id=equipment_id,
        good_quantity=data.good_quantity,
        scrap_quantity=data.scrap_quantity,
        scrap_reason=data.scrap_reason,
        reported_at=at,
        source=data.source,
        user_id=principal.subject,
        username=principal.display,
        comment=data.comment,
    )
    session.add(row)
    before = audit.snapshot(work_order)
    if operation is not None:
        operation.good_quantity += data.good_quantity
        operation.scrap_quantity += data.scrap_quantity
        if operation.status == OperationStatus.PENDING:
            operation.status = OperationStatus.IN_PROGRESS
        if operation.actual_start is None or at < operation.actual_start:
            operation.actual_start = at
        _roll_up(work_order)
    else:
        work_order.good_quantity += data.good_quantity
        work_order.scrap_quantity += data.scrap_quantity
    after_report = await _saved(session, row)
    after = await _saved(session, work_order)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=REPORT_ENTITY,
        entity_id=row.id,
        after=after_report,
    )
    audit.record(
        session,
        principal=principal,
        action="report",
        entity=ENTITY,
        entity_id=work_order.id,
        before={k: before[k] for k in ("good_quantity", "scrap_quantity")},
        after={k: after[k] for k in ("good_quantity", "scrap_quantity")},
    )
    await session.commit()
    return row


async def open_supply(
    *, session: AsyncSession, item_ids: list[int], exclude_plan_id: int | None = None
) -> dict[int, Decimal]:
    """Quantity still to come from open work orders, per item (one query)."""
    if not item_ids:
        return {}
    stmt = (
        select(
            WorkOrder.item_id,
            func.sum(func.greatest(WorkOrder.quantity - WorkOrder.good_quantity, 0)),
        )
        .where(
            WorkOrder.item_id.in_(item_ids),
            WorkOrder.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .group_by(WorkOrder.item_id)
    )
    if exclude_plan_id is not None:
        stmt = stmt.where(
            WorkOrder.plan_line_id.is_(None)
            | WorkOrder.plan_line_id.not_in(
                select(ProductionPlanLine.id).where(ProductionPlanLine.plan_id == exclude_plan_id)
            )
        )
    rows = await session.execute(stmt)
    return {item_id: Decimal(quantity) for item_id, quantity in rows}
