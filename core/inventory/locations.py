"""Locations: where stock is kept, optionally nested (a line-side buffer inside a hall)."""

from __future__ import annotations

from sqlalchemy import exists, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from core.inventory.models import InventoryTransaction, Location, Stock
from core.inventory.schemas import LocationCreate, LocationOut, LocationUpdate

ENTITY = "location"
LIST_SPEC = ListSpec(
    search=[Location.code, Location.name],
    sort={
        "id": Location.id,
        "code": Location.code,
        "name": Location.name,
        "type": Location.type,
        "created_at": Location.created_at,
        "updated_at": Location.updated_at,
    },
    default_sort="code",
)


async def get(*, session: AsyncSession, location_id: int, field: str | None = None) -> Location:
    """The location or NotFound (naming `field` when the id came from a request body)."""
    location = await session.get(Location, location_id)
    if location is None:
        details = [ErrorDetail(field=field, reason="not found")] if field else None
        raise NotFound(f"location {location_id} not found", details=details)
    return location


async def list_locations(
    *,
    session: AsyncSession,
    params: ListParams,
    type: str | None = None,
    active: bool | None = None,
    parent_id: int | None = None,
) -> Page[LocationOut]:
    """Locations matching search and filters."""
    return await paginate(
        session,
        select(Location),
        LIST_SPEC,
        params,
        schema=LocationOut,
        filters={Location.type: type, Location.active: active, Location.parent_id: parent_id},
    )


async def _check_parent(session: AsyncSession, location_id: int | None, parent_id: int) -> None:
    """The parent exists and is not the location itself or one of its descendants."""
    await get(session=session, location_id=parent_id, field="body.parent_id")
    if location_id is None:
        return
    ancestors = (
        select(Location.id, Location.parent_id)
        .where(Location.id == parent_id)
        .cte("ancestors", recursive=True)
    )
    ancestors = ancestors.union(
        select(Location.id, Location.parent_id).join(
            ancestors, Location.id == ancestors.c.parent_id
        )
    )
    loop = await session.scalar(
        select(literal(True)).where(exists().where(ancestors.c.id == location_id))
    )
    if loop:
        raise ValidationFailed(
            "body.parent_id", f"location {parent_id} is this location or inside it (a cycle)"
        )


async def create(*, session: AsyncSession, principal: Principal, data: LocationCreate) -> Location:
    """Create a location; Conflict when the code is taken."""
    if await session.scalar(select(Location.id).where(Location.code == data.code)) is not None:
        raise Conflict(f"location code {data.code!r} already exists")
    if data.parent_id is not None:
        await _check_parent(session, None, data.parent_id)
    location = Location(**data.model_dump())
    session.add(location)
    await session.flush()
    await session.refresh(location)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=location.id,
        after=audit.snapshot(location),
    )
    await session.commit()
    return location


async def update(
    *, session: AsyncSession, principal: Principal, location_id: int, data: LocationUpdate
) -> Location:
    """Change the given fields; a new parent must not create a cycle."""
    location = await get(session=session, location_id=location_id)
    changes = data.changes()
    if changes.get("parent_id") is not None:
        await _check_parent(session, location_id, changes["parent_id"])
    before = audit.snapshot(location)
    for field, value in changes.items():
        setattr(location, field, value)
    await session.flush()
    await session.refresh(location)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ENTITY,
        entity_id=location.id,
        before=before,
        after=audit.snapshot(location),
    )
    await session.commit()
    return location


async def delete(*, session: AsyncSession, principal: Principal, location_id: int) -> None:
    """Delete a location with no stock, movements or child locations (deactivate it instead)."""
    location = await get(session=session, location_id=location_id)
    used = await session.scalar(
        select(
            or_(
                exists().where(Location.parent_id == location_id),
                exists().where(Stock.location_id == location_id),
                exists().where(
                    or_(
                        InventoryTransaction.from_location_id == location_id,
                        InventoryTransaction.to_location_id == location_id,
                    )
                ),
            )
        )
    )
    if used:
        raise Conflict(
            f"location {location.code!r} has child locations, stock or movements; "
            "deactivate it instead"
        )
    before = audit.snapshot(location)
    await session.delete(location)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=ENTITY,
        entity_id=location_id,
        before=before,
    )
    await session.commit()
