"""Routing service: one routing per item, operations checked against the equipment master."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, selectinload

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.equipment.models import Equipment, EquipmentLevel
from core.errors import Conflict, NotFound, ValidationFailed
from core.items.models import Item
from core.processes.models import Routing, RoutingOperation
from core.processes.schemas import (
    OperationCreate,
    OperationUpdate,
    RoutingCreate,
    RoutingOut,
    RoutingUpdate,
)

ENTITY = "routing"
OPERATION_ENTITY = "routing_operation"
WORK_CENTER_LEVELS = frozenset({EquipmentLevel.LINE, EquipmentLevel.CELL, EquipmentLevel.MACHINE})
LIST_SPEC = ListSpec(
    search=[Item.code, Item.name, Routing.name],
    sort={
        "id": Routing.id,
        "item_code": Item.code,
        "name": Routing.name,
        "created_at": Routing.created_at,
        "updated_at": Routing.updated_at,
    },
    default_sort="item_code",
)


async def _saved(session: AsyncSession, obj: Any) -> dict[str, Any]:
    """Flush, reload the columns the database set and snapshot for the audit."""
    await session.flush()
    await session.refresh(obj, [a.key for a in sa_inspect(obj).mapper.column_attrs])
    return audit.snapshot(obj)


def _with_operations() -> Any:
    return selectinload(Routing.operations).selectinload(RoutingOperation.work_center)


async def get(session: AsyncSession, routing_id: int) -> Routing:
    """The routing with its item and operations, or NotFound."""
    stmt = (
        select(Routing)
        .join(Routing.item)
        .options(contains_eager(Routing.item), _with_operations())
        .where(Routing.id == routing_id)
        .execution_options(populate_existing=True)
    )
    routing = (await session.scalars(stmt)).first()
    if routing is None:
        raise NotFound(f"routing {routing_id} not found")
    return routing


async def for_item(session: AsyncSession, item_id: int) -> Routing | None:
    """The item's active routing with its operations, or None."""
    stmt = (
        select(Routing)
        .join(Routing.item)
        .options(contains_eager(Routing.item), _with_operations())
        .where(Routing.item_id == item_id, Routing.active.is_(True))
    )
    return (await session.scalars(stmt)).first()


async def list_routings(
    *,
    session: AsyncSession,
    params: ListParams,
    item_id: int | None = None,
    active: bool | None = None,
    work_center_id: int | None = None,
) -> Page[RoutingOut]:
    """Routings matching search (item code/name, routing name) and filters."""
    stmt = select(Routing).join(Routing.item).options(contains_eager(Routing.item))
    if work_center_id is not None:
        stmt = stmt.where(
            Routing.id.in_(
                select(RoutingOperation.routing_id).where(
                    RoutingOperation.work_center_id == work_center_id
                )
            )
        )
    return await paginate(
        session,
        stmt,
        LIST_SPEC,
        params,
        schema=RoutingOut,
        filters={Routing.item_id: item_id, Routing.active: active},
    )


async def _check_where(
    session: AsyncSession, work_center_id: int | None, equipment_type: str | None, field: str
) -> None:
    if work_center_id is None and equipment_type is None:
        raise ValidationFailed(field, "give a work_center_id, an equipment_type, or both")
    if work_center_id is None:
        return
    center = await session.get(Equipment, work_center_id)
    if center is None:
        raise ValidationFailed(f"{field}.work_center_id", f"equipment {work_center_id} not found")
    if center.level not in WORK_CENTER_LEVELS:
        raise ValidationFailed(
            f"{field}.work_center_id",
            f"{center.code} is a {center.level}; a work center is a line, cell or machine",
        )
    if (
        center.level == EquipmentLevel.MACHINE
        and equipment_type is not None
        and center.type != equipment_type
    ):
        raise ValidationFailed(
            f"{field}.equipment_type",
            f"machine {center.code} is of type {center.type!r}, not {equipment_type!r}",
        )


async def _add_operation(
    session: AsyncSession, principal: Principal, routing_id: int, data: OperationCreate, field: str
) -> RoutingOperation:
    await _check_where(session, data.work_center_id, data.equipment_type, field)
    taken = await session.scalar(
        select(RoutingOperation.id).where(
            RoutingOperation.routing_id == routing_id, RoutingOperation.sequence == data.sequence
        )
    )
    if taken is not None:
        raise Conflict(f"routing {routing_id} already has an operation {data.sequence}")
    operation = RoutingOperation(routing_id=routing_id, **data.model_dump())
    session.add(operation)
    after = await _saved(session, operation)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=OPERATION_ENTITY,
        entity_id=operation.id,
        after=after,
    )
    return operation


