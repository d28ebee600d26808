"""/api/v1/downtime: the reason-code tree and downtime events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from core.auth.deps import require
from core.auth.principal import Principal
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.downtime import service
from core.downtime.models import DowntimeSource, LossCategory, ReasonKind
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
from core.errors import errors

router = APIRouter(prefix="/downtime", tags=["downtime"])

ReasonId = Annotated[int, Path(ge=1, le=2**31 - 1, description="downtime reason id")]
EventId = Annotated[int, Path(ge=1, le=2**31 - 1, description="downtime event id")]
Configurer = Annotated[Principal, require("downtime:configure")]
Recorder = Annotated[Principal, require("downtime:record")]
READ = [require("downtime:read")]


@router.get(
    "/reasons",
    response_model=Page[ReasonOut],
    summary="List downtime reasons",
    description="Categories and reasons of the reason tree, flat; `q` searches code and name; "
    "filter by kind, parent, planned flag, loss category and active flag.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_downtime_reasons(
    session: SessionDep,
    params: ListParamsDep,
    kind: Annotated[ReasonKind | None, Query()] = None,
    parent_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    planned: Annotated[bool | None, Query()] = None,
    loss_category: Annotated[LossCategory | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
) -> Page[ReasonOut]:
    """List downtime reasons."""
    return await service.list_reasons(
        session=session,
        params=params,
        kind=kind,
        parent_id=parent_id,
        planned=planned,
        loss_category=loss_category,
        active=active,
    )


@router.get(
    "/reasons/tree",
    response_model=list[ReasonNode],
    summary="Downtime reason tree",
    description="The reason tree nested (categories -> reasons), as operators pick from it.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def downtime_reason_tree(
    session: SessionDep, active: Annotated[bool | None, Query()] = None
) -> list[ReasonNode]:
    """Downtime reason tree."""
    return await service.reason_tree(session=session, active=active)


@router.post(
    "/reasons",
    response_model=ReasonOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a downtime reason",
    description="Add a category or a reason under a category. Unplanned reasons name their "
    "six-big-losses category; planned ones (breaks, planned maintenance) have none.",
    responses=errors(401, 403, 409, 422),
)
async def create_downtime_reason(
    session: SessionDep, principal: Configurer, data: ReasonCreate
) -> ReasonOut:
    """Create a downtime reason."""
    return ReasonOut.model_validate(
        await service.create_reason(session=session, principal=principal, data=data)
    )


@router.get(
    "/reasons/{reason_id}",
    response_model=ReasonOut,
    summary="Get a downtime reason",
    description="One category or reason.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_downtime_reason(session: SessionDep, reason_id: ReasonId) -> ReasonOut:
    """Get a downtime reason."""
    return ReasonOut.model_validate(await service.get_reason(session, reason_id))


@router.patch(
    "/reasons/{reason_id}",
    response_model=ReasonOut,
    summary="Update a downtime reason",
    description="Rename, move under another category (409 when that makes a cycle), change "
    "planned flag, loss category or active flag.",
    responses=errors(401, 403, 404, 409, 422),
)
async def update_downtime_reason(
    session: SessionDep, principal: Configurer, reason_id: ReasonId, data: ReasonUpdate
) -> ReasonOut:
    """Update a downtime reason."""
    return ReasonOut.model_validate(
        await service.update_reason(
            session=session, principal=principal, reason_id=reason_id, data=data
        )
    )


@router.delete(
    "/reasons/{reason_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a downtime reason",
    description="Delete a node without children or events (409 otherwise: deactivate it).",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_downtime_reason(
    session: SessionDep, principal: Configurer, reason_id: ReasonId
) -> None:
    """Delete a downtime reason."""
    await service.delete_reason(session=session, principal=principal, reason_id=reason_id)


@router.get(
    "/events",
    response_model=Page[EventOut],
    summary="List downtime events",
    description="Downtime events, newest first. Filter by equipment (optionally with everything "
    "below it), reason, open, planned, source, unassigned, and a time range the events overlap; "
    "`q` searches the equipment code and comment.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_downtime_events(
    session: SessionDep,
    params: ListParamsDep,
    equipment_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    include_children: Annotated[
        bool, Query(description="with equipment_id: also the equipment below it")
    ] = False,
    reason_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    open: Annotated[bool | None, Query(description="still running")] = None,
    planned: Annotated[bool | None, Query()] = None,
    source: Annotated[DowntimeSource | None, Query()] = None,
    unassigned: Annotated[bool | None, Query(description="no reason yet")] = None,
    since: Annotated[datetime | None, Query(description="events ending after")] = None,
    until: Annotated[datetime | None, Query(description="events starting before")] = None,
) -> Page[EventOut]:
    """List downtime events."""
    return await service.list_events(
        session=session,
        params=params,
        equipment_id=equipment_id,
        include_children=include_children,
        reason_id=reason_id,
        open=open,
        planned=planned,
        source=source,
        unassigned=unassigned,
        since=since,
        until=until,
    )


@router.post(
    "/events",
    response_model=EventOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a downtime event",
    description="A stop of a piece of equipment, open (no end) or already over, with or without "
    "its reason. 409 when it overlaps another event of the same equipment.",
    responses=errors(401, 403, 409, 422),
)
async def create_downtime_event(
    session: SessionDep, principal: Recorder, data: EventCreate
) -> EventOut:
    """Record a downtime event."""
    return EventOut.model_validate(
        await service.create_event(session=session, principal=principal, data=data)
    )


@router.get(
    "/events/{event_id}",
    response_model=EventOut,
    summary="Get a downtime event",
    description="One downtime event with its equipment and reason.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_downtime_event(session: SessionDep, event_id: EventId) -> EventOut:
    """Get a downtime event."""
    return EventOut.model_validate(await service.get_event(session, event_id))


@router.post(
    "/events/{event_id}/close",
    response_model=EventOut,
    summary="Close a downtime event",
    description="End an open event (now by default), optionally assigning the reason.",
    responses=errors(401, 403, 404, 409, 422),
)
async def close_downtime_event(
    session: SessionDep, principal: Recorder, event_id: EventId, data: EventClose
) -> EventOut:
    """Close a downtime event."""
    return EventOut.model_validate(
        await service.close(session=session, principal=principal, event_id=event_id, data=data)
    )


@router.patch(
    "/events/{event_id}",
    response_model=EventOut,
    summary="Update a downtime event",
    description="Assign or change the reason (the planned flag follows it unless given), "
    "correct times or the comment.",
    responses=errors(401, 403, 404, 409, 422),
)
async def update_downtime_event(
    session: SessionDep, principal: Recorder, event_id: EventId, data: EventUpdate
) -> EventOut:
    """Update a downtime event."""
    return EventOut.model_validate(
        await service.update_event(
            session=session, principal=principal, event_id=event_id, data=data
        )
    )


@router.delete(
    "/events/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a downtime event",
    description="Delete an event recorded by mistake (audited); supervisors, engineers and "
    "admins only.",
    responses=errors(401, 403, 404, 422),
)
async def delete_downtime_event(
    session: SessionDep, principal: Configurer, event_id: EventId
) -> None:
    """Delete a downtime event."""
    await service.delete_event(session=session, principal=principal, event_id=event_id)
