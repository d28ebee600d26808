"""Stock movements and on-hand: keyword-only functions over an AsyncSession; every change is
audited in its transaction.

The API movements (`receive`, `issue`, `transfer`, `adjust`) commit. The functions the
work-order completion flow calls (`receive_production`, `backflush`) and `on_hand` do not:
the caller commits, or rolls back on any error so that a completion is all or nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, apply_filters, page_of, paginate_rows
from core.common.schemas import Page
from core.common.search import contains, contains_pattern
from core.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from core.inventory import locations, lots, stock
from core.inventory.models import (
    InventoryTransaction,
    Location,
    Lot,
    LotLink,
    LotOrigin,
    LotStatus,
    Stock,
    TransactionType,
)
from core.inventory.schemas import (
    AdjustmentCreate,
    IssueCreate,
    ItemOnHand,
    OnHandPart,
    ReceiptCreate,
    StockOut,
    TransactionOut,
    TransferCreate,
)
from core.items.models import Item
from core.work_orders.models import WorkOrder

ENTITY = "inventory_transaction"
ZERO = Decimal(0)
MAX_ID = 2**31 - 1

TRANSACTION_SPEC = ListSpec(
    search=[
        InventoryTransaction.reference,
        InventoryTransaction.reason,
        InventoryTransaction.username,
    ],
    sort={
        "id": InventoryTransaction.id,
        "ts": InventoryTransaction.ts,
        "type": InventoryTransaction.type,
        "quantity": InventoryTransaction.quantity,
        "item_id": InventoryTransaction.item_id,
    },
    default_sort="-id",
)

STOCK_SPEC = ListSpec(
    search=[Item.code, Item.name, Lot.code],  # _stock_search answers from stock.search_text
    sort={
        "item_code": Item.code,
        "lot_code": Lot.code,
        "location_code": Location.code,
        "quantity": Stock.quantity,
        "updated_at": Stock.updated_at,
    },
    default_sort="item_code,location_code,lot_code",
)


def fmt(value: Decimal) -> str:
    """A quantity for messages: `12.5`, not `12.500000`.

    >>> fmt(Decimal("12.500000")), fmt(Decimal("100.000000")), fmt(Decimal("0E-6"))
    ('12.5', '100', '0')
    """
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def _usable_lot() -> ColumnElement[bool]:
    """Lot condition for stock that may be consumed: released and not expired."""
    return and_(
        Lot.status == LotStatus.RELEASED,
        or_(Lot.expires_on.is_(None), Lot.expires_on >= func.current_date()),
    )


# --- lookups -------------------------------------------------------------------------------


async def _item(session: AsyncSession, item_id: int, field: str = "body.item_id") -> Item:
    item = await session.get(Item, item_id) if 1 <= item_id <= MAX_ID else None
    if item is None:
        raise NotFound(
            f"item {item_id} not found", details=[ErrorDetail(field=field, reason="not found")]
        )
    return item


async def _location(
    session: AsyncSession, location_id: int, field: str, *, receiving: bool = False
) -> Location:
    if not 1 <= location_id <= MAX_ID:
        raise NotFound(
            f"location {location_id} not found",
            details=[ErrorDetail(field=field, reason="not found")],
        )
    location = await locations.get(session=session, location_id=location_id, field=field)
    if receiving and not location.active:
        raise Conflict(
            f"location {location.code!r} is inactive and cannot receive stock",
            details=[ErrorDetail(field=field, reason="inactive")],
        )
    return location


async def _lot(
    session: AsyncSession, item: Item, lot_id: int | None, field: str = "body.lot_id"
) -> Lot | None:
    """The lot named for a movement of `item`; required for lot-tracked items."""
    if lot_id is None:
        if item.lot_tracked:
            raise ValidationFailed(field, f"item {item.code!r} is lot-tracked: a lot is required")
        return None
    lot = await lots.get(session=session, lot_id=lot_id, field=field)
    if lot.item_id != item.id:
        raise ValidationFailed(field, f"lot {lot.code!r} is not a lot of item {item.code!r}")
    return lot


async def _check_consumable(session: AsyncSession, lot: Lot | None, field: str) -> None:
    """Issues take only released, unexpired lots."""
    if lot is None:
        return
    if lot.status != LotStatus.RELEASED:
        raise Conflict(
            f"lot {lot.code!r} is {lot.status} and cannot be issued",
            details=[ErrorDetail(field=field, reason=f"lot status {lot.status}")],
        )
    today = await session.scalar(select(func.current_date()))
    if lot.expires_on is not None and today is not None and lot.expires_on < today:
        raise Conflict(
            f"lot {lot.code!r} expired on {lot.expires_on.isoformat()}",
            details=[ErrorDetail(field=field, reason="expired")],
        )


def _short(item: Item, location: Location, lot: Lot | None, have: Decimal, want: Decimal) -> str:
    where = f"{location.code!r}" + (f" in lot {lot.code!r}" if lot else "")
    return (
        f"not enough {item.code!r} at {where}: on hand {fmt(have)} {item.unit}, "
        f"requested {fmt(want)}, short {fmt(want - have)}"
    )


async def _remove_or_conflict(
    session: AsyncSession,
    item: Item,
    location: Location,
    lot: Lot | None,
    quantity: Decimal,
    field: str = "body.quantity",
) -> Decimal:
    lot_id = lot.id if lot else None
    left = await stock.remove(
        session, item_id=item.id, location_id=location.id, lot_id=lot_id, quantity=quantity
    )
    if left is None:
        have = await stock.quantity_at(
            session, item_id=item.id, location_id=location.id, lot_id=lot_id
        )
        message = _short(item, location, lot, have, quantity)
        raise Conflict(message, details=[ErrorDetail(field=field, reason=message)])
    return left


async def _ledger(
    session: AsyncSession,
    principal: Principal,
    *,
    type: TransactionType,
    item_id: int,
    quantity: Decimal,
    lot_id: int | None = None,
    from_location_id: int | None = None,
    to_location_id: int | None = None,
    work_order_id: int | None = None,
    reason: str | None = None,
    reference: str | None = None,
    audit_extra: dict[str, Any] | None = None,
) -> InventoryTransaction:
    """Write one ledger row and its audit event."""
    tx = InventoryTransaction(
        type=type,
        item_id=item_id,
        lot_id=lot_id,
        from_location_id=from_location_id,
        to_location_id=to_location_id,
        quantity=quantity,
        work_order_id=work_order_id,
        user_id=principal.subject,
        username=principal.display,
        reason=reason,
        reference=reference,
    )
    session.add(tx)
    await session.flush()
    await session.refresh(tx)
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=tx.id,
        after={**audit.snapshot(tx), **(audit_extra or {})},
    )
    return tx


# --- movements from the API (commit) -------------------------------------------------------


async def receive(
    *, session: AsyncSession, principal: Principal, data: ReceiptCreate
) -> InventoryTransaction:
    """Goods in: stock added at `to_location_id`, into a new or existing lot."""
    item = await _item(session, data.item_id)
    location = await _location(session, data.to_location_id, "body.to_location_id", receiving=True)
    lot: Lot | None
    if data.lot_code is not None:
        lot, _ = await lots.find_or_create(
            session=session,
            principal=principal,
            item=item,
            code=data.lot_code,
            origin=LotOrigin.RECEIPT,
            quantity=data.quantity,
            status=data.lot_status,
            expires_on=data.expires_on,
            supplier_lot=data.supplier_lot,
        )
    else:
        field = "body.lot_code" if item.lot_tracked and data.lot_id is None else "body.lot_id"
        lot = await _lot(session, item, data.lot_id, field)
        if lot is not None:
            await lots.add_received(session=session, lot_id=lot.id, quantity=data.quantity)
    on_hand_after = await stock.add(
        session,
        item_id=item.id,
        location_id=location.id,
        lot_id=lot.id if lot else None,
        quantity=data.quantity,
    )
    tx = await _ledger(
        session,
        principal,
        type=TransactionType.RECEIPT,
        item_id=item.id,
        quantity=data.quantity,
        lot_id=lot.id if lot else None,
        to_location_id=location.id,
        reason=data.reason,
        reference=data.reference,
        audit_extra={"on_hand_after": on_hand_after},
    )
    await session.commit()
    return tx


async def issue(
    *, session: AsyncSession, principal: Principal, data: IssueCreate
) -> InventoryTransaction:
    """Goods out of `from_location_id` (released, unexpired lots only); Conflict when short."""
    item = await _item(session, data.item_id)
    location = await _location(session, data.from_location_id, "body.from_location_id")
    lot = await _lot(session, item, data.lot_id)
    if data.work_order_id is not None:
        await _work_order(session, data.work_order_id)
    await _check_consumable(session, lot, "body.lot_id")
    left = await _remove_or_conflict(session, item, location, lot, data.quantity)
    tx = await _ledger(
        session,
        principal,
        type=TransactionType.ISSUE,
        item_id=item.id,
        quantity=-data.quantity,
        lot_id=lot.id if lot else None,
        from_location_id=location.id,
        work_order_id=data.work_order_id,
        reason=data.reason,
        reference=data.reference,
        audit_extra={"on_hand_after": left},
    )
    await session.commit()
    return tx


async def transfer(
    *, session: AsyncSession, principal: Principal, data: TransferCreate
) -> InventoryTransaction:
    """Move stock between locations, whatever the lot's status (e.g. into quarantine)."""
    item = await _item(session, data.item_id)
    source = await _location(session, data.from_location_id, "body.from_location_id")
    target = await _location(session, data.to_location_id, "body.to_location_id", receiving=True)
    lot = await _lot(session, item, data.lot_id)
    lot_id = lot.id if lot else None
    await stock.ensure_row(session, item_id=item.id, location_id=target.id, lot_id=lot_id)
    await stock.lock_rows(session, [(item.id, source.id, lot_id), (item.id, target.id, lot_id)])
    left = await _remove_or_conflict(session, item, source, lot, data.quantity)
    arrived = await stock.add(
        session, item_id=item.id, location_id=target.id, lot_id=lot_id, quantity=data.quantity
    )
    tx = await _ledger(
        session,
        principal,
        type=TransactionType.TRANSFER,
        item_id=item.id,
        quantity=data.quantity,
        lot_id=lot_id,
        from_location_id=source.id,
        to_location_id=target.id,
        reason=data.reason,
        reference=data.reference,
        audit_extra={"on_hand_after": {"from": left, "to": arrived}},
    )
    await session.commit()
    return tx


