"""/api/v1/routings: routings and their operations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from core.auth.deps import require
from core.auth.principal import Principal
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import errors
from core.processes import service
from core.processes.schemas import (
    OperationCreate,
    OperationOut,
    OperationUpdate,
    RoutingCreate,
    RoutingDetail,
    RoutingOut,
    RoutingUpdate,
)

router = APIRouter(prefix="/routings", tags=["routings"])

RoutingId = Annotated[int, Path(ge=1, le=2**31 - 1, description="routing id")]
OperationId = Annotated[int, Path(ge=1, le=2**31 - 1, description="routing operation id")]
Writer = Annotated[Principal, require("processes:write")]
READ = [require("processes:read")]


@router.get(
    "",
    response_model=Page[RoutingOut],
    summary="List routings",
    description="Routings (one per item). `q` searches the item code and name and the routing "
    "name; filter by item, active flag or a work center used by any operation.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_routings(
    session: SessionDep,
    params: ListParamsDep,
    item_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    active: Annotated[bool | None, Query()] = None,
    work_center_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Page[RoutingOut]:
    """List routings."""
    return await service.list_routings(
        session=session,
        params=params,
        item_id=item_id,
        active=active,
        work_center_id=work_center_id,
    )


@router.post(
    "",
    response_model=RoutingDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Create a routing",
    description="The routing of an item with its operations; 409 when the item already has one.",
    responses=errors(401, 403, 409, 422),
)
async def create_routing(
    session: SessionDep, principal: Writer, data: RoutingCreate
) -> RoutingDetail:
    """Create a routing."""
    routing = await service.create(session=session, principal=principal, data=data)
    return RoutingDetail.model_validate(routing)


@router.get(
    "/{routing_id}",
    response_model=RoutingDetail,
    summary="Get a routing",
    description="A routing with its operations in sequence.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_routing(session: SessionDep, routing_id: RoutingId) -> RoutingDetail:
    """Get a routing."""
    return RoutingDetail.model_validate(await service.get(session, routing_id))


@router.patch(
    "/{routing_id}",
    response_model=RoutingDetail,
    summary="Update a routing",
    description="Change the name, description or active flag. Work orders already created keep "
    "their own copy of the operations.",
    responses=errors(401, 403, 404, 422),
)
async def update_routing(
    session: SessionDep, principal: Writer, routing_id: RoutingId, data: RoutingUpdate
) -> RoutingDetail:
    """Update a routing."""
    routing = await service.update(
        session=session, principal=principal, routing_id=routing_id, data=data
    )
    return RoutingDetail.model_validate(routing)


@router.delete(
    "/{routing_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a routing",
    description="Delete a routing and its operations.",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_routing(session: SessionDep, principal: Writer, routing_id: RoutingId) -> None:
    """Delete a routing."""
    await service.delete(session=session, principal=principal, routing_id=routing_id)


@router.post(
    "/{routing_id}/operations",
    response_model=OperationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a routing operation",
    description="Add a step; its sequence number must be free (409 otherwise). The work center "
    "must be a line, cell or machine; a machine must match the equipment type.",
    responses=errors(401, 403, 404, 409, 422),
)
async def add_routing_operation(
    session: SessionDep, principal: Writer, routing_id: RoutingId, data: OperationCreate
) -> OperationOut:
    """Add a routing operation."""
    operation = await service.add_operation(
        session=session, principal=principal, routing_id=routing_id, data=data
    )
    return OperationOut.model_validate(operation)


@router.patch(
    "/{routing_id}/operations/{operation_id}",
    response_model=OperationOut,
    summary="Update a routing operation",
    description="Change the given fields of a step.",
    responses=errors(401, 403, 404, 409, 422),
)
async def update_routing_operation(
    session: SessionDep,
    principal: Writer,
    routing_id: RoutingId,
    operation_id: OperationId,
    data: OperationUpdate,
) -> OperationOut:
    """Update a routing operation."""
    operation = await service.update_operation(
        session=session,
        principal=principal,
        routing_id=routing_id,
        operation_id=operation_id,
        data=data,
    )
    return OperationOut.model_validate(operation)


@router.delete(
    "/{routing_id}/operations/{operation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a routing operation",
    description="Remove a step from the routing.",
    responses=errors(401, 403, 404, 422),
)
async def delete_routing_operation(
    session: SessionDep, principal: Writer, routing_id: RoutingId, operation_id: OperationId
) -> None:
    """Delete a routing operation."""
    await service.delete_operation(
        session=session, principal=principal, routing_id=routing_id, operation_id=operation_id
    )
