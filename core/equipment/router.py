"""/api/v1/equipment: the plant hierarchy, cycle times and bound signals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.deps import require
from core.auth.principal import Principal
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.equipment import service
from core.equipment.models import EquipmentLevel, EquipmentStatus
from core.equipment.schemas import (
    CycleTimeOut,
    CycleTimeSet,
    EquipmentCreate,
    EquipmentDetail,
    EquipmentNode,
    EquipmentOut,
    EquipmentRef,
    EquipmentSignalOut,
    EquipmentUpdate,
)
from core.errors import errors

router = APIRouter(prefix="/equipment", tags=["equipment"])

EquipmentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="equipment id")]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="item id")]
Writer = Annotated[Principal, require("equipment:write")]
READ = [require("equipment:read")]


async def _detail(session: AsyncSession, equipment_id: int) -> EquipmentDetail:
    equipment = await service.get(session, equipment_id)
    ancestors = await service.path(session, equipment_id)
    return EquipmentDetail.model_validate(
        {
            **EquipmentOut.model_validate(equipment).model_dump(),
            "path": [EquipmentRef.model_validate(a) for a in ancestors],
        }
    )


@router.get(
    "",
    response_model=Page[EquipmentOut],
    summary="List equipment",
    description="Search (`q` over code, name and type), filter by level, type, status, parent "
    "and capability, sort and page through the plant's equipment.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_equipment(
    session: SessionDep,
    params: ListParamsDep,
    level: Annotated[EquipmentLevel | None, Query()] = None,
    type: Annotated[str | None, Query(max_length=64, examples=["cnc"])] = None,
    status: Annotated[EquipmentStatus | None, Query()] = None,
    parent_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    capability: Annotated[str | None, Query(max_length=64, examples=["turning"])] = None,
) -> Page[EquipmentOut]:
    """List equipment."""
    return await service.list_equipment(
        session=session,
        params=params,
        level=level,
        type=type,
        status=status,
        parent_id=parent_id,
        capability=capability,
    )


@router.post(
    "",
    response_model=EquipmentDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Create equipment",
    description="Add a site, area, line, cell or machine. The parent must be one level up "
    "(a machine may sit in a line or a cell); the code is unique and permanent.",
    responses=errors(401, 403, 409, 422),
)
async def create_equipment(
    session: SessionDep, principal: Writer, data: EquipmentCreate
) -> EquipmentDetail:
    """Create equipment."""
    equipment = await service.create(session=session, principal=principal, data=data)
    return await _detail(session, equipment.id)


@router.get(
    "/tree",
    response_model=list[EquipmentNode],
    summary="Equipment hierarchy tree",
    description="The whole hierarchy (or the subtree under `root_id`) as nested nodes, "
    "children ordered by code.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def equipment_tree(
    session: SessionDep,
    root_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[EquipmentNode]:
    """Equipment hierarchy tree."""
    return await service.tree(session=session, root_id=root_id)


@router.get(
    "/{equipment_id}",
    response_model=EquipmentDetail,
    summary="Get equipment",
    description="One piece of equipment with its path from the site down.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_equipment(session: SessionDep, equipment_id: EquipmentId) -> EquipmentDetail:
    """Get equipment."""
    return await _detail(session, equipment_id)


@router.patch(
    "/{equipment_id}",
    response_model=EquipmentDetail,
    summary="Update equipment",
    description="Change the given fields; a new parent must fit the level. Code and level are "
    "permanent.",
    responses=errors(401, 403, 404, 422),
)
async def update_equipment(
    session: SessionDep, principal: Writer, equipment_id: EquipmentId, data: EquipmentUpdate
) -> EquipmentDetail:
    """Update equipment."""
    await service.update(session=session, principal=principal, equipment_id=equipment_id, data=data)
    return await _detail(session, equipment_id)


@router.delete(
    "/{equipment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete equipment",
    description="Delete equipment without children, bound signals or references from routings, "
    "work orders or downtime (409 otherwise: set it to decommissioned).",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_equipment(
    session: SessionDep, principal: Writer, equipment_id: EquipmentId
) -> None:
    """Delete equipment."""
    await service.delete(session=session, principal=principal, equipment_id=equipment_id)


@router.get(
    "/{equipment_id}/signals",
    response_model=Page[EquipmentSignalOut],
    summary="List the equipment's signals",
    description="Telemetry signals bound to this equipment (`signal.equipment_code`), as "
    "registered by the gateway; `q` searches key, name and description.",
    dependencies=[require("telemetry:read")],
    responses=errors(401, 403, 404, 422),
)
async def list_equipment_signals(
    session: SessionDep,
    params: ListParamsDep,
    equipment_id: EquipmentId,
    active: Annotated[bool | None, Query()] = None,
) -> Page[EquipmentSignalOut]:
    """List the equipment's signals."""
    return await service.list_signals(
        session=session, equipment_id=equipment_id, params=params, active=active
    )


@router.get(
    "/{equipment_id}/cycle-times",
    response_model=Page[CycleTimeOut],
    summary="List item cycle times",
    description="Ideal cycle time of each item on this equipment (items without an entry use "
    "the equipment's default). Search (`q` over item code and name), filter by item, sort "
    "(by item code unless asked otherwise) and page.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def list_cycle_times(
    session: SessionDep,
    params: ListParamsDep,
    equipment_id: EquipmentId,
    item_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="only this item")] = None,
) -> Page[CycleTimeOut]:
    """List item cycle times."""
    return await service.page_cycle_times(
        session=session, equipment_id=equipment_id, params=params, item_id=item_id
    )


@router.put(
    "/{equipment_id}/cycle-times/{item_id}",
    response_model=CycleTimeOut,
    summary="Set an item cycle time",
    description="Create or replace the ideal cycle time of an item on this equipment (used by "
    "OEE performance).",
    responses=errors(401, 403, 404, 422),
)
async def set_cycle_time(
    session: SessionDep,
    principal: Writer,
    equipment_id: EquipmentId,
    item_id: ItemId,
    data: CycleTimeSet,
) -> CycleTimeOut:
    """Set an item cycle time."""
    row = await service.set_cycle_time(
        session=session, principal=principal, equipment_id=equipment_id, item_id=item_id, data=data
    )
    return CycleTimeOut.model_validate(row)


@router.delete(
    "/{equipment_id}/cycle-times/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an item cycle time",
    description="Remove the item's own cycle time; the equipment default applies again.",
    responses=errors(401, 403, 404, 422),
)
async def delete_cycle_time(
    session: SessionDep, principal: Writer, equipment_id: EquipmentId, item_id: ItemId
) -> None:
    """Delete an item cycle time."""
    await service.delete_cycle_time(
        session=session, principal=principal, equipment_id=equipment_id, item_id=item_id
    )