async def adjust(
    *, session: AsyncSession, principal: Principal, data: AdjustmentCreate
) -> InventoryTransaction:
    """Book a count difference or a signed correction at one location."""
    item = await _item(session, data.item_id)
    location = await _location(session, data.location_id, "body.location_id")
    lot = await _lot(session, item, data.lot_id)
    lot_id = lot.id if lot else None
    if data.counted_quantity is not None:
        await stock.ensure_row(session, item_id=item.id, location_id=location.id, lot_id=lot_id)
        await stock.lock_rows(session, [(item.id, location.id, lot_id)])
        current = await stock.quantity_at(
            session, item_id=item.id, location_id=location.id, lot_id=lot_id
        )
        delta = data.counted_quantity - current
        if delta == 0:
            raise Conflict(
                f"the count of {fmt(data.counted_quantity)} equals the on-hand; nothing to adjust",
                details=[ErrorDetail(field="body.counted_quantity", reason="equals the on-hand")],
            )
    else:
        assert data.quantity is not None  # the schema requires one of the two
        delta = data.quantity
    if delta > 0:
        after = await stock.add(
            session, item_id=item.id, location_id=location.id, lot_id=lot_id, quantity=delta
        )
    else:
        field = "body.quantity" if data.counted_quantity is None else "body.counted_quantity"
        after = await _remove_or_conflict(session, item, location, lot, -delta, field)
    tx = await _ledger(
        session,
        principal,
        type=TransactionType.ADJUSTMENT,
        item_id=item.id,
        quantity=delta,
        lot_id=lot_id,
        from_location_id=location.id if delta < 0 else None,
        to_location_id=location.id if delta > 0 else None,
        reason=data.reason,
        reference=data.reference,
        audit_extra={"on_hand_after": after},
    )
    await session.commit()
    return tx


