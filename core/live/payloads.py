"""The shapes of live messages (docs/live.md), shared by the engine's events and the snapshots
every process answers subscriptions with. Entries of a topic's `values` map carry `ts` so
that coalescing keeps the newest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.downtime.models import DowntimeEvent
from core.equipment.models import Equipment
from core.states.derive import MachineState
from core.states.models import EquipmentStatus
from core.work_orders.models import OPEN_STATUSES, WorkOrder


def iso(ts: datetime | None) -> str | None:
    """RFC 3339 UTC with microseconds (sorts as text)."""
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def now_iso() -> str:
    """The current time as `iso`."""
    return iso(datetime.now(UTC)) or ""


def status_payload(
    equipment: Equipment, status: EquipmentStatus | None, *, stale_s: float, now: datetime
) -> dict[str, Any]:
    """`status` of an `equipment/<code>` message (and a `line/<code>` values entry)."""
    state = status.state if status is not None else None
    data_ts = status.data_ts if status is not None else None
    return {
        "equipment": equipment.code,
        "name": equipment.name,
        "state": MachineState(state).label if state is not None else None,
        "state_code": state,
        "planned": bool(status and status.planned),
        "since": iso(status.since) if status is not None else None,
        "data_ts": iso(data_ts),
        "stale": data_ts is None or (now - data_ts).total_seconds() > stale_s,
        "downtime_event_id": status.downtime_event_id if status is not None else None,
        "work_order_id": status.work_order_id if status is not None else None,
        "operation_id": status.operation_id if status is not None else None,
        "ts": iso(status.updated_at if status is not None else now),
    }


def work_order_payload(order: WorkOrder) -> dict[str, Any]:
    """A `work-orders` values entry (item and equipment relationships loaded)."""
    return {
        "id": order.id,
        "code": order.code,
        "status": order.status,
        "item_code": order.item.code,
        "quantity": float(order.quantity),
        "good_quantity": float(order.good_quantity),
        "scrap_quantity": float(order.scrap_quantity),
        "line_id": order.line_id,
        "equipment_code": order.equipment.code if order.equipment is not None else None,
        "actual_start": iso(order.actual_start),
        "actual_end": iso(order.actual_end),
        "ts": iso(order.updated_at),
    }


async def work_orders(session: AsyncSession, ids: list[int] | None = None) -> dict[str, Any]:
    """`work-orders` values: the given orders, or every open one."""
    stmt = select(WorkOrder).options(
        selectinload(WorkOrder.item), selectinload(WorkOrder.equipment)
    )
    if ids is None:
        stmt = stmt.where(WorkOrder.status.in_([s.value for s in OPEN_STATUSES]))
    else:
        stmt = stmt.where(WorkOrder.id.in_(ids))
    return {o.code: work_order_payload(o) for o in await session.scalars(stmt.limit(2000))}


def downtime_alert(event: DowntimeEvent, equipment_code: str, *, now: datetime) -> dict[str, Any]:
    """An `alerts` values entry for a downtime event (reason loaded or not)."""
    return {
        "kind": "downtime",
        "equipment": equipment_code,
        "event_id": event.id,
        "start": iso(event.start_ts),
        "end": iso(event.end_ts),
        "source": event.source,
        "planned": event.planned,
        "reason_id": event.reason_id,
        "active": event.end_ts is None,
        "ts": iso(now),
    }


def alarm_alert(equipment_code: str, code: int, at: datetime) -> dict[str, Any]:
    """An `alerts` values entry for a machine's alarm code (0: cleared)."""
    return {
        "kind": "alarm",
        "equipment": equipment_code,
        "alarm_code": code,
        "active": code != 0,
        "ts": iso(at),
    }
