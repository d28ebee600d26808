"""Downtime service: the reason tree and downtime events.

`open_event` and `close_event` do not commit: the machine-state engine (and the API functions
below, which commit) compose them. Events of one piece of equipment never overlap: checked
under the equipment's row lock, and guaranteed by an exclusion constraint.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, selectinload

from core.audit import service as audit
from core.auth.principal import Principal
from core.calendar.service import EARLIEST
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.downtime.models import DowntimeEvent, DowntimeReason, DowntimeSource, ReasonKind
from core.downtime.schemas import (
    EventClose,
    EventCreate,
    EventOut,
    EventUpdate,
    ReasonCreate,
    ReasonNode,
    ReasonOut,
    ReasonUpdate,
)
from core.equipment import service as equipment_service
from core.equipment.models import Equipment
from core.errors import Conflict, NotFound, ValidationFailed

REASON_ENTITY = "downtime_reason"
EVENT_ENTITY = "downtime_event"
FUTURE_TOLERANCE = timedelta(minutes=5)
REASON_SPEC = ListSpec(
    search=[DowntimeReason.code, DowntimeReason.name],
    sort={
        "id": DowntimeReason.id,
        "code": DowntimeReason.code,
        "name": DowntimeReason.name,
        "sort_order": DowntimeReason.sort_order,
    },
    default_sort="sort_order,code",
)
EVENT_SPEC = ListSpec(
    search=[Equipment.code, DowntimeEvent.comment],
    sort={
        "id": DowntimeEvent.id,
        "start_ts": DowntimeEvent.start_ts,
        "end_ts": DowntimeEvent.end_ts,
        "equipment_code": Equipment.code,
        "duration": func.coalesce(DowntimeEvent.end_ts, func.now()) - DowntimeEvent.start_ts,
    },
    default_sort="-start_ts",
)


def now() -> datetime:
    """Current UTC time."""
    return datetime.now(UTC)


async def _saved(session: AsyncSession, obj: Any) -> dict[str, Any]:
    """Flush, reload the columns the database set and snapshot for the audit."""
    await session.flush()
    await session.refresh(obj, [a.key for a in sa_inspect(obj).mapper.column_attrs])
    return audit.snapshot(obj)


# --- reasons ---------------------------------------------------------------------------------


async def get_reason(session: AsyncSession, reason_id: int) -> DowntimeReason:
    """The reason or NotFound."""
    reason = await session.get(DowntimeReason, reason_id)
    if reason is None:
        raise NotFound(f"downtime reason {reason_id} not found")
    return reason


async def list_reasons(
    *,
    session: AsyncSession,
    params: ListParams,
    kind: str | None = None,
    parent_id: int | None = None,
    planned: bool | None = None,
    loss_category: str | None = None,
    active: bool | None = None,
) -> Page[ReasonOut]:
    """Reasons and categories matching search (code, name) and filters."""
    return await paginate(
        session,
        select(DowntimeReason),
        REASON_SPEC,
        params,
        schema=ReasonOut,
        filters={
            DowntimeReason.kind: kind,
            DowntimeReason.parent_id: parent_id,
            DowntimeReason.planned: planned,
            DowntimeReason.loss_category: loss_category,
            DowntimeReason.active: active,
        },
    )


async def reason_tree(*, session: AsyncSession, active: bool | None = None) -> list[ReasonNode]:
    """The whole tree, children ordered by sort order then code."""
    stmt = select(DowntimeReason).order_by(DowntimeReason.sort_order, DowntimeReason.code)
    if active is not None:
        stmt = stmt.where(DowntimeReason.active.is_(active))
    rows = list(await session.scalars(stmt))
    nodes = {
        r.id: ReasonNode(
            id=r.id,
            code=r.code,
            name=r.name,
            kind=r.kind,
            planned=r.planned,
            loss_category=r.loss_category,
            active=r.active,
        )
        for r in rows
    }
    roots: list[ReasonNode] = []
    for r in rows:
        parent = nodes.get(r.parent_id) if r.parent_id is not None else None
        (parent.children if parent is not None else roots).append(nodes[r.id])
    return roots


async def _check_parent(
    session: AsyncSession, parent_id: int | None, moving: int | None, field: str
) -> None:
    if parent_id is None:
        return
    parent = await session.get(DowntimeReason, parent_id)
    if parent is None:
        raise ValidationFailed(field, f"downtime reason {parent_id} not found")
    if parent.kind != ReasonKind.CATEGORY:
        raise ValidationFailed(field, f"{parent.code} is a reason; the parent must be a category")
    node: DowntimeReason | None = parent
    while moving is not None and node is not None:
        if node.id == moving:
            raise Conflict(f"moving the node under {parent.code} would make a cycle")
        node = await session.get(DowntimeReason, node.parent_id) if node.parent_id else None


def _check_loss(kind: str, planned: bool, loss_category: str | None, field: str) -> None:
    if kind == ReasonKind.REASON and not planned and loss_category is None:
        raise ValidationFailed(field, "an unplanned reason needs its OEE loss category")
    if planned and loss_category is not None:
        raise ValidationFailed(field, "a planned reason has no loss category")


async def create_reason(
    *, session: AsyncSession, principal: Principal, data: ReasonCreate
) -> DowntimeReason:
    """Add a category or reason."""
    if await session.scalar(select(DowntimeReason.id).where(DowntimeReason.code == data.code)):
        raise Conflict(f"downtime reason code {data.code!r} already exists")
    await _check_parent(session, data.parent_id, None, "body.parent_id")
    _check_loss(data.kind, data.planned, data.loss_category, "body.loss_category")
    reason = DowntimeReason(**data.model_dump())
    session.add(reason)
    after = await _saved(session, reason)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=REASON_ENTITY,
        entity_id=reason.id,
        after=after,
    )
    await session.commit()
    return reason


async def update_reason(
    *, session: AsyncSession, principal: Principal, reason_id: int, data: ReasonUpdate
) -> DowntimeReason:
    """Change a node (a new parent must be a category and not below the node)."""
    reason = await get_reason(session, reason_id)
    changes = data.changes()
    if "parent_id" in changes and changes["parent_id"] != reason.parent_id:
        await _check_parent(session, changes["parent_id"], reason.id, "body.parent_id")
    _check_loss(
        reason.kind,
        changes.get("planned", reason.planned),
        changes.get("loss_category", reason.loss_category),
        "body.loss_category",
    )
    before = audit.snapshot(reason)
    for field, value in changes.items():
        setattr(reason, field, value)
    after = await _saved(session, reason)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=REASON_ENTITY,
        entity_id=reason_id,
        before=before,
        after=after,
    )
    await session.commit()
    return reason


async def delete_reason(*, session: AsyncSession, principal: Principal, reason_id: int) -> None:
    """Delete a node without children or events (deactivate it otherwise)."""
    reason = await get_reason(session, reason_id)
    if await session.scalar(select(DowntimeReason.id).where(DowntimeReason.parent_id == reason_id)):
        raise Conflict(f"{reason.code} has children; delete or move them first")
    if await session.scalar(select(DowntimeEvent.id).where(DowntimeEvent.reason_id == reason_id)):
        raise Conflict(f"{reason.code} is used by downtime events; deactivate it instead")
    before = audit.snapshot(reason)
    await session.delete(reason)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=REASON_ENTITY,
        entity_id=reason_id,
        before=before,
    )
    await session.commit()


# --- events ----------------------------------------------------------------------------------


async def get_event(session: AsyncSession, event_id: int, *, lock: bool = False) -> DowntimeEvent:
    """The event with equipment and reason, or NotFound."""
    stmt = (
        select(DowntimeEvent)
        .options(selectinload(DowntimeEvent.equipment), selectinload(DowntimeEvent.reason))
        .where(DowntimeEvent.id == event_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update(of=DowntimeEvent)
    event = (await session.scalars(stmt)).first()
    if event is None:
        raise NotFound(f"downtime event {event_id} not found")
    return event


async def list_events(
    *,
    session: AsyncSession,
    params: ListParams,
    equipment_id: int | None = None,
    include_children: bool = False,
    reason_id: int | None = None,
    open: bool | None = None,
    planned: bool | None = None,
    source: str | None = None,
    unassigned: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[EventOut]:
    """Events matching the filters; `since`/`until` select events overlapping that range."""
    stmt = (
        select(DowntimeEvent)
        .join(DowntimeEvent.equipment)
        .options(contains_eager(DowntimeEvent.equipment), selectinload(DowntimeEvent.reason))
    )
    if equipment_id is not None:
        ids = (
            await equipment_service.descendant_ids(session, equipment_id)
            if include_children
            else [equipment_id]
        )
        stmt = stmt.where(DowntimeEvent.equipment_id.in_(ids))
    if open is not None:
        stmt = stmt.where(
            DowntimeEvent.end_ts.is_(None) if open else DowntimeEvent.end_ts.is_not(None)
        )
    if unassigned is not None:
        stmt = stmt.where(
            DowntimeEvent.reason_id.is_(None)
            if unassigned
            else DowntimeEvent.reason_id.is_not(None)
        )
    if since is not None:
        stmt = stmt.where(or_(DowntimeEvent.end_ts.is_(None), DowntimeEvent.end_ts > since))
    if until is not None:
        stmt = stmt.where(DowntimeEvent.start_ts < until)
    return await paginate(
        session,
        stmt,
        EVENT_SPEC,
        params,
        schema=EventOut,
        filters={
            DowntimeEvent.reason_id: reason_id,
            DowntimeEvent.planned: planned,
            DowntimeEvent.source: source,
        },
    )


async def _bookable(
    session: AsyncSession, reason_id: int | None, field: str
) -> DowntimeReason | None:
    if reason_id is None:
        return None
    reason = await session.get(DowntimeReason, reason_id)
    if reason is None:
        raise ValidationFailed(field, f"downtime reason {reason_id} not found")
    if reason.kind != ReasonKind.REASON:
        raise ValidationFailed(field, f"{reason.code} is a category; book a reason")
    if not reason.active:
        raise ValidationFailed(field, f"{reason.code} is inactive")
    return reason


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed(field, "give a time zone (e.g. Z)")
    if value > now() + FUTURE_TOLERANCE:
        raise ValidationFailed(field, "lies in the future")
    if value < EARLIEST:
        raise ValidationFailed(field, "must not be before 2000-01-01")
    return value


async def _reject_overlap(
    session: AsyncSession,
    equipment_id: int,
    start: datetime,
    end: datetime | None,
    ignore: int | None,
) -> None:
    """Conflict when [start, end) overlaps another event of the equipment (call under its lock)."""
    stmt = select(DowntimeEvent.id, DowntimeEvent.start_ts, DowntimeEvent.end_ts).where(
        DowntimeEvent.equipment_id == equipment_id,
        or_(DowntimeEvent.end_ts.is_(None), DowntimeEvent.end_ts > start),
    )
    if end is not None:
        stmt = stmt.where(DowntimeEvent.start_ts < end)
    if ignore is not None:
        stmt = stmt.where(DowntimeEvent.id != ignore)
    clash = (await session.execute(stmt.limit(1))).first()
    if clash is not None:
        until = clash.end_ts.isoformat() if clash.end_ts else "open"
        span = f"{clash.start_ts.isoformat()} .. {until}"
        raise Conflict(f"overlaps downtime event {clash.id} ({span}) of the same equipment")


async def _lock_equipment(session: AsyncSession, equipment_id: int, field: str) -> None:
    found = await session.scalar(
        select(Equipment.id).where(Equipment.id == equipment_id).with_for_update()
    )
    if found is None:
        raise ValidationFailed(field, f"equipment {equipment_id} not found")


async def open_event(
    *,
    session: AsyncSession,
    principal: Principal,
    equipment_id: int,
    start_ts: datetime,
    end_ts: datetime | None = None,
    reason_id: int | None = None,
    planned: bool | None = None,
    source: DowntimeSource = DowntimeSource.AUTO,
    comment: str | None = None,
) -> DowntimeEvent:
    """Record a stop (open unless `end_ts` is given); Conflict when it overlaps another event of
    the equipment. Does not commit."""
    start_ts = _aware(start_ts, "body.start_ts")
    if end_ts is not None and _aware(end_ts, "body.end_ts") <= start_ts:
        raise ValidationFailed("body.end_ts", "must be after start_ts")
    reason = await _bookable(session, reason_id, "body.reason_id")
    await _lock_equipment(session, equipment_id, "body.equipment_id")
    await _reject_overlap(session, equipment_id, start_ts, end_ts, None)
    event = DowntimeEvent(
        equipment_id=equipment_id,
        start_ts=start_ts,
        end_ts=end_ts,
        reason_id=reason.id if reason else None,
        planned=planned if planned is not None else bool(reason and reason.planned),
        source=source,
        comment=comment,
    )
    session.add(event)
    after = await _saved(session, event)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=EVENT_ENTITY,
        entity_id=event.id,
        after=after,
    )
    return event


async def close_event(
    *,
    session: AsyncSession,
    principal: Principal,
    event_id: int,
    end_ts: datetime | None = None,
    reason_id: int | None = None,
    comment: str | None = None,
) -> DowntimeEvent:
    """End an open event (now by default), optionally assigning its reason. Does not commit."""
    event = await get_event(session, event_id, lock=True)
    if event.end_ts is not None:
        raise Conflict(f"downtime event {event_id} is already closed")
    end = _aware(end_ts, "body.end_ts") if end_ts is not None else now()
    if end <= event.start_ts:
        raise ValidationFailed(
            "body.end_ts", f"must be after the start {event.start_ts.isoformat()}"
        )
    before = audit.snapshot(event)
    reason = await _bookable(session, reason_id, "body.reason_id")
    if reason is not None:
        event.reason_id = reason.id
        event.planned = reason.planned
    if comment is not None:
        event.comment = comment
    event.end_ts = end
    after = await _saved(session, event)
    audit.record(
        session,
        principal=principal,
        action="close",
        entity=EVENT_ENTITY,
        entity_id=event_id,
        before=before,
        after=after,
    )
    return event


async def create_event(
    *, session: AsyncSession, principal: Principal, data: EventCreate
) -> DowntimeEvent:
    """Record a stop by hand."""
    event = await open_event(
        session=session,
        principal=principal,
        equipment_id=data.equipment_id,
        start_ts=data.start_ts,
        end_ts=data.end_ts,
        reason_id=data.reason_id,
        planned=data.planned,
        source=data.source,
        comment=data.comment,
    )
    await session.commit()
    return await get_event(session, event.id)


async def close(
    *, session: AsyncSession, principal: Principal, event_id: int, data: EventClose
) -> DowntimeEvent:
    """Close an open event."""
    await close_event(
        session=session,
        principal=principal,
        event_id=event_id,
        end_ts=data.end_ts,
        reason_id=data.reason_id,
        comment=data.comment,
    )
    await session.commit()
    return await get_event(session, event_id)


async def update_event(
    *, session: AsyncSession, principal: Principal, event_id: int, data: EventUpdate
) -> DowntimeEvent:
    """Assign a reason or correct times and comment."""
    event = await get_event(session, event_id, lock=True)
    changes = data.changes()
    if "reason_id" in changes:
        reason = await _bookable(session, changes["reason_id"], "body.reason_id")
        if reason is not None and "planned" not in changes:
            changes["planned"] = reason.planned
    start = changes.get("start_ts", event.start_ts)
    end = changes.get("end_ts", event.end_ts)
    if "start_ts" in changes:
        _aware(start, "body.start_ts")
    if "end_ts" in changes and end is not None:
        _aware(end, "body.end_ts")
    if end is not None and end <= start:
        raise ValidationFailed("body.end_ts", "must be after start_ts")
    if "start_ts" in changes or "end_ts" in changes:
        await _lock_equipment(session, event.equipment_id, "equipment_id")
        await _reject_overlap(session, event.equipment_id, start, end, event.id)
    before = audit.snapshot(event)
    for field, value in changes.items():
        setattr(event, field, value)
    after = await _saved(session, event)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=EVENT_ENTITY,
        entity_id=event_id,
        before=before,
        after=after,
    )
    await session.commit()
    return await get_event(session, event_id)


async def delete_event(*, session: AsyncSession, principal: Principal, event_id: int) -> None:
    """Delete an event recorded by mistake."""
    event = await get_event(session, event_id, lock=True)
    before = audit.snapshot(event)
    await session.delete(event)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=EVENT_ENTITY,
        entity_id=event_id,
        before=before,
    )
    await session.commit()