# --- production (called by the work-order flow; no commit) ---------------------------------


def _positive(quantity: Decimal, field: str) -> Decimal:
    if not isinstance(quantity, Decimal) or not quantity.is_finite() or quantity <= 0:
        raise ValidationFailed(field, f"must be a positive quantity, got {quantity!r}")
    exponent = quantity.normalize().as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -6 or quantity >= Decimal(10) ** 12:
        raise ValidationFailed(field, "at most 12 integer digits and 6 decimals")
    return quantity


async def _work_order(
    session: AsyncSession, work_order_id: int, field: str = "body.work_order_id"
) -> int:
    """The id of an existing work order, else ValidationFailed / NotFound naming `field`."""
    if not 1 <= work_order_id <= MAX_ID:
        raise ValidationFailed(field, f"not a valid id: {work_order_id}")
    if await session.scalar(select(WorkOrder.id).where(WorkOrder.id == work_order_id)) is None:
        raise NotFound(
            f"work order {work_order_id} not found",
            details=[ErrorDetail(field=field, reason="not found")],
        )
    return work_order_id


async def receive_production(
    *,
    session: AsyncSession,
    principal: Principal,
    work_order_id: int,
    item_id: int,
    quantity: Decimal,
    location_id: int,
    lot_code: str | None,
) -> Lot:
    """Book a work order's output into a lot at `location_id` (production_receipt).

    With `lot_code` None a code `WO<id>-<nnn>` is generated. A lot code that already exists
    for the item is added to when it is this work order's production lot, else Conflict.
    Does not commit: the caller commits, or rolls back on any error. Errors name the field of
    the completion request a value came from (`path.work_order_id`, `body.location_id`,
    `body.lot_code`), else the argument (the order's item and good quantity).
    """
    await _work_order(session, work_order_id, "path.work_order_id")
    _positive(quantity, "quantity")
    item = await _item(session, item_id, "item_id")
    location = await _location(session, location_id, "body.location_id", receiving=True)
    if lot_code is None:
        code = await lots.next_production_code(
            session=session, item_id=item.id, work_order_id=work_order_id
        )
    else:
        code = lots.check_code(lot_code, "body.lot_code")

    def same_order(lot: Lot) -> None:
        if lot.origin != LotOrigin.PRODUCTION or lot.work_order_id != work_order_id:
            source = (
                f"work order {lot.work_order_id}"
                if lot.origin == LotOrigin.PRODUCTION
                else "a receipt"
            )
            raise Conflict(
                f"lot {code!r} of item {item.code!r} already exists from {source}",
                details=[ErrorDetail(field="body.lot_code", reason="lot exists")],
            )

    lot, _ = await lots.find_or_create(
        session=session,
        principal=principal,
        item=item,
        code=code,
        origin=LotOrigin.PRODUCTION,
        quantity=quantity,
        work_order_id=work_order_id,
        check_existing=same_order,
    )
    on_hand_after = await stock.add(
        session, item_id=item.id, location_id=location.id, lot_id=lot.id, quantity=quantity
    )
    await _ledger(
        session,
        principal,
        type=TransactionType.PRODUCTION_RECEIPT,
        item_id=item.id,
        quantity=quantity,
        lot_id=lot.id,
        to_location_id=location.id,
        work_order_id=work_order_id,
        audit_extra={"on_hand_after": on_hand_after},
    )
    return lot


