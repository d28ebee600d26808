"""Atomic on-hand updates: the only code that writes the `stock` table.

Increments are one upsert; decrements are one conditional UPDATE (`quantity >= :q`), which
PostgreSQL re-checks against the newest row version after waiting for a concurrent writer, so
parallel issues neither lose an update nor drive stock negative. The `quantity >= 0` check
constraint is the backstop.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.inventory.models import Stock

ZERO = Decimal(0)


def _lot_is(lot_id: int | None) -> ColumnElement[bool]:
    return Stock.lot_id.is_(None) if lot_id is None else Stock.lot_id == lot_id


def _row(item_id: int, location_id: int, lot_id: int | None) -> list[ColumnElement[bool]]:
    return [Stock.item_id == item_id, Stock.location_id == location_id, _lot_is(lot_id)]


async def add(
    session: AsyncSession, *, item_id: int, location_id: int, lot_id: int | None, quantity: Decimal
) -> Decimal:
    """Add `quantity` (> 0) to the stock row, creating it; returns the new on-hand."""
    stmt = (
        insert(Stock)
        .values(item_id=item_id, location_id=location_id, lot_id=lot_id, quantity=quantity)
        .on_conflict_do_update(
            index_elements=[Stock.item_id, Stock.location_id, Stock.lot_id],
            set_={"quantity": Stock.quantity + quantity, "updated_at": func.now()},
        )
        .returning(Stock.quantity)
    )
    return Decimal((await session.execute(stmt)).scalar_one())


async def remove(
    session: AsyncSession, *, item_id: int, location_id: int, lot_id: int | None, quantity: Decimal
) -> Decimal | None:
    """Take `quantity` (> 0) from the stock row if that much is there; returns the new on-hand,
    or None (nothing changed) when there is not enough."""
    stmt = (
        update(Stock)
        .where(*_row(item_id, location_id, lot_id), Stock.quantity >= quantity)
        .values(quantity=Stock.quantity - quantity, updated_at=func.now())
        .returning(Stock.quantity)
        .execution_options(synchronize_session=False)
    )
    new = (await session.execute(stmt)).scalar_one_or_none()
    return None if new is None else Decimal(new)


async def ensure_row(
    session: AsyncSession, *, item_id: int, location_id: int, lot_id: int | None
) -> None:
    """Create the (empty) stock row if it does not exist yet."""
    stmt = (
        insert(Stock)
        .values(item_id=item_id, location_id=location_id, lot_id=lot_id, quantity=ZERO)
        .on_conflict_do_nothing(index_elements=[Stock.item_id, Stock.location_id, Stock.lot_id])
    )
    await session.execute(stmt)


async def lock_rows(session: AsyncSession, keys: list[tuple[int, int, int | None]]) -> None:
    """Lock existing stock rows for (item, location, lot) keys in id order (no deadlocks
    between movements that touch the same rows in a different order)."""
    conditions = [_row(*key) for key in keys]
    stmt = (
        select(Stock.id)
        .where(or_(*(and_(*c) for c in conditions)))
        .order_by(Stock.id)
        .with_for_update()
    )
    await session.execute(stmt)


async def quantity_at(
    session: AsyncSession, *, item_id: int, location_id: int, lot_id: int | None
) -> Decimal:
    """Current on-hand of one stock row (zero when there is none)."""
    value = await session.scalar(select(Stock.quantity).where(*_row(item_id, location_id, lot_id)))
    return ZERO if value is None else Decimal(value)
