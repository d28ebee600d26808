"""Lot genealogy traced with one recursive query: backward (what went into a lot, all levels)
and forward (where a lot went, all levels: the recall impact)."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.inventory import lots
from core.inventory.models import LotStatus
from core.inventory.schemas import Trace, TraceLot, TraceNode
from core.items.models import Item

MAX_DEPTH = 50
MAX_ROWS = 20_000


class Direction(enum.StrEnum):
    """Which way a trace follows the genealogy links."""

    BACKWARD = "backward"
    FORWARD = "forward"


# {near}: the lot a link leads to; {far}: the lot the trace comes from. Links between the same
# two lots (several backflushes) are summed; a lot already on the path is not entered again.
_TRACE_SQL = """
WITH RECURSIVE trace(lot_id, quantity, level, path) AS (
    SELECT {near}, sum(quantity), 1, ARRAY[CAST(:root AS integer), {near}]
    FROM lot_link WHERE {far} = :root AND {near} <> :root GROUP BY {near}
  UNION ALL
    SELECT e.lot_id, e.quantity, t.level + 1, t.path || e.lot_id
    FROM trace t
    CROSS JOIN LATERAL (
        SELECT {near} AS lot_id, sum(quantity) AS quantity
        FROM lot_link WHERE {far} = t.lot_id GROUP BY {near}
    ) e
    WHERE t.level < :max_depth AND e.lot_id <> ALL (t.path)
)
SELECT t.lot_id, t.quantity, t.level, t.path, lot.code AS lot_code, lot.item_id,
       item.code AS item_code, lot.status,
       COALESCE((SELECT sum(s.quantity) FROM stock s WHERE s.lot_id = t.lot_id), 0) AS on_hand
FROM (SELECT * FROM trace LIMIT :limit) t
JOIN lot ON lot.id = t.lot_id
JOIN item ON item.id = lot.item_id
"""

_QUERIES = {
    Direction.BACKWARD: text(_TRACE_SQL.format(near="child_lot_id", far="parent_lot_id")),
    Direction.FORWARD: text(_TRACE_SQL.format(near="parent_lot_id", far="child_lot_id")),
}


async def trace(
    *,
    session: AsyncSession,
    lot_id: int,
    direction: Direction,
    max_depth: int = MAX_DEPTH,
    max_rows: int = MAX_ROWS,
) -> Trace:
    """The lot's genealogy in one direction as a tree and as a flat list of lots."""
    root = await lots.get(session=session, lot_id=lot_id)
    item_code = await session.scalar(select(Item.code).where(Item.id == root.item_id))
    result = await session.execute(
        _QUERIES[direction], {"root": lot_id, "max_depth": max_depth, "limit": max_rows + 1}
    )
    rows = sorted(result.mappings(), key=lambda r: list(r["path"]))
    truncated = len(rows) > max_rows or any(r["level"] >= max_depth for r in rows)
    rows = rows[:max_rows]
    return Trace(
        lot_id=root.id,
        lot_code=root.code,
        item_id=root.item_id,
        item_code=item_code or "",
        direction=direction.value,
        tree=_tree(rows),
        lots=_flat(rows),
        truncated=truncated,
    )


def _tree(rows: list[Any]) -> list[TraceNode]:
    """Nest rows (sorted by path) under their parent path."""
    top: list[TraceNode] = []
    by_path: dict[tuple[int, ...], TraceNode] = {}
    for row in rows:
        path = tuple(row["path"])
        node = TraceNode.model_construct(  # trusted rows: no validation of 10,000s of nodes
            lot_id=row["lot_id"],
            lot_code=row["lot_code"],
            item_id=row["item_id"],
            item_code=row["item_code"],
            quantity=row["quantity"],
            level=row["level"],
            children=[],
        )
        by_path[path] = node
        parent = by_path.get(path[:-1])
        (parent.children if parent is not None else top).append(node)
    return top


def _flat(rows: list[Any]) -> list[TraceLot]:
    """Each lot once, at its nearest level, with its on-hand."""
    nearest: dict[int, Any] = {}
    for row in rows:
        seen = nearest.get(row["lot_id"])
        if seen is None or row["level"] < seen["level"]:
            nearest[row["lot_id"]] = row
    ordered = sorted(nearest.values(), key=lambda r: (r["level"], r["item_code"], r["lot_code"]))
    return [
        TraceLot.model_construct(  # trusted rows, as for the tree
            lot_id=r["lot_id"],
            lot_code=r["lot_code"],
            item_id=r["item_id"],
            item_code=r["item_code"],
            status=LotStatus(r["status"]),
            level=r["level"],
            on_hand=Decimal(r["on_hand"]),
        )
        for r in ordered
    ]