async def backflush(
    *,
    session: AsyncSession,
    principal: Principal,
    work_order_id: int,
    produced_lot_id: int,
    components: list[tuple[int, Decimal]],
    location_id: int,
) -> list[InventoryTransaction]:
    """Consume components at `location_id` for a work order and link them to the produced lot.

    For each (item_id, quantity), released and unexpired lots are consumed oldest first (stock
    without a lot first, for items that are not lot-tracked); one backflush transaction per
    consumed stock row and a genealogy link produced lot <- consumed lot. Conflict naming the
    item and the shortfall when there is not enough. Does not commit: the caller commits, or
    rolls back on any error (some components may already be booked when a later one is short).
    Errors name `path.work_order_id` and `body.location_id` of the completion request, and the
    arguments `produced_lot_id` and `components` when those are invalid (derived, not request
    inputs); a shortfall is a conflict of the whole request (no field).
    """
    await _work_order(session, work_order_id, "path.work_order_id")
    if not 1 <= produced_lot_id <= MAX_ID:
        raise ValidationFailed("produced_lot_id", f"not a valid id: {produced_lot_id}")
    produced = await lots.get(session=session, lot_id=produced_lot_id, field="produced_lot_id")
    location = await _location(session, location_id, "body.location_id")
    needed: dict[int, Decimal] = {}
    for index, (item_id, quantity) in enumerate(components):
        _positive(quantity, f"components.{index}.quantity")
        needed[item_id] = needed.get(item_id, ZERO) + quantity
    transactions: list[InventoryTransaction] = []
    for item_id in sorted(needed):  # one lock order for every caller: no deadlocks
        item = await _item(session, item_id, "components")
        transactions += await _consume(
            session, principal, item, needed[item_id], location, produced, work_order_id
        )
    return transactions


