"""Completion of a work order across domains, in ONE transaction:

1. lock the order and check it may complete (in progress or paused, good output reported);
2. receive the good quantity into a production lot (`core.inventory.service.receive_production`);
3. backflush the components of the item's effective BOM version, scaled by good + scrap
   (`core.inventory.service.backflush`: FIFO lots, genealogy produced lot <- consumed lots);
4. mark the order and its operations completed, record the transition and the audit.

Nothing commits until all four succeeded; on any error the transaction is rolled back, so the
order, stock, lots, genealogy and audit are left exactly as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.principal import Principal
from core.bom import service as bom
from core.errors import Conflict
from core.inventory import service as inventory
from core.work_orders import service
from core.work_orders.models import WorkOrder, WorkOrderAction
from core.work_orders.schemas import CompleteRequest


@dataclass(frozen=True)
class Completion:
    """What a completion posted."""

    work_order: WorkOrder
    lot_id: int
    lot_code: str
    received_quantity: Decimal
    consumed: list[tuple[int, Decimal, int]]  # (item id, quantity, stock rows used)


async def complete(
    *, session: AsyncSession, principal: Principal, work_order_id: int, data: CompleteRequest
) -> Completion:
    """Complete an order: production receipt, backflush with genealogy, transition; all or
    nothing."""
    try:
        work_order = await service.get(session, work_order_id, lock=True)
        service.check_action(work_order, WorkOrderAction.COMPLETE)
        if work_order.good_quantity <= 0:
            raise Conflict(
                f"work order {work_order.code} has no good quantity reported; report the output "
                "first, or cancel an order that produced nothing"
            )
        produced = work_order.good_quantity + work_order.scrap_quantity
        components = [
            (item_id, quantity)
            for item_id, quantity in await bom.component_requirements(
                session=session, item_id=work_order.item_id, quantity=produced
            )
            if quantity > 0
        ]
        lot = await inventory.receive_production(
            session=session,
            principal=principal,
            work_order_id=work_order.id,
            item_id=work_order.item_id,
            quantity=work_order.good_quantity,
            location_id=data.location_id,
            lot_code=data.lot_code,
        )
        transactions = (
            await inventory.backflush(
                session=session,
                principal=principal,
                work_order_id=work_order.id,
                produced_lot_id=lot.id,
                components=components,
                location_id=data.location_id,
            )
            if components
            else []
        )
        work_order.lot_code = lot.code
        await service.apply_transition(
            session=session,
            principal=principal,
            work_order=work_order,
            action=WorkOrderAction.COMPLETE,
            comment=data.comment,
            audit_extra={
                "lot_id": lot.id,
                "received_quantity": str(work_order.good_quantity),
                "backflushed": {str(i): str(q) for i, q in components},
            },
        )
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    used: dict[int, int] = {}
    for tx in transactions:
        used[tx.item_id] = used.get(tx.item_id, 0) + 1
    return Completion(
        work_order=await service.get(session, work_order_id),
        lot_id=lot.id,
        lot_code=lot.code,
        received_quantity=work_order.good_quantity,
        consumed=[(item_id, quantity, used.get(item_id, 0)) for item_id, quantity in components],
    )
