"""Equipment service: hierarchy rules, tree and path queries, cycle times, bound signals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Select, bindparam, column, func, select, table, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate, paginate_rows
from core.common.schemas import Page
from core.equipment.models import (
    PARENT_LEVELS,
    Equipment,
    EquipmentCycleTime,
    EquipmentLevel,
)
from core.equipment.schemas import (
    CycleTimeOut,
    CycleTimeSet,
    EquipmentCreate,
    EquipmentNode,
    EquipmentOut,
    EquipmentSignalOut,
    EquipmentUpdate,
)
from core.errors import Conflict, NotFound, ValidationFailed
from core.items.models import Item

ENTITY = "equipment"
CYCLE_ENTITY = "equipment_cycle_time"
LIST_SPEC = ListSpec(
    search=[Equipment.code, Equipment.name, Equipment.type],
    sort={
        "id": Equipment.id,
        "code": Equipment.code,
        "name": Equipment.name,
        "level": Equipment.level,
        "type": Equipment.type,
        "status": Equipment.status,
        "created_at": Equipment.created_at,
        "updated_at": Equipment.updated_at,
    },
    default_sort="code",
)

# The telemetry registry is raw SQL owned by migration 0001; read it through a lightweight table.
signal_table = table(
    "signal",
    column("id"),
    column("key"),
    column("equipment_code"),
    column("name"),
    column("unit"),
    column("data_type"),
    column("protocol"),
    column("source"),
    column("description"),
    column("active"),
)
CYCLE_TIME_SPEC = ListSpec(
    search=[Item.code, Item.name],
    sort={
        "item_code": Item.code,
        "item_name": Item.name,
        "ideal_cycle_time_s": EquipmentCycleTime.ideal_cycle_time_s,
        "updated_at": EquipmentCycleTime.updated_at,
    },
    default_sort="item_code",
)
SIGNAL_SPEC = ListSpec(
    search=[signal_table.c.key, signal_table.c.name, signal_table.c.description],
    sort={
        "id": signal_table.c.id,
        "key": signal_table.c.key,
        "name": signal_table.c.name,
        "data_type": signal_table.c.data_type,
    },
    default_sort="key",
)

ANCESTORS_SQL = text(
    """
    WITH RECURSIVE up(id, parent_id, depth) AS (
        SELECT id, parent_id, 0 FROM equipment WHERE id = :id
        UNION ALL
        SELECT e.id, e.parent_id, up.depth + 1
        FROM equipment e JOIN up ON e.id = up.parent_id
        WHERE up.depth < 16
    )
    SELECT id, depth FROM up ORDER BY depth
    """
)
DESCENDANTS_SQL = text(
    """
    WITH RECURSIVE down(id, depth) AS (
        SELECT id, 0 FROM equipment WHERE id = :id
        UNION ALL
        SELECT e.id, down.depth + 1 FROM equipment e JOIN down ON e.parent_id = down.id
        WHERE down.depth < 16
    )
    SELECT id FROM down
    """
)


async def _saved(session: AsyncSession, obj: Any) -> dict[str, Any]:
    """Flush, reload the columns the database set and snapshot for the audit."""
    await session.flush()
    await session.refresh(obj, [a.key for a in sa_inspect(obj).mapper.column_attrs])
    return audit.snapshot(obj)


# --- reading ---------------------------------------------------------------------------------


async def get(session: AsyncSession, equipment_id: int) -> Equipment:
    """The equipment or NotFound."""
    equipment = await session.get(Equipment, equipment_id)
    if equipment is None:
        raise NotFound(f"equipment {equipment_id} not found")
    return equipment


async def get_by_code(session: AsyncSession, code: str) -> Equipment:
    """The equipment with `code` or NotFound."""
    equipment = await session.scalar(select(Equipment).where(Equipment.code == code))
    if equipment is None:
        raise NotFound(f"equipment {code!r} not found")
    return equipment


async def list_equipment(
    *,
    session: AsyncSession,
    params: ListParams,
    level: str | None = None,
    type: str | None = None,
    status: str | None = None,
    parent_id: int | None = None,
    capability: str | None = None,
) -> Page[EquipmentOut]:
    """Equipment matching search (code, name, type) and filters."""
    stmt = select(Equipment)
    if capability is not None:
        stmt = stmt.where(Equipment.capabilities.contains([capability]))
    return await paginate(
        session,
        stmt,
        LIST_SPEC,
        params,
        schema=EquipmentOut,
        filters={
            Equipment.level: level,
            Equipment.type: type,
            Equipment.status: status,
            Equipment.parent_id: parent_id,
        },
    )


async def ancestor_ids(session: AsyncSession, equipment_id: int) -> list[int]:
    """The equipment's id then its parents' up to the site (one recursive query)."""
    rows = await session.execute(ANCESTORS_SQL, {"id": equipment_id})
    return [r.id for r in rows]


async def descendant_ids(session: AsyncSession, equipment_id: int) -> list[int]:
    """The equipment's id and every id below it."""
    return list((await session.scalars(DESCENDANTS_SQL, {"id": equipment_id})).all())