async def _consume(
    session: AsyncSession,
    principal: Principal,
    item: Item,
    quantity: Decimal,
    location: Location,
    produced: Lot,
    work_order_id: int,
) -> list[InventoryTransaction]:
    """Backflush one component, FIFO over usable stock rows locked in that order."""
    usable = (
        and_(Stock.lot_id.is_not(None), _usable_lot(), Stock.lot_id != produced.id)
        if item.lot_tracked
        else or_(Stock.lot_id.is_(None), and_(_usable_lot(), Stock.lot_id != produced.id))
    )
    rows = (
        await session.execute(
            select(Stock.id, Stock.lot_id, Stock.quantity, Lot.code)
            .outerjoin(Lot, Lot.id == Stock.lot_id)
            .where(
                Stock.item_id == item.id,
                Stock.location_id == location.id,
                Stock.quantity > 0,
                usable,
            )
            .order_by(Stock.lot_id.is_not(None), Lot.created_at, Lot.id)
            .with_for_update(of=Stock)
        )
    ).all()
    available = sum((Decimal(r.quantity) for r in rows), ZERO)
    if available < quantity:
        total = await on_hand(session=session, item_id=item.id, location_id=location.id)
        unusable = total - available
        message = (
            f"not enough {item.code!r} at {location.code!r} to backflush {fmt(quantity)} "
            f"{item.unit}: usable {fmt(available)}, short {fmt(quantity - available)}"
            + (
                f" ({fmt(unusable)} more held in quarantined, blocked or expired lots)"
                if unusable
                else ""
            )
        )
        # no request field: the components are derived from the BOM, not sent
        raise Conflict(message, details=[ErrorDetail(field=None, reason=message)])
    transactions = []
    remaining = quantity
    for row in rows:
        if remaining <= 0:
            break
        take = min(Decimal(row.quantity), remaining)
        remaining -= take
        await session.execute(
            update(Stock)
            .where(Stock.id == row.id)
            .values(quantity=Stock.quantity - take, updated_at=func.now())
            .execution_options(synchronize_session=False)
        )
        tx = await _ledger(
            session,
            principal,
            type=TransactionType.BACKFLUSH,
            item_id=item.id,
            quantity=-take,
            lot_id=row.lot_id,
            from_location_id=location.id,
            work_order_id=work_order_id,
            audit_extra={"produced_lot_id": produced.id},
        )
        if row.lot_id is not None:
            session.add(
                LotLink(
                    parent_lot_id=produced.id,
                    child_lot_id=row.lot_id,
                    quantity=take,
                    work_order_id=work_order_id,
                    transaction_id=tx.id,
                )
            )
        transactions.append(tx)
    await session.flush()
    return transactions


