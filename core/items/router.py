"""/api/v1/items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from core.auth.deps import require
from core.auth.principal import Principal
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import errors
from core.items import service
from core.items.models import ItemType
from core.items.schemas import ItemCreate, ItemOut, ItemUpdate

router = APIRouter(prefix="/items", tags=["items"])

ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="item id")]
Writer = Annotated[Principal, require("items:write")]


@router.get(
    "",
    response_model=Page[ItemOut],
    summary="List items",
    description="Search (`q` over code and name), filter by type, active and lot tracking, sort "
    "and page through the item master.",
    dependencies=[require("items:read")],
    responses=errors(401, 403, 422),
)
async def list_items(
    session: SessionDep,
    params: ListParamsDep,
    type: Annotated[ItemType | None, Query(description="only items of this type")] = None,
    active: Annotated[bool | None, Query()] = None,
    lot_tracked: Annotated[bool | None, Query()] = None,
) -> Page[ItemOut]:
    """List items."""
    return await service.list_items(
        session=session, params=params, type=type, active=active, lot_tracked=lot_tracked
    )


@router.post(
    "",
    response_model=ItemOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an item",
    description="Add an item to the master; the code must be unique.",
    responses=errors(401, 403, 409, 422),
)
async def create_item(session: SessionDep, principal: Writer, data: ItemCreate) -> ItemOut:
    """Create an item."""
    item = await service.create(session=session, principal=principal, data=data)
    return ItemOut.model_validate(item)


@router.get(
    "/{item_id}",
    response_model=ItemOut,
    summary="Get an item",
    description="One item by id.",
    dependencies=[require("items:read")],
    responses=errors(401, 403, 404, 422),
)
async def get_item(session: SessionDep, item_id: ItemId) -> ItemOut:
    """Get an item."""
    return ItemOut.model_validate(await service.get(session=session, item_id=item_id))


@router.patch(
    "/{item_id}",
    response_model=ItemOut,
    summary="Update an item",
    description="Change the given fields; the change is recorded in the audit trail.",
    responses=errors(401, 403, 404, 422),
)
async def update_item(
    session: SessionDep, principal: Writer, item_id: ItemId, data: ItemUpdate
) -> ItemOut:
    """Update an item."""
    item = await service.update(session=session, principal=principal, item_id=item_id, data=data)
    return ItemOut.model_validate(item)


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an item",
    description="Delete an item nothing refers to; 409 if BOMs, stock or orders use it "
    "(deactivate it instead).",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_item(session: SessionDep, principal: Writer, item_id: ItemId) -> None:
    """Delete an item."""
    await service.delete(session=session, principal=principal, item_id=item_id)
