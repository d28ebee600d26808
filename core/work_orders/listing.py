"""The work-order list: search, filters, sort and page over 10^5 orders in a few indexed steps.

- Search: one trigram index on `work_order.search_text` (the order code and its item's code and
  name, kept by triggers: migration 0109) finds every matching order in one bitmap, instead of
  matching items first and descending the `item_id` index once per matching item.
- Count: over `work_order` alone (no join changes the count), so `total` stays exact.
- Page: the window (order, limit, offset) is taken on `work_order` first (joined to `item` only
  when sorting by item code); item, line and equipment codes are joined to those rows only.
- Searches (`q`) count and window in one statement (`count(*) OVER ()` beside the page ids): a
  search's matching set is computed once instead of once for the count and again for the page.
  The matching orders are a subquery planned on its own (`OFFSET 0`): a window over all of them
  must read them all, which PostgreSQL 15 does not weigh against the LIMIT, so it would
  otherwise walk the sort order's index through every order (~3x slower for a broad word).
  Unsearched lists keep a separate count, which an index answers without visiting every row
  the window would have to.
- Rows are read as plain columns into the response model: no ORM identity map, no relationship
  loading per page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.common.listing import TOTAL, ListParams, ListSpec, searched_window
from core.common.schemas import Page
from core.common.search import contains
from core.equipment.models import Equipment
from core.items.models import Item
from core.plans.models import ProductionPlanLine
from core.work_orders.models import WorkOrder, WorkOrderStatus
from core.work_orders.schemas import WorkOrderOut

LIST_SPEC = ListSpec(
    search=[WorkOrder.code, Item.code, Item.name],
    sort={
        "id": WorkOrder.id,
        "code": WorkOrder.code,
        "item_code": Item.code,
        "status": WorkOrder.status,
        "priority": WorkOrder.priority,
        "due_date": WorkOrder.due_date,
        "planned_start": WorkOrder.planned_start,
        "actual_start": WorkOrder.actual_start,
        "actual_end": WorkOrder.actual_end,
        "quantity": WorkOrder.quantity,
        "created_at": WorkOrder.created_at,
        "updated_at": WorkOrder.updated_at,
    },
    default_sort="-id",
)

_line = aliased(Equipment, name="wo_line")
_unit = aliased(Equipment, name="wo_equipment")
_SEARCH_TEXT = WorkOrder.__table__.c.search_text
_COLUMNS = [
    *(column for column in WorkOrder.__table__.c if column is not _SEARCH_TEXT),
    Item.code.label("item_code"),
    Item.name.label("item_name"),
    Item.unit.label("unit"),
    _line.code.label("line_code"),
    _unit.code.label("equipment_code"),
]


def search_condition(q: str) -> ColumnElement[bool]:
    """Orders whose code, item code or item name contains `q` (case-insensitive)."""
    return contains(_SEARCH_TEXT, q)


def conditions(
    *,
    q: str | None,
    status: list[WorkOrderStatus] | None,
    item_id: int | None,
    line_id: int | None,
    equipment_id: int | None,
    plan_line_id: int | None,
    plan_id: int | None,
    due_from: date | None,
    due_to: date | None,
) -> list[ColumnElement[bool]]:
    """WHERE terms over `work_order` for the search and filters."""
    where: list[ColumnElement[bool]] = []
    if status:
        where.append(WorkOrder.status.in_([s.value for s in status]))
    for column, value in (
        (WorkOrder.item_id, item_id),
        (WorkOrder.line_id, line_id),
        (WorkOrder.equipment_id, equipment_id),
        (WorkOrder.plan_line_id, plan_line_id),
    ):
        if value is not None:
            where.append(column == value)
    if due_from is not None:
        where.append(WorkOrder.due_date >= due_from)
    if due_to is not None:
        where.append(WorkOrder.due_date <= due_to)
    if plan_id is not None:
        where.append(
            WorkOrder.plan_line_id.in_(
                select(ProductionPlanLine.id).where(ProductionPlanLine.plan_id == plan_id)
            )
        )
    if q:
        where.append(search_condition(q))
    return where


def page_statement(
    where: list[ColumnElement[bool]], params: ListParams, *, with_total: bool = False
) -> Select[Any]:
    """The rows of one page: the window over `work_order`, then the codes of those rows; with
    `with_total`, each row also carries the count of all matching orders (column `TOTAL`)."""
    order = LIST_SPEC.order_by(params.sort)
    fields = {part.lstrip("-") for part in (params.sort or LIST_SPEC.default_sort).split(",")}
    if "id" not in fields:
        order.append(WorkOrder.id.desc())  # ties newest first, so pages never overlap
    window = select(WorkOrder.id).where(*where)
    if "item_code" in fields:
        window = window.join(Item, Item.id == WorkOrder.item_id)
    # a search counts beside the ids, its matching orders planned on their own
    window = searched_window(window, order) if with_total else window.order_by(*order)
    ids = window.limit(params.limit).offset(params.offset).subquery("page")
    return (
        select(*_COLUMNS, *([ids.c[TOTAL]] if with_total else []))
        .join(ids, ids.c.id == WorkOrder.id)
        .join(Item, Item.id == WorkOrder.item_id)
        .outerjoin(_line, _line.id == WorkOrder.line_id)
        .outerjoin(_unit, _unit.id == WorkOrder.equipment_id)
        .order_by(*order)
    )


async def list_work_orders(
    *,
    session: AsyncSession,
    params: ListParams,
    status: list[WorkOrderStatus] | None = None,
    item_id: int | None = None,
    line_id: int | None = None,
    equipment_id: int | None = None,
    plan_line_id: int | None = None,
    plan_id: int | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
) -> Page[WorkOrderOut]:
    """Work orders matching search (code, item code and name) and filters; exact total."""
    where = conditions(
        q=params.q,
        status=status,
        item_id=item_id,
        line_id=line_id,
        equipment_id=equipment_id,
        plan_line_id=plan_line_id,
        plan_id=plan_id,
        due_from=due_from,
        due_to=due_to,
    )
    searched = bool(params.q)
    statement = page_statement(where, params, with_total=searched)  # validates `sort` first
    count = select(func.count()).select_from(WorkOrder).where(*where)
    total: int | None = None
    if not searched:
        total = await session.scalar(count)
    rows = (await session.execute(statement)).mappings().all()
    if searched:
        if rows:
            total = int(rows[0][TOTAL])
        elif params.offset:  # past the end: the window saw no row to carry the count
            total = await session.scalar(count)
    items = [WorkOrderOut.model_validate(row) for row in rows]
    return Page[WorkOrderOut](
        items=items, total=total or 0, limit=params.limit, offset=params.offset
    )