async def on_hand(
    *,
    session: AsyncSession,
    item_id: int,
    location_id: int | None = None,
    usable_only: bool = False,
) -> Decimal:
    """On-hand of an item, at one location or everywhere (zero when it has no stock).

    `usable_only` counts only stock without a lot and released, unexpired lots (what MRP and
    backflush can use).
    """
    stmt = select(func.coalesce(func.sum(Stock.quantity), 0)).where(Stock.item_id == item_id)
    if location_id is not None:
        stmt = stmt.where(Stock.location_id == location_id)
    if usable_only:
        stmt = stmt.outerjoin(Lot, Lot.id == Stock.lot_id).where(
            or_(Stock.lot_id.is_(None), _usable_lot())
        )
    return Decimal(await session.scalar(stmt) or 0)


# --- reads ---------------------------------------------------------------------------------


async def get_transaction(*, session: AsyncSession, transaction_id: int) -> InventoryTransaction:
    """The transaction or NotFound."""
    tx = await session.get(InventoryTransaction, transaction_id)
    if tx is None:
        raise NotFound(f"inventory transaction {transaction_id} not found")
    return tx


def _transaction_search(q: str) -> ColumnElement[bool]:
    """Ledger rows whose reference, reason or user, item code or name, or lot code contains `q`.

    The items and lots are found first (trigram indexes) as uncorrelated `IN` subqueries, which
    PostgreSQL runs once and hashes: each ledger row then costs a hash probe, not a join or a
    per-row lookup, and unsearched lists are untouched.
    """
    pattern = contains_pattern(q)
    items = select(Item.id).where(
        or_(Item.code.ilike(pattern, escape="\\"), Item.name.ilike(pattern, escape="\\"))
    )
    lots_found = select(Lot.id).where(Lot.code.ilike(pattern, escape="\\"))
    return or_(
        *(column.ilike(pattern, escape="\\") for column in TRANSACTION_SPEC.search),
        InventoryTransaction.item_id.in_(items),
        InventoryTransaction.lot_id.in_(lots_found),
    )


