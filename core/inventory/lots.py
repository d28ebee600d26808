"""Lots: listing with on-hand, status changes, and find-or-create for receipts and production."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate_rows
from core.common.schemas import Page
from core.errors import ErrorDetail, NotFound, ValidationFailed
from core.inventory.models import Lot, LotOrigin, LotStatus, Stock
from core.inventory.schemas import LotOut, LotUpdate
from core.items.models import Item

ENTITY = "lot"
CODE = re.compile(r"[A-Za-z0-9._/-]{1,64}")

LOT_ON_HAND = (
    select(func.coalesce(func.sum(Stock.quantity), 0))
    .where(Stock.lot_id == Lot.id)
    .correlate(Lot)
    .scalar_subquery()
)

LIST_SPEC = ListSpec(
    search=[Lot.code, Item.code, Lot.supplier_lot],
    sort={
        "id": Lot.id,
        "code": Lot.code,
        "item_code": Item.code,
        "status": Lot.status,
        "expires_on": Lot.expires_on,
        "created_at": Lot.created_at,
        "on_hand": LOT_ON_HAND,
    },
    default_sort="-created_at",
)


def _lot_rows() -> Select[*tuple[Any, ...]]:
    return select(
        *Lot.__table__.c, Item.code.label("item_code"), LOT_ON_HAND.label("on_hand")
    ).join(Item, Item.id == Lot.item_id)


async def get(*, session: AsyncSession, lot_id: int, field: str | None = None) -> Lot:
    """The lot or NotFound (naming `field` when the id came from a request body)."""
    lot = await session.get(Lot, lot_id)
    if lot is None:
        details = [ErrorDetail(field=field, reason="not found")] if field else None
        raise NotFound(f"lot {lot_id} not found", details=details)
    return lot


async def get_out(*, session: AsyncSession, lot_id: int) -> LotOut:
    """The lot with its item code and on-hand, or NotFound."""
    row = (await session.execute(_lot_rows().where(Lot.id == lot_id))).mappings().one_or_none()
    if row is None:
        raise NotFound(f"lot {lot_id} not found")
    return LotOut.model_validate(dict(row))


async def list_lots(
    *,
    session: AsyncSession,
    params: ListParams,
    item_id: int | None = None,
    status: str | None = None,
    origin: str | None = None,
    work_order_id: int | None = None,
    expires_before: date | None = None,
    in_stock: bool | None = None,
) -> Page[LotOut]:
    """Lots matching search and filters, with their on-hand."""
    stmt = _lot_rows()
    if expires_before is not None:
        stmt = stmt.where(Lot.expires_on < expires_before)
    if in_stock is not None:
        stmt = stmt.where((LOT_ON_HAND > 0) if in_stock else (LOT_ON_HAND == 0))
    return await paginate_rows(
        session,
        stmt,
        LIST_SPEC,
        params,
        schema=LotOut,
        tiebreak=Lot.id.desc(),
        filters={
            Lot.item_id: item_id,
            Lot.status: status,
            Lot.origin: origin,
            Lot.work_order_id: work_order_id,
        },
    )


async def update_lot(
    *, session: AsyncSession, principal: Principal, lot_id: int, data: LotUpdate
) -> LotOut:
    """Change status (release, quarantine, block), expiry, supplier lot or notes; audited."""
    lot = await get(session=session, lot_id=lot_id)
    await session.refresh(lot, with_for_update=True)
    before = audit.snapshot(lot)
    changes = data.changes()
    for field, value in changes.items():
        setattr(lot, field, value)
    await session.flush()
    await session.refresh(lot)
    after = audit.snapshot(lot)
    action = "status" if before["status"] != after["status"] else "update"
    audit.record(
        session,
        principal=principal,
        action=action,
        entity=ENTITY,
        entity_id=lot.id,
        before=before,
        after=after,
    )
    await session.commit()
    return await get_out(session=session, lot_id=lot_id)


async def find_or_create(
    *,
    session: AsyncSession,
    principal: Principal,
    item: Item,
    code: str,
    origin: LotOrigin,
    quantity: Decimal,
    status: LotStatus = LotStatus.RELEASED,
    expires_on: date | None = None,
    supplier_lot: str | None = None,
    work_order_id: int | None = None,
    check_existing: Callable[[Lot], None] | None = None,
) -> tuple[Lot, bool]:
    """The item's lot `code`, created (and audited) if new; `quantity` is added to what it
    received. `check_existing` may refuse an existing lot by raising. Safe against a concurrent
    creation of the same code. Returns (lot, created)."""
    stmt = (
        insert(Lot)
        .values(
            item_id=item.id,
            code=code,
            status=status,
            origin=origin,
            received_quantity=quantity,
            expires_on=expires_on,
            supplier_lot=supplier_lot,
            work_order_id=work_order_id,
        )
        .on_conflict_do_nothing(index_elements=[Lot.item_id, Lot.code])
        .returning(Lot.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    if new_id is not None:
        lot = await get(session=session, lot_id=new_id)
        audit.record(
            session,
            principal=principal,
            action="create",
            entity=ENTITY,
            entity_id=lot.id,
            after=audit.snapshot(lot),
        )
        return lot, True
    lot_id = await session.scalar(
        select(Lot.id).where(Lot.item_id == item.id, Lot.code == code).with_for_update()
    )
    assert lot_id is not None  # the conflict means it exists; lots are never deleted
    lot = await get(session=session, lot_id=lot_id)
    if check_existing is not None:
        check_existing(lot)
    await add_received(session=session, lot_id=lot_id, quantity=quantity)
    return lot, False


async def add_received(*, session: AsyncSession, lot_id: int, quantity: Decimal) -> None:
    """Count `quantity` more as received into the lot."""
    await session.execute(
        update(Lot)
        .where(Lot.id == lot_id)
        .values(received_quantity=Lot.received_quantity + quantity, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )
    lot = await session.get(Lot, lot_id)
    if lot is not None:
        await session.refresh(lot)


async def next_production_code(*, session: AsyncSession, item_id: int, work_order_id: int) -> str:
    """A free lot code for a work order's output: `WO<id>-<n>` (n = 001, 002, ...)."""
    prefix = f"WO{work_order_id}-"
    taken = set(
        (
            await session.scalars(
                select(Lot.code).where(Lot.item_id == item_id, Lot.code.startswith(prefix))
            )
        ).all()
    )
    n = len(taken) + 1
    while f"{prefix}{n:03d}" in taken:
        n += 1
    return f"{prefix}{n:03d}"


def check_code(code: str, field: str) -> str:
    """A lot code as the API accepts it (the `Code` rules), or ValidationFailed."""
    stripped = code.strip()
    if not CODE.fullmatch(stripped):
        raise ValidationFailed(
            field, "lot code must be 1-64 characters of letters, digits and . _ / -"
        )
    return stripped
