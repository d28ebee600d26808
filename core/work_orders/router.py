"""/api/v1/work-orders: work orders, their state machine, dispatch, quantity reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, status

from core.auth.deps import require
from core.auth.principal import Principal
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import errors
from core.work_orders import flows, service
from core.work_orders.models import ReportSource, WorkOrderAction, WorkOrderStatus
from core.work_orders.schemas import (
    CompleteRequest,
    CompletionOut,
    ConsumedComponent,
    DispatchRequest,
    ReportCreate,
    ReportOut,
    TransitionOut,
    TransitionRequest,
    WorkOrderCreate,
    WorkOrderDetail,
    WorkOrderOut,
    WorkOrderUpdate,
)

router = APIRouter(prefix="/work-orders", tags=["work-orders"])

WorkOrderId = Annotated[int, Path(ge=1, le=2**31 - 1, description="work order id")]
Planner = Annotated[Principal, require("work_orders:write")]
Operator = Annotated[Principal, require("work_orders:execute")]
READ = [require("work_orders:read")]
OptionalComment = Annotated[TransitionRequest | None, Body()]
TRANSITION_ERRORS = errors(401, 403, 404, 409, 422)


@router.get(
    "",
    response_model=Page[WorkOrderOut],
    summary="List work orders",
    description="Search (`q` over the order code and the item code and name), filter by one or "
    "more statuses, item, line, equipment, plan or plan line and due-date range; sort and page.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_work_orders(
    session: SessionDep,
    params: ListParamsDep,
    status: Annotated[
        list[WorkOrderStatus] | None, Query(description="any of these statuses")
    ] = None,
    item_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    line_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    equipment_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    plan_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    plan_line_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    due_from: Annotated[date | None, Query(description="due on or after")] = None,
    due_to: Annotated[date | None, Query(description="due on or before")] = None,
) -> Page[WorkOrderOut]:
    """List work orders."""
    return await service.list_work_orders(
        session=session,
        params=params,
        status=status,
        item_id=item_id,
        line_id=line_id,
        equipment_id=equipment_id,
        plan_id=plan_id,
        plan_line_id=plan_line_id,
        due_from=due_from,
        due_to=due_to,
    )


@router.post(
    "",
    response_model=WorkOrderDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Create a work order",
    description="A planned work order made by hand; the item's routing operations are copied "
    "into it. Plans create theirs with `POST /plans/{plan_id}/release`.",
    responses=errors(401, 403, 409, 422),
)
async def create_work_order(
    session: SessionDep, principal: Planner, data: WorkOrderCreate
) -> WorkOrderDetail:
    """Create a work order."""
    work_order = await service.create(session=session, principal=principal, data=data)
    return WorkOrderDetail.model_validate(work_order)


@router.get(
    "/{work_order_id}",
    response_model=WorkOrderDetail,
    summary="Get a work order",
    description="One work order with its operations and their progress.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_work_order(session: SessionDep, work_order_id: WorkOrderId) -> WorkOrderDetail:
    """Get a work order."""
    return WorkOrderDetail.model_validate(await service.get(session, work_order_id))


@router.patch(
    "/{work_order_id}",
    response_model=WorkOrderDetail,
    summary="Update a work order",
    description="Change quantity, line, priority, dates or note while the order is planned or "
    "released (409 afterwards).",
    responses=errors(401, 403, 404, 409, 422),
)
async def update_work_order(
    session: SessionDep, principal: Planner, work_order_id: WorkOrderId, data: WorkOrderUpdate
) -> WorkOrderDetail:
    """Update a work order."""
    work_order = await service.update(
        session=session, principal=principal, work_order_id=work_order_id, data=data
    )
    return WorkOrderDetail.model_validate(work_order)


@router.delete(
    "/{work_order_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a planned work order",
    description="Only planned orders are deleted; later ones are cancelled to keep their history.",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_work_order(
    session: SessionDep, principal: Planner, work_order_id: WorkOrderId
) -> None:
    """Delete a planned work order."""
    await service.delete(session=session, principal=principal, work_order_id=work_order_id)


async def _move(
    session: SessionDep,
    principal: Principal,
    work_order_id: int,
    action: WorkOrderAction,
    data: TransitionRequest | None,
) -> WorkOrderDetail:
    work_order = await service.transition(
        session=session,
        principal=principal,
        work_order_id=work_order_id,
        action=action,
        comment=data.comment if data else None,
    )
    return WorkOrderDetail.model_validate(work_order)


@router.post(
    "/{work_order_id}/release",
    response_model=WorkOrderDetail,
    summary="Release a work order",
    description="planned -> released: the order may be started on the shop floor. 409 from any "
    "other state.",
    responses=TRANSITION_ERRORS,
)
async def release_work_order(
    session: SessionDep,
    principal: Planner,
    work_order_id: WorkOrderId,
    data: OptionalComment = None,
) -> WorkOrderDetail:
    """Release a work order."""
    return await _move(session, principal, work_order_id, WorkOrderAction.RELEASE, data)


@router.post(
    "/{work_order_id}/start",
    response_model=WorkOrderDetail,
    summary="Start a work order",
    description="released -> in_progress; the first start sets the actual start time.",
    responses=TRANSITION_ERRORS,
)
async def start_work_order(
    session: SessionDep,
    principal: Operator,
    work_order_id: WorkOrderId,
    data: OptionalComment = None,
) -> WorkOrderDetail:
    """Start a work order."""
    return await _move(session, principal, work_order_id, WorkOrderAction.START, data)


@router.post(
    "/{work_order_id}/pause",
    response_model=WorkOrderDetail,
    summary="Pause a work order",
    description="in_progress -> paused (the comment says why).",
    responses=TRANSITION_ERRORS,
)
async def pause_work_order(
    session: SessionDep,
    principal: Operator,
    work_order_id: WorkOrderId,
    data: OptionalComment = None,
) -> WorkOrderDetail:
    """Pause a work order."""
    return await _move(session, principal, work_order_id, WorkOrderAction.PAUSE, data)


@router.post(
    "/{work_order_id}/resume",
    response_model=WorkOrderDetail,
    summary="Resume a work order",
    description="paused -> in_progress.",
    responses=TRANSITION_ERRORS,
)
async def resume_work_order(
    session: SessionDep,
    principal: Operator,
    work_order_id: WorkOrderId,
    data: OptionalComment = None,
) -> WorkOrderDetail:
    """Resume a work order."""
    return await _move(session, principal, work_order_id, WorkOrderAction.RESUME, data)


@router.post(
    "/{work_order_id}/cancel",
    response_model=WorkOrderDetail,
    summary="Cancel a work order",
    description="planned, released or paused -> cancelled (pause a running order first). Final.",
    responses=TRANSITION_ERRORS,
)
async def cancel_work_order(
    session: SessionDep,
    principal: Planner,
    work_order_id: WorkOrderId,
    data: OptionalComment = None,
) -> WorkOrderDetail:
    """Cancel a work order."""
    return await _move(session, principal, work_order_id, WorkOrderAction.CANCEL, data)


@router.post(
    "/{work_order_id}/complete",
    response_model=CompletionOut,
    summary="Complete a work order",
    description="in_progress or paused -> completed, in one transaction: the good quantity is "
    "received into a production lot at `location_id`, the components of the item's effective "
    "BOM (scaled by good + scrap, scrap factors applied) are backflushed FIFO from the same "
    "location with lot genealogy. Insufficient stock is a 409 naming the item and the "
    "shortfall, and nothing is changed.",
    responses=TRANSITION_ERRORS,
)
async def complete_work_order(
    session: SessionDep, principal: Operator, work_order_id: WorkOrderId, data: CompleteRequest
) -> CompletionOut:
    """Complete a work order."""
    done = await flows.complete(
        session=session, principal=principal, work_order_id=work_order_id, data=data
    )
    return CompletionOut(
        work_order=WorkOrderDetail.model_validate(done.work_order),
        lot_id=done.lot_id,
        lot_code=done.lot_code,
        received_quantity=done.received_quantity,
        consumed=[
            ConsumedComponent(item_id=i, quantity=q, transactions=n) for i, q, n in done.consumed
        ],
    )


@router.post(
    "/{work_order_id}/dispatch",
    response_model=WorkOrderDetail,
    summary="Dispatch a work order",
    description="Assign the order, or one of its operations, to a machine or cell that is in "
    "service, inside the order's line (or the operation's work center) and of the operation's "
    "equipment type.",
    responses=errors(401, 403, 404, 409, 422),
)
async def dispatch_work_order(
    session: SessionDep, principal: Planner, work_order_id: WorkOrderId, data: DispatchRequest
) -> WorkOrderDetail:
    """Dispatch a work order."""
    work_order = await service.dispatch(
        session=session, principal=principal, work_order_id=work_order_id, data=data
    )
    return WorkOrderDetail.model_validate(work_order)


@router.post(
    "/{work_order_id}/reports",
    response_model=ReportOut,
    status_code=status.HTTP_201_CREATED,
    summary="Report quantities",
    description="Good and scrap produced at an operation (required when the order has "
    "operations) while the order is in progress or paused. The order's good quantity is the "
    "last operation's; its scrap is summed over all.",
    responses=errors(401, 403, 404, 409, 422),
)
async def report_work_order_quantities(
    session: SessionDep, principal: Operator, work_order_id: WorkOrderId, data: ReportCreate
) -> ReportOut:
    """Report quantities."""
    row = await service.report(
        session=session, principal=principal, work_order_id=work_order_id, data=data
    )
    return ReportOut.model_validate(row)


@router.get(
    "/{work_order_id}/reports",
    response_model=Page[ReportOut],
    summary="List quantity reports",
    description="The order's quantity reports in time order unless sorted otherwise. Search "
    "(`q` over operation name, equipment code, username, scrap reason and comment), filter by "
    "operation, equipment and source, sort and page.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def list_work_order_reports(
    session: SessionDep,
    params: ListParamsDep,
    work_order_id: WorkOrderId,
    operation_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="reports of this operation")
    ] = None,
    equipment_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="reports from this equipment")
    ] = None,
    source: Annotated[ReportSource | None, Query(description="manual or auto")] = None,
) -> Page[ReportOut]:
    """List quantity reports."""
    return await service.list_reports(
        session=session,
        work_order_id=work_order_id,
        params=params,
        operation_id=operation_id,
        equipment_id=equipment_id,
        source=source,
    )


@router.get(
    "/{work_order_id}/transitions",
    response_model=Page[TransitionOut],
    summary="List state transitions",
    description="The order's state changes: from, to, when and by whom, oldest first unless "
    "sorted otherwise. Search (`q` over the statuses, username and comment), filter by the "
    "status left or entered, sort and page.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def list_work_order_transitions(
    session: SessionDep,
    params: ListParamsDep,
    work_order_id: WorkOrderId,
    from_status: Annotated[
        WorkOrderStatus | None, Query(description="changes out of this status")
    ] = None,
    to_status: Annotated[
        WorkOrderStatus | None, Query(description="changes into this status")
    ] = None,
) -> Page[TransitionOut]:
    """List state transitions."""
    return await service.list_transitions(
        session=session,
        work_order_id=work_order_id,
        params=params,
        from_status=from_status,
        to_status=to_status,
    )
