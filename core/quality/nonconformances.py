"""Non-conformances: reported from an inspection, a lot or a work order; reviewed and closed
with a disposition. Every change and transition is audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.errors import Conflict, ErrorDetail, InvalidTransition, NotFound, ValidationFailed
from core.inventory.models import Lot
from core.quality.inspections import require_work_order
from core.quality.models import Inspection, InspectionPlan, NcStatus, NonConformance
from core.quality.schemas import NcCreate, NcOut, NcTransition, NcUpdate

ENTITY = "non_conformance"
TRANSITIONS: dict[NcStatus, frozenset[NcStatus]] = {
    NcStatus.OPEN: frozenset({NcStatus.UNDER_REVIEW}),
    NcStatus.UNDER_REVIEW: frozenset({NcStatus.CLOSED}),
    NcStatus.CLOSED: frozenset(),
}
"""Allowed status changes."""

LIST_SPEC = ListSpec(
    search=[NonConformance.title, NonConformance.description, NonConformance.reported_by],
    sort={
        "id": NonConformance.id,
        "created_at": NonConformance.created_at,
        "updated_at": NonConformance.updated_at,
        "severity": NonConformance.severity,
        "status": NonConformance.status,
        "closed_at": NonConformance.closed_at,
    },
    default_sort="-id",
)


def _missing(what: str, ident: int, field: str) -> NotFound:
    return NotFound(
        f"{what} {ident} not found", details=[ErrorDetail(field=field, reason="not found")]
    )


async def get(*, session: AsyncSession, nc_id: int, lock: bool = False) -> NonConformance:
    """The non-conformance or NotFound (`lock`: row-locked for a change)."""
    stmt = select(NonConformance).where(NonConformance.id == nc_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    nc = await session.scalar(stmt)
    if nc is None:
        raise NotFound(f"non-conformance {nc_id} not found")
    return nc


async def list_ncs(
    *,
    session: AsyncSession,
    params: ListParams,
    status: str | None = None,
    severity: str | None = None,
    disposition: str | None = None,
    inspection_id: int | None = None,
    lot_id: int | None = None,
    work_order_id: int | None = None,
    item_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[NcOut]:
    """Non-conformances matching search and filters."""
    stmt = select(NonConformance)
    if since is not None:
        stmt = stmt.where(NonConformance.created_at >= since)
    if until is not None:
        stmt = stmt.where(NonConformance.created_at < until)
    return await paginate(
        session,
        stmt,
        LIST_SPEC,
        params,
        schema=NcOut,
        filters={
            NonConformance.status: status,
            NonConformance.severity: severity,
            NonConformance.disposition: disposition,
            NonConformance.inspection_id: inspection_id,
            NonConformance.lot_id: lot_id,
            NonConformance.work_order_id: work_order_id,
            NonConformance.item_id: item_id,
        },
    )


async def create(*, session: AsyncSession, principal: Principal, data: NcCreate) -> NonConformance:
    """Report a non-conformance; lot, work order and item are taken from the inspection when
    it is the source and they are not given."""
    values = data.model_dump()
    item_id: int | None = None
    if data.inspection_id is not None:
        inspection = await session.get(Inspection, data.inspection_id)
        if inspection is None:
            raise _missing("inspection", data.inspection_id, "body.inspection_id")
        values["lot_id"] = values["lot_id"] or inspection.lot_id
        values["work_order_id"] = values["work_order_id"] or inspection.work_order_id
        item_id = await session.scalar(
            select(InspectionPlan.item_id).where(InspectionPlan.id == inspection.plan_id)
        )
    if data.work_order_id is not None:
        await require_work_order(session, data.work_order_id, "body.work_order_id")
    if values["lot_id"] is not None:
        lot = await session.get(Lot, values["lot_id"])
        if lot is None:
            raise _missing("lot", values["lot_id"], "body.lot_id")
        if item_id is not None and lot.item_id != item_id:
            raise ValidationFailed(
                "body.lot_id", f"lot {lot.code!r} is not a lot of the inspected item"
            )
        item_id = lot.item_id
    nc = NonConformance(**values, item_id=item_id, reported_by=principal.display)
    session.add(nc)
    await session.flush()
    await session.refresh(nc)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=nc.id,
        after=audit.snapshot(nc),
    )
    await session.commit()
    return nc


async def update(
    *, session: AsyncSession, principal: Principal, nc_id: int, data: NcUpdate
) -> NonConformance:
    """Change the given fields of a non-conformance that is not closed."""
    nc = await get(session=session, nc_id=nc_id, lock=True)
    if nc.status == NcStatus.CLOSED:
        raise Conflict(f"non-conformance {nc_id} is closed and cannot change")
    before = audit.snapshot(nc)
    for field, value in data.changes().items():
        setattr(nc, field, value)
    await session.flush()
    await session.refresh(nc)
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ENTITY,
        entity_id=nc.id,
        before=before,
        after=audit.snapshot(nc),
    )
    await session.commit()
    return nc


async def transition(
    *, session: AsyncSession, principal: Principal, nc_id: int, data: NcTransition
) -> NonConformance:
    """open -> under_review -> closed; closing needs a disposition. Concurrent transitions
    are serialised by a row lock, so exactly one of two identical ones succeeds."""
    nc = await get(session=session, nc_id=nc_id, lock=True)
    current = NcStatus(nc.status)
    if data.status not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (closed)"
        raise InvalidTransition(
            f"non-conformance {nc_id} cannot go from {current} to {data.status}; "
            f"allowed: {allowed}",
            details=[ErrorDetail(field="body.status", reason=f"not allowed from {current}")],
        )
    now = await session.scalar(select(func.now()))
    before = audit.snapshot(nc)
    if data.disposition is not None:
        nc.disposition = data.disposition
    if data.disposition_note is not None:
        nc.disposition_note = data.disposition_note
    if data.status == NcStatus.UNDER_REVIEW:
        nc.review_started_at, nc.reviewed_by = now, principal.display
    elif data.status == NcStatus.CLOSED:
        if nc.disposition is None:
            raise ValidationFailed("body.disposition", "closing needs a disposition")
        nc.closed_at, nc.closed_by = now, principal.display
    nc.status = data.status
    await session.flush()
    await session.refresh(nc)
    audit.record(
        session,
        principal=principal,
        action="transition",
        entity=ENTITY,
        entity_id=nc.id,
        before=before,
        after=audit.snapshot(nc),
    )
    await session.commit()
    return nc
