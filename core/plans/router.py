"""/api/v1/plans: production plans, release into work orders, material check."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from core.auth.deps import require
from core.auth.principal import Principal
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import errors
from core.plans import mrp, service
from core.plans.models import PlanStatus
from core.plans.schemas import (
    MaterialCheck,
    PlanCreate,
    PlanDetail,
    PlanLineCreate,
    PlanLineOut,
    PlanLineUpdate,
    PlanOut,
    PlanUpdate,
    ReleaseOut,
    ReleaseRequest,
)
from core.work_orders.schemas import WorkOrderOut

router = APIRouter(prefix="/plans", tags=["plans"])

PlanId = Annotated[int, Path(ge=1, le=2**31 - 1, description="production plan id")]
LineId = Annotated[int, Path(ge=1, le=2**31 - 1, description="plan line id")]
Writer = Annotated[Principal, require("plans:write")]
READ = [require("plans:read")]


@router.get(
    "",
    response_model=Page[PlanOut],
    summary="List production plans",
    description="Search (`q` over code, name and description), filter by status, a day inside "
    "the period, an item or a line planned in it; sort and page.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_plans(
    session: SessionDep,
    params: ListParamsDep,
    status: Annotated[PlanStatus | None, Query()] = None,
    active_on: Annotated[date | None, Query(description="plans whose period contains it")] = None,
    item_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    line_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Page[PlanOut]:
    """List production plans."""
    return await service.list_plans(
        session=session,
        params=params,
        status=status,
        active_on=active_on,
        item_id=item_id,
        line_id=line_id,
    )


@router.post(
    "",
    response_model=PlanDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Create a production plan",
    description="A draft plan for a period with quantities per item and line; due dates must "
    "lie in the period.",
    responses=errors(401, 403, 409, 422),
)
async def create_plan(session: SessionDep, principal: Writer, data: PlanCreate) -> PlanDetail:
    """Create a production plan."""
    return PlanDetail.model_validate(
        await service.create(session=session, principal=principal, data=data)
    )


@router.get(
    "/{plan_id}",
    response_model=PlanDetail,
    summary="Get a production plan",
    description="A plan with its lines and their released quantities.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_plan(session: SessionDep, plan_id: PlanId) -> PlanDetail:
    """Get a production plan."""
    return PlanDetail.model_validate(await service.get(session, plan_id))


@router.patch(
    "/{plan_id}",
    response_model=PlanDetail,
    summary="Update a production plan",
    description="Change name, period or description of a draft.",
    responses=errors(401, 403, 404, 409, 422),
)
async def update_plan(
    session: SessionDep, principal: Writer, plan_id: PlanId, data: PlanUpdate
) -> PlanDetail:
    """Update a production plan."""
    return PlanDetail.model_validate(
        await service.update(session=session, principal=principal, plan_id=plan_id, data=data)
    )


@router.delete(
    "/{plan_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft plan",
    description="Delete a draft and its lines (released plans are closed instead).",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_plan(session: SessionDep, principal: Writer, plan_id: PlanId) -> None:
    """Delete a draft plan."""
    await service.delete(session=session, principal=principal, plan_id=plan_id)


@router.post(
    "/{plan_id}/lines",
    response_model=PlanLineOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a plan line",
    description="Add an item quantity to a draft or released plan.",
    responses=errors(401, 403, 404, 409, 422),
)
async def add_plan_line(
    session: SessionDep, principal: Writer, plan_id: PlanId, data: PlanLineCreate
) -> PlanLineOut:
    """Add a plan line."""
    line = await service.add_line(session=session, principal=principal, plan_id=plan_id, data=data)
    return PlanLineOut.model_validate(line)


@router.patch(
    "/{plan_id}/lines/{line_id}",
    response_model=PlanLineOut,
    summary="Update a plan line",
    description="Change a line; its quantity cannot drop below what was released.",
    responses=errors(401, 403, 404, 409, 422),
)
async def update_plan_line(
    session: SessionDep, principal: Writer, plan_id: PlanId, line_id: LineId, data: PlanLineUpdate
) -> PlanLineOut:
    """Update a plan line."""
    line = await service.update_line(
        session=session, principal=principal, plan_id=plan_id, line_id=line_id, data=data
    )
    return PlanLineOut.model_validate(line)


@router.delete(
    "/{plan_id}/lines/{line_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a plan line",
    description="Remove a line nothing was released from.",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_plan_line(
    session: SessionDep, principal: Writer, plan_id: PlanId, line_id: LineId
) -> None:
    """Delete a plan line."""
    await service.delete_line(
        session=session, principal=principal, plan_id=plan_id, line_id=line_id
    )


@router.post(
    "/{plan_id}/release",
    response_model=ReleaseOut,
    summary="Release a plan into work orders",
    description="Create planned work orders (optionally released at once) for the unreleased "
    "quantity of all or the chosen lines, split into batches of at most `batch_size`; all in one "
    "transaction. The plan becomes released.",
    responses=errors(401, 403, 404, 409, 422),
)
async def release_plan(
    session: SessionDep, principal: Writer, plan_id: PlanId, data: ReleaseRequest
) -> ReleaseOut:
    """Release a plan into work orders."""
    plan, orders = await service.release(
        session=session, principal=principal, plan_id=plan_id, data=data
    )
    return ReleaseOut(
        plan=PlanDetail.model_validate(plan),
        work_orders=[WorkOrderOut.model_validate(o) for o in orders],
    )


@router.post(
    "/{plan_id}/close",
    response_model=PlanDetail,
    summary="Close a plan",
    description="released -> closed: nothing more is released from it; its work orders go on.",
    responses=errors(401, 403, 404, 409, 422),
)
async def close_plan(session: SessionDep, principal: Writer, plan_id: PlanId) -> PlanDetail:
    """Close a plan."""
    return PlanDetail.model_validate(
        await service.close(session=session, principal=principal, plan_id=plan_id)
    )


@router.post(
    "/{plan_id}/cancel",
    response_model=PlanDetail,
    summary="Cancel a draft plan",
    description="draft -> cancelled.",
    responses=errors(401, 403, 404, 409, 422),
)
async def cancel_plan(session: SessionDep, principal: Writer, plan_id: PlanId) -> PlanDetail:
    """Cancel a draft plan."""
    return PlanDetail.model_validate(
        await service.cancel(session=session, principal=principal, plan_id=plan_id)
    )


@router.get(
    "/{plan_id}/material-check",
    response_model=MaterialCheck,
    summary="Check materials for a plan (MRP-lite)",
    description="Explode the plan's remaining demand through the BOM versions effective on "
    "`at`, level by level, net dependent demand against usable on-hand and open work orders of "
    "other plans, and list the shortages of bought items.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def check_plan_materials(
    session: SessionDep,
    plan_id: PlanId,
    at: Annotated[date | None, Query(description="BOM effectivity day (today, UTC)")] = None,
) -> MaterialCheck:
    """Check materials for a plan (MRP-lite)."""
    return await mrp.material_check(session=session, plan_id=plan_id, at=at)