async def path(session: AsyncSession, equipment_id: int) -> list[Equipment]:
    """Ancestors from the site down to the parent."""
    ids = (await ancestor_ids(session, equipment_id))[1:]
    if not ids:
        return []
    rows = {e.id: e for e in await session.scalars(select(Equipment).where(Equipment.id.in_(ids)))}
    return [rows[i] for i in reversed(ids)]


async def tree(*, session: AsyncSession, root_id: int | None = None) -> list[EquipmentNode]:
    """The hierarchy as nested nodes: everything, or the subtree under `root_id`."""
    stmt = select(Equipment).order_by(Equipment.code)
    if root_id is not None:
        await get(session, root_id)
        stmt = stmt.where(Equipment.id.in_(await descendant_ids(session, root_id)))
    rows = list(await session.scalars(stmt))
    nodes = {
        e.id: EquipmentNode(
            id=e.id, code=e.code, name=e.name, level=e.level, type=e.type, status=e.status
        )
        for e in rows
    }
    roots: list[EquipmentNode] = []
    for e in rows:
        parent = nodes.get(e.parent_id) if e.parent_id is not None else None
        if parent is None or e.id == root_id:
            roots.append(nodes[e.id])
        else:
            parent.children.append(nodes[e.id])
    return roots


# --- writing ---------------------------------------------------------------------------------


async def _check_parent(
    session: AsyncSession, level: EquipmentLevel, parent_id: int | None, field: str
) -> None:
    allowed = PARENT_LEVELS[level]
    if parent_id is None:
        if allowed:
            raise ValidationFailed(
                field, f"a {level} needs a parent ({' or '.join(sorted(allowed))})"
            )
        return
    if not allowed:
        raise ValidationFailed(field, "a site has no parent")
    parent = await session.get(Equipment, parent_id)
    if parent is None:
        raise ValidationFailed(field, f"equipment {parent_id} does not exist")
    if parent.level not in allowed:
        raise ValidationFailed(
            field,
            f"a {level} belongs to a {' or '.join(sorted(allowed))}, not to the {parent.level} "
            f"{parent.code}",
        )


async def create(
    *, session: AsyncSession, principal: Principal, data: EquipmentCreate
) -> Equipment:
    """Add a node; Conflict when the code is taken, 422 when the parent does not fit."""
    if await session.scalar(select(Equipment.id).where(Equipment.code == data.code)) is not None:
        raise Conflict(f"equipment code {data.code!r} already exists")
    await _check_parent(session, data.level, data.parent_id, "body.parent_id")
    equipment = Equipment(**data.model_dump())
    session.add(equipment)
    after = await _saved(session, equipment)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=equipment.id,
        after=after,
    )
    await session.commit()
    return equipment


async def update(
    *, session: AsyncSession, principal: Principal, equipment_id: int, data: EquipmentUpdate
) -> Equipment:
    """Change the given fields (a new parent must fit the level)."""
    equipment = await get(session, equipment_id)
    changes = data.changes()
    if "parent_id" in changes and changes["parent_id"] != equipment.parent_id:
        await _check_parent(
            session, EquipmentLevel(equipment.level), changes["parent_id"], "body.parent_id"
        )
    before = audit.snapshot(equipment)
    for field, value in changes.items():
        setattr(equipment, field, value)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ENTITY,
        entity_id=equipment.id,
        before=before,
        after=await _saved(session, equipment),
    )
    await session.commit()
    return equipment


async def delete(*, session: AsyncSession, principal: Principal, equipment_id: int) -> None:
    """Delete a leaf nothing refers to (Conflict otherwise: decommission it instead)."""
    equipment = await get(session, equipment_id)
    children = await session.scalar(
        select(func.count()).select_from(Equipment).where(Equipment.parent_id == equipment_id)
    )
    if children:
        raise Conflict(f"equipment {equipment.code} has {children} children; delete them first")
    signals = await session.scalar(
        select(func.count())
        .select_from(signal_table)
        .where(signal_table.c.equipment_code == equipment.code)
    )
    if signals:
        raise Conflict(
            f"equipment {equipment.code} has {signals} telemetry signals bound; "
            "decommission it instead"
        )
    before = audit.snapshot(equipment)
    await session.delete(equipment)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=ENTITY,
        entity_id=equipment_id,
        before=before,
    )
    await session.commit()


# --- cycle times -----------------------------------------------------------------------------


