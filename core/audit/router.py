"""GET /api/v1/audit: the audit trail, searchable and filterable."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.audit.schemas import AuditEventOut
from core.auth.deps import require
from core.common.listing import ListParamsDep, ListSpec, paginate
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import errors

router = APIRouter(prefix="/audit", tags=["audit"])

SPEC = ListSpec(
    search=[AuditEvent.username, AuditEvent.entity, AuditEvent.entity_id, AuditEvent.action],
    sort={
        "ts": AuditEvent.ts,
        "id": AuditEvent.id,
        "entity": AuditEvent.entity,
        "username": AuditEvent.username,
    },
    default_sort="-id",
)


@router.get(
    "",
    response_model=Page[AuditEventOut],
    summary="List audit events",
    description="Every recorded change, newest first by default. Filter by entity, id, user, "
    "action and time range; `q` searches user, entity, id and action.",
    dependencies=[require("audit:read")],
    responses=errors(401, 403, 422),
)
async def list_audit_events(
    session: SessionDep,
    params: ListParamsDep,
    entity: Annotated[str | None, Query(max_length=60, examples=["work_order"])] = None,
    entity_id: Annotated[str | None, Query(max_length=100)] = None,
    user_id: Annotated[str | None, Query(max_length=100)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    since: Annotated[datetime | None, Query(description="inclusive lower bound on ts")] = None,
    until: Annotated[datetime | None, Query(description="exclusive upper bound on ts")] = None,
) -> Page[AuditEventOut]:
    """List audit events."""
    stmt = select(AuditEvent)
    if since is not None:
        stmt = stmt.where(AuditEvent.ts >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.ts < until)
    return await paginate(
        session,
        stmt,
        SPEC,
        params,
        schema=AuditEventOut,
        filters={
            AuditEvent.entity: entity,
            AuditEvent.entity_id: entity_id,
            AuditEvent.user_id: user_id,
            AuditEvent.action: action,
        },
    )