async def list_transactions(
    *,
    session: AsyncSession,
    params: ListParams,
    type: str | None = None,
    item_id: int | None = None,
    lot_id: int | None = None,
    location_id: int | None = None,
    work_order_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[TransactionOut]:
    """The ledger, filtered; `location_id` matches either end of a movement; `q` searches
    reference, reason, user, the item's code and name and the lot's code."""
    stmt = select(InventoryTransaction)
    if location_id is not None:
        stmt = stmt.where(
            or_(
                InventoryTransaction.from_location_id == location_id,
                InventoryTransaction.to_location_id == location_id,
            )
        )
    if since is not None:
        stmt = stmt.where(InventoryTransaction.ts >= since)
    if until is not None:
        stmt = stmt.where(InventoryTransaction.ts < until)
    stmt = apply_filters(
        stmt,
        {
            InventoryTransaction.type: type,
            InventoryTransaction.item_id: item_id,
            InventoryTransaction.lot_id: lot_id,
            InventoryTransaction.work_order_id: work_order_id,
        },
    )
    if params.q:
        stmt = stmt.where(_transaction_search(params.q))
    rows, total = await page_of(session, stmt, TRANSACTION_SPEC.order_by(params.sort), params)
    return Page[TransactionOut](
        items=[TransactionOut.model_validate(next(iter(row.values()))) for row in rows],
        total=total,
        limit=params.limit,
        offset=params.offset,
    )


def _stock_search(q: str) -> ColumnElement[bool]:
    """Stock whose item code or name or lot code contains `q`: one trigram index over the
    stock row's search text (kept by triggers, migration 0109), led by the location, so a search
    at one location reads only the stock rows there that match."""
    return contains(Stock.__table__.c.search_text, q)


async def list_stock(
    *,
    session: AsyncSession,
    params: ListParams,
    item_id: int | None = None,
    lot_id: int | None = None,
    location_id: int | None = None,
    lot_status: str | None = None,
    include_empty: bool = False,
) -> Page[StockOut]:
    """On-hand by item, lot and location."""
    stmt = (
        select(
            Stock.item_id,
            Item.code.label("item_code"),
            Stock.lot_id,
            Lot.code.label("lot_code"),
            Lot.status.label("lot_status"),
            Stock.location_id,
            Location.code.label("location_code"),
            Stock.quantity,
            Stock.updated_at,
        )
        # outer joins (the foreign keys guarantee the rows): the count query can drop them
        .outerjoin(Item, Item.id == Stock.item_id)
        .outerjoin(Location, Location.id == Stock.location_id)
        .outerjoin(Lot, Lot.id == Stock.lot_id)
    )
    if not include_empty:
        stmt = stmt.where(Stock.quantity > 0)
    return await paginate_rows(
        session,
        stmt,
        STOCK_SPEC,
        params,
        schema=StockOut,
        tiebreak=Stock.id,
        search=_stock_search,
        filters={
            Stock.item_id: item_id,
            Stock.lot_id: lot_id,
            Stock.location_id: location_id,
            Lot.status: lot_status,
        },
    )


ITEM_ON_HAND_SQL = text(
    """
    SELECT i.code, i.unit, s.location_id, loc.code, s.lot_id, lot.code, lot.created_at,
           s.quantity,
           s.lot_id IS NULL OR (lot.status = 'released'
                                AND (lot.expires_on IS NULL OR lot.expires_on >= current_date))
    FROM item i
    LEFT JOIN stock s ON s.item_id = i.id
    LEFT JOIN location loc ON loc.id = s.location_id
    LEFT JOIN lot ON lot.id = s.lot_id
    WHERE i.id = :item
    ORDER BY loc.code
    """
)
"""The item and its stock rows with their location and lot, and whether each is usable
(without a lot, or in a released, unexpired lot): one round trip for the on-hand view."""


async def item_on_hand(*, session: AsyncSession, item_id: int) -> ItemOnHand:
    """An item's on-hand: total, usable, by location and by lot (404 for an unknown item)."""
    rows = (await session.execute(ITEM_ON_HAND_SQL, {"item": item_id})).all()
    if not rows:
        raise NotFound(f"item {item_id} not found")
    code, unit = rows[0][0], rows[0][1]
    usable = ZERO
    by_location: dict[int, list[Any]] = {}  # in location code order
    by_lot: dict[int | None, list[Any]] = {}
    for _, _, location, location_code, lot, lot_code, created, quantity, is_usable in rows:
        if quantity is None:
            continue  # the item has no stock row
        if is_usable:
            usable += quantity
        if quantity > 0:
            by_location.setdefault(location, [location_code, ZERO])[1] += quantity
            by_lot.setdefault(lot, [lot_code, ZERO, created])[1] += quantity
    # stock without a lot first, then lots oldest first
    lots_in_order = sorted(by_lot, key=lambda i: (0, 0) if i is None else (1, by_lot[i][2], i))
    return ItemOnHand(
        item_id=item_id,
        item_code=code,
        unit=unit,
        total=sum((part[1] for part in by_location.values()), ZERO),
        usable=usable,
        by_location=[OnHandPart(id=i, code=c, quantity=q) for i, (c, q) in by_location.items()],
        by_lot=[OnHandPart(id=i, code=by_lot[i][0], quantity=by_lot[i][1]) for i in lots_in_order],
    )