async def page_cycle_times(
    *,
    session: AsyncSession,
    equipment_id: int,
    params: ListParams,
    item_id: int | None = None,
) -> Page[CycleTimeOut]:
    """One page of the equipment's item cycle times (`q`: item code and name), by item code
    unless sorted otherwise; NotFound for unknown equipment."""
    await get(session, equipment_id)
    stmt: Select[*tuple[Any, ...]] = (
        select(
            EquipmentCycleTime.equipment_id,
            EquipmentCycleTime.item_id,
            Item.code.label("item_code"),
            Item.name.label("item_name"),
            EquipmentCycleTime.ideal_cycle_time_s,
            EquipmentCycleTime.updated_at,
        )
        .join(Item, Item.id == EquipmentCycleTime.item_id)
        .where(EquipmentCycleTime.equipment_id == equipment_id)
    )
    return await paginate_rows(
        session,
        stmt,
        CYCLE_TIME_SPEC,
        params,
        schema=CycleTimeOut,
        tiebreak=EquipmentCycleTime.item_id,
        filters={EquipmentCycleTime.item_id: item_id},
    )


async def list_cycle_times(*, session: AsyncSession, equipment_id: int) -> list[EquipmentCycleTime]:
    """Every item cycle time of the equipment, by item code (for computations)."""
    await get(session, equipment_id)
    stmt = (
        select(EquipmentCycleTime)
        .join(EquipmentCycleTime.item)
        .options(selectinload(EquipmentCycleTime.item))
        .where(EquipmentCycleTime.equipment_id == equipment_id)
        .order_by(Item.code)
    )
    return list(await session.scalars(stmt))


async def set_cycle_time(
    *,
    session: AsyncSession,
    principal: Principal,
    equipment_id: int,
    item_id: int,
    data: CycleTimeSet,
) -> EquipmentCycleTime:
    """Create or change the ideal cycle time of an item on the equipment."""
    await get(session, equipment_id)
    if await session.get(Item, item_id) is None:
        raise NotFound(f"item {item_id} not found")
    row = await session.scalar(
        select(EquipmentCycleTime)
        .where(
            EquipmentCycleTime.equipment_id == equipment_id, EquipmentCycleTime.item_id == item_id
        )
        .with_for_update()
    )
    before = None
    if row is None:
        row = EquipmentCycleTime(
            equipment_id=equipment_id, item_id=item_id, ideal_cycle_time_s=data.ideal_cycle_time_s
        )
        session.add(row)
    else:
        before = audit.snapshot(row)
        row.ideal_cycle_time_s = data.ideal_cycle_time_s
    after = await _saved(session, row)
    audit.record(
        session,
        principal=principal,
        action="create" if before is None else "update",
        entity=CYCLE_ENTITY,
        entity_id=row.id,
        before=before,
        after=after,
    )
    await session.commit()
    stmt = (
        select(EquipmentCycleTime)
        .options(selectinload(EquipmentCycleTime.item))
        .where(EquipmentCycleTime.id == row.id)
    )
    return (await session.scalars(stmt)).one()


async def delete_cycle_time(
    *, session: AsyncSession, principal: Principal, equipment_id: int, item_id: int
) -> None:
    """Remove an item's cycle time (the equipment default applies again)."""
    row = await session.scalar(
        select(EquipmentCycleTime).where(
            EquipmentCycleTime.equipment_id == equipment_id, EquipmentCycleTime.item_id == item_id
        )
    )
    if row is None:
        raise NotFound(f"equipment {equipment_id} has no cycle time for item {item_id}")
    before = audit.snapshot(row)
    await session.delete(row)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=CYCLE_ENTITY,
        entity_id=before["id"],
        before=before,
    )
    await session.commit()


async def ideal_cycle_time(
    *, session: AsyncSession, equipment_id: int, item_id: int | None
) -> Decimal | None:
    """Seconds per piece of the item on the equipment: its own entry, else the equipment's
    default, else None."""
    stmt = select(
        func.coalesce(
            select(EquipmentCycleTime.ideal_cycle_time_s)
            .where(
                EquipmentCycleTime.equipment_id == equipment_id,
                EquipmentCycleTime.item_id == bindparam("item", item_id),
            )
            .scalar_subquery(),
            Equipment.ideal_cycle_time_s,
        )
    ).where(Equipment.id == equipment_id)
    value: Decimal | None = await session.scalar(stmt)
    return value


# --- signals ---------------------------------------------------------------------------------


async def list_signals(
    *,
    session: AsyncSession,
    equipment_id: int,
    params: ListParams,
    active: bool | None = None,
) -> Page[EquipmentSignalOut]:
    """Telemetry signals bound to the equipment's code."""
    equipment = await get(session, equipment_id)
    s = signal_table.c
    stmt = select(
        s.id, s.key, s.name, s.unit, s.data_type, s.protocol, s.source, s.description, s.active
    ).where(s.equipment_code == equipment.code)
    if active is not None:
        stmt = stmt.where(s.active == active)
    condition = SIGNAL_SPEC.where_search(params.q)
    if condition is not None:
        stmt = stmt.where(condition)
    order = SIGNAL_SPEC.order_by(params.sort)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = await session.execute(
        stmt.order_by(*order, s.id).limit(params.limit).offset(params.offset)
    )
    return Page[EquipmentSignalOut](
        items=[EquipmentSignalOut.model_validate(r._asdict()) for r in rows],
        total=total or 0,
        limit=params.limit,
        offset=params.offset,
    )
