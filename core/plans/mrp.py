"""MRP-lite: explode a plan's remaining demand through the effective BOMs, level by level, and
net each component against usable on-hand and open work orders.

- Independent demand: each plan line's quantity minus the good output of its completed orders
  (components of open orders are not yet consumed: backflush happens at completion).
- Items are processed in low-level-code order (an item only after every parent that uses it),
  so dependent demand is complete before it is netted. One recursive query fetches the BOM
  graph below the plan items; one query sums open orders; on-hand comes from
  `core.inventory.service.on_hand` (usable stock only).
- Planned items are made as planned; dependent demand is netted:
  net = independent + max(0, dependent - on_hand - open_orders). A made item's net is exploded
  further; a bought item's net is a shortage.
- "Lite": no lead-time offsetting, lot sizing, safety stock or allocation between plans.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.bom.service import EFFECTIVE, MAX_LEVELS, q6, today
from core.inventory import service as inventory
from core.items.models import Item
from core.plans import service as plans
from core.plans.schemas import MaterialCheck, MaterialRow
from core.work_orders import service as work_orders
from core.work_orders.models import WorkOrder, WorkOrderStatus

ZERO = Decimal(0)
OnHand = Callable[[AsyncSession, list[int]], Awaitable[dict[int, Decimal]]]

GRAPH_SQL = text(
    f"""
    WITH RECURSIVE edge(line_id, parent_id, child_id, per_unit) AS (
        SELECT l.id, b.item_id, l.component_item_id,
               l.quantity * (1 + l.scrap_factor) / b.quantity
        FROM bom b JOIN bom_line l ON l.bom_id = b.id
        WHERE b.item_id = ANY(:items) AND {EFFECTIVE}
        UNION
        SELECT l.id, b.item_id, l.component_item_id,
               l.quantity * (1 + l.scrap_factor) / b.quantity
        FROM edge e
        JOIN bom b ON b.item_id = e.child_id AND {EFFECTIVE}
        JOIN bom_line l ON l.bom_id = b.id
    )
    SELECT line_id, parent_id, child_id, per_unit FROM edge
    """
)


async def usable_on_hand(session: AsyncSession, item_ids: list[int]) -> dict[int, Decimal]:
    """Usable stock per item from the inventory service."""
    return {
        item_id: await inventory.on_hand(session=session, item_id=item_id, usable_only=True)
        for item_id in item_ids
    }


def low_level_codes(tops: set[int], edges: dict[int, list[tuple[int, Decimal]]]) -> dict[int, int]:
    """Deepest level of every item reachable from `tops` (tops are 0 unless used below).

    >>> low_level_codes({1}, {1: [(2, Decimal(1)), (3, Decimal(1))], 2: [(3, Decimal(1))]})
    {1: 0, 2: 1, 3: 2}
    """
    indegree: dict[int, int] = defaultdict(int)
    nodes = set(tops)
    for parent, children in edges.items():
        nodes.add(parent)
        for child, _ in children:
            indegree[child] += 1
            nodes.add(child)
    level = dict.fromkeys(nodes, 0)
    queue = deque(sorted(n for n in nodes if indegree[n] == 0))
    seen = 0
    while queue:
        node = queue.popleft()
        seen += 1
        for child, _ in edges.get(node, []):
            level[child] = max(level[child], level[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    if seen != len(nodes):  # a cycle slipped in: keep what is ordered, cap the rest
        for node in nodes:
            level[node] = min(level[node], MAX_LEVELS)
    return dict(sorted(level.items()))


async def material_check(
    *,
    session: AsyncSession,
    plan_id: int,
    at: date | None = None,
    on_hand: OnHand = usable_on_hand,
) -> MaterialCheck:
    """Explode the plan's remaining demand and list what is short."""
    day = at or today()
    plan = await plans.get(session, plan_id)
    done = dict(
        (
            await session.execute(
                select(WorkOrder.plan_line_id, func.sum(WorkOrder.good_quantity))
                .where(
                    WorkOrder.plan_line_id.in_([ln.id for ln in plan.lines]),
                    WorkOrder.status == WorkOrderStatus.COMPLETED,
                )
                .group_by(WorkOrder.plan_line_id)
            )
        ).all()
    )
    independent: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for line in plan.lines:
        independent[line.item_id] += max(ZERO, line.quantity - Decimal(done.get(line.id) or 0))
    tops = {i for i, q in independent.items() if q > 0}
    edges: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    if tops:
        rows = await session.execute(GRAPH_SQL, {"items": sorted(tops), "at": day})
        for _, parent, child, per_unit in rows:
            edges[parent].append((child, Decimal(per_unit)))
    levels = low_level_codes(tops, edges)
    item_ids = sorted(levels)
    stock = await on_hand(session, item_ids)
    supply = await work_orders.open_supply(
        session=session, item_ids=item_ids, exclude_plan_id=plan_id
    )
    items = {
        i.id: i for i in await session.scalars(select(Item).where(Item.id.in_(item_ids or [0])))
    }
    dependent: dict[int, Decimal] = defaultdict(lambda: ZERO)
    rows_out: list[MaterialRow] = []
    for item_id in sorted(item_ids, key=lambda i: (levels[i], items[i].code)):
        available = stock.get(item_id, ZERO) + supply.get(item_id, ZERO)
        uncovered = max(ZERO, dependent[item_id] - available)
        net = independent[item_id] + uncovered
        makes = item_id in edges or independent[item_id] > 0
        for child, per_unit in edges.get(item_id, []):
            dependent[child] += net * per_unit
        item = items[item_id]
        rows_out.append(
            MaterialRow(
                item_id=item_id,
                item_code=item.code,
                item_name=item.name,
                unit=item.unit,
                level=levels[item_id],
                source="make" if makes else "buy",
                independent_demand=q6(independent[item_id]),
                dependent_demand=q6(dependent[item_id]),
                on_hand=q6(stock.get(item_id, ZERO)),
                open_orders=q6(supply.get(item_id, ZERO)),
                net_requirement=q6(net),
                shortage=ZERO if makes else q6(net),
            )
        )
    shortages = sorted(
        (r for r in rows_out if r.shortage > 0), key=lambda r: (-r.shortage, r.item_code)
    )
    return MaterialCheck(plan_id=plan.id, at=day, rows=rows_out, shortages=shortages)