async def create(*, session: AsyncSession, principal: Principal, data: RoutingCreate) -> Routing:
    """Create the routing of an item; Conflict when the item already has one."""
    if await session.get(Item, data.item_id) is None:
        raise ValidationFailed("body.item_id", f"item {data.item_id} not found")
    existing = await session.scalar(select(Routing.id).where(Routing.item_id == data.item_id))
    if existing is not None:
        raise Conflict(f"item {data.item_id} already has routing {existing}")
    routing = Routing(**data.model_dump(exclude={"operations"}))
    session.add(routing)
    after = await _saved(session, routing)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=routing.id,
        after=after,
    )
    for index, operation in enumerate(data.operations):
        await _add_operation(session, principal, routing.id, operation, f"body.operations.{index}")
    await session.commit()
    return await get(session, routing.id)


async def update(
    *, session: AsyncSession, principal: Principal, routing_id: int, data: RoutingUpdate
) -> Routing:
    """Change header fields."""
    routing = await get(session, routing_id)
    before = audit.snapshot(routing)
    for field, value in data.changes().items():
        setattr(routing, field, value)
    after = await _saved(session, routing)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ENTITY,
        entity_id=routing_id,
        before=before,
        after=after,
    )
    await session.commit()
    return await get(session, routing_id)


async def delete(*, session: AsyncSession, principal: Principal, routing_id: int) -> None:
    """Delete a routing and its operations (work orders keep their copies)."""
    routing = await get(session, routing_id)
    before = audit.snapshot(routing)
    before["operations"] = [audit.snapshot(o) for o in routing.operations]
    await session.delete(routing)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=ENTITY,
        entity_id=routing_id,
        before=before,
    )
    await session.commit()


async def get_operation(
    session: AsyncSession, routing_id: int, operation_id: int
) -> RoutingOperation:
    """An operation of the routing or NotFound."""
    stmt = (
        select(RoutingOperation)
        .options(selectinload(RoutingOperation.work_center))
        .where(RoutingOperation.id == operation_id, RoutingOperation.routing_id == routing_id)
        .execution_options(populate_existing=True)
    )
    operation = (await session.scalars(stmt)).first()
    if operation is None:
        raise NotFound(f"operation {operation_id} of routing {routing_id} not found")
    return operation


async def add_operation(
    *, session: AsyncSession, principal: Principal, routing_id: int, data: OperationCreate
) -> RoutingOperation:
    """Add an operation; Conflict when its sequence number is taken."""
    await get(session, routing_id)
    operation = await _add_operation(session, principal, routing_id, data, "body")
    await session.commit()
    return await get_operation(session, routing_id, operation.id)


async def update_operation(
    *,
    session: AsyncSession,
    principal: Principal,
    routing_id: int,
    operation_id: int,
    data: OperationUpdate,
) -> RoutingOperation:
    """Change an operation."""
    operation = await get_operation(session, routing_id, operation_id)
    changes = data.changes()
    await _check_where(
        session,
        changes.get("work_center_id", operation.work_center_id),
        changes.get("equipment_type", operation.equipment_type),
        "body",
    )
    sequence = changes.get("sequence")
    if sequence is not None and sequence != operation.sequence:
        taken = await session.scalar(
            select(RoutingOperation.id).where(
                RoutingOperation.routing_id == routing_id, RoutingOperation.sequence == sequence
            )
        )
        if taken is not None:
            raise Conflict(f"routing {routing_id} already has an operation {sequence}")
    before = audit.snapshot(operation)
    for field, value in changes.items():
        setattr(operation, field, value)
    after = await _saved(session, operation)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=OPERATION_ENTITY,
        entity_id=operation_id,
        before=before,
        after=after,
    )
    await session.commit()
    return await get_operation(session, routing_id, operation_id)


async def delete_operation(
    *, session: AsyncSession, principal: Principal, routing_id: int, operation_id: int
) -> None:
    """Remove an operation."""
    operation = await get_operation(session, routing_id, operation_id)
    before = audit.snapshot(operation)
    await session.delete(operation)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=OPERATION_ENTITY,
        entity_id=operation_id,
        before=before,
    )
    await session.commit()
