"""Item service: keyword-only functions over an AsyncSession; every change is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.errors import Conflict, NotFound
from core.items.models import Item
from core.items.schemas import ItemCreate, ItemOut, ItemUpdate

ENTITY = "item"
LIST_SPEC = ListSpec(
    search=[Item.code, Item.name],
    sort={
        "id": Item.id,
        "code": Item.code,
        "name": Item.name,
        "type": Item.type,
        "created_at": Item.created_at,
        "updated_at": Item.updated_at,
    },
    default_sort="code",
)
FOREIGN_KEY_VIOLATION = "23503"
USERS = {  # tables that refer to items, as a person would name them
    "bom": "a bill of materials (as its product)",
    "bom_line": "a bill of materials (as a component)",
    "work_order": "work orders",
    "lot": "lots",
    "stock": "stock",
    "inventory_transaction": "inventory transactions",
    "production_plan_line": "production plans",
    "routing": "a routing",
    "inspection_plan": "inspection plans",
}


async def get(*, session: AsyncSession, item_id: int) -> Item:
    """The item or NotFound."""
    item = await session.get(Item, item_id)
    if item is None:
        raise NotFound(f"item {item_id} not found")
    return item


async def get_by_code(*, session: AsyncSession, code: str) -> Item:
    """The item with `code` or NotFound."""
    item = await session.scalar(select(Item).where(Item.code == code))
    if item is None:
        raise NotFound(f"item {code!r} not found")
    return item


async def list_items(
    *,
    session: AsyncSession,
    params: ListParams,
    type: str | None = None,
    active: bool | None = None,
    lot_tracked: bool | None = None,
) -> Page[ItemOut]:
    """Items matching search and filters."""
    return await paginate(
        session,
        select(Item),
        LIST_SPEC,
        params,
        schema=ItemOut,
        filters={Item.type: type, Item.active: active, Item.lot_tracked: lot_tracked},
    )


async def create(*, session: AsyncSession, principal: Principal, data: ItemCreate) -> Item:
    """Create an item; Conflict when the code is taken."""
    if await session.scalar(select(Item.id).where(Item.code == data.code)) is not None:
        raise Conflict(f"item code {data.code!r} already exists")
    item = Item(**data.model_dump())
    session.add(item)
    await session.flush()
    await session.refresh(item)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=item.id,
        after=audit.snapshot(item),
    )
    await session.commit()
    return item


async def update(
    *, session: AsyncSession, principal: Principal, item_id: int, data: ItemUpdate
) -> Item:
    """Change the given fields."""
    item = await get(session=session, item_id=item_id)
    before = audit.snapshot(item)
    for field, value in data.changes().items():
        setattr(item, field, value)
    await session.flush()
    await session.refresh(item)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ENTITY,
        entity_id=item.id,
        before=before,
        after=audit.snapshot(item),
    )
    await session.commit()
    return item


async def delete(*, session: AsyncSession, principal: Principal, item_id: int) -> None:
    """Delete an item not referenced anywhere (Conflict otherwise; deactivate it instead)."""
    item = await get(session=session, item_id=item_id)
    before = audit.snapshot(item)
    try:
        async with session.begin_nested():
            await session.delete(item)
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != FOREIGN_KEY_VIOLATION:
            raise
        raise Conflict(
            f"item {item.code} is still used by {_user(exc.orig)}; deactivate it instead"
        ) from exc
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=ENTITY,
        entity_id=item_id,
        before=before,
    )
    await session.commit()


def _user(error: Any) -> str:
    """What a foreign key violation says still refers to the item, in words."""
    table = getattr(getattr(error, "diag", None), "table_name", None) or "other records"
    return USERS.get(table, table.replace("_", " "))
