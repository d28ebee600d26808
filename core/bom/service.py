"""BOM service: versions, lines, cycle checks, explosion and where-used (recursive SQL).

Structural changes (lines, activation) run under one transaction-level advisory lock, so two
concurrent edits cannot together create a cycle the check of each one alone would miss.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import MAX_PREC, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, selectinload

from core.audit import service as audit
from core.auth.principal import Principal
from core.bom.models import Bom, BomLine, BomStatus
from core.bom.schemas import (
    BomActivate,
    BomCreate,
    BomLineCreate,
    BomLineUpdate,
    BomOut,
    BomUpdate,
    ExplosionTree,
    WhereUsedFlat,
    WhereUsedNode,
    WhereUsedRow,
    WhereUsedTree,
)
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.db import plain_rows
from core.errors import Conflict, NotFound, ValidationFailed
from core.items.models import Item

ENTITY = "bom"
LINE_ENTITY = "bom_line"
MAX_LEVELS = 64
STRUCTURE_LOCK = 0x424F4D  # advisory lock key serialising BOM structure changes ("BOM")
Q6 = Decimal("0.000001")

LIST_SPEC = ListSpec(
    search=[Item.code, Item.name, Bom.description],
    sort={
        "id": Bom.id,
        "item_code": Item.code,
        "version": Bom.version,
        "status": Bom.status,
        "effective_from": Bom.effective_from,
        "created_at": Bom.created_at,
        "updated_at": Bom.updated_at,
    },
    default_sort="item_code,version",
)

# A version applies on :at when it has been activated and its range contains the day.
EFFECTIVE = (
    "b.status <> 'draft' AND b.effective_from <= :at "
    "AND (b.effective_to IS NULL OR b.effective_to > :at)"
)
# Edges that count for cycle checks: drafts (may be activated), the active version, and archived
# versions still effective on some future day.
CONSIDERED = "(b.status <> 'archived' OR b.effective_to > CURRENT_DATE)"


def today() -> date:
    """The UTC date BOM effectivity defaults to."""
    return datetime.now(UTC).date()


def q6(value: Decimal) -> Decimal:
    """Round a computed quantity to the stored precision (6 decimals)."""
    return value.quantize(Q6)


async def _saved(session: AsyncSession, obj: Any) -> dict[str, Any]:
    """Flush, reload the columns the database set (ids, timestamps) and snapshot for the audit."""
    await session.flush()
    await session.refresh(obj, [a.key for a in sa_inspect(obj).mapper.column_attrs])
    return audit.snapshot(obj)


async def _lock_structure(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STRUCTURE_LOCK})


# --- reading ---------------------------------------------------------------------------------


async def get(session: AsyncSession, bom_id: int, *, with_lines: bool = False) -> Bom:
    """The BOM version (with its item, and lines when asked) or NotFound."""
    stmt = select(Bom).join(Bom.item).options(contains_eager(Bom.item)).where(Bom.id == bom_id)
    if with_lines:
        stmt = stmt.options(selectinload(Bom.lines).selectinload(BomLine.component))
    bom = (await session.scalars(stmt.execution_options(populate_existing=True))).first()
    if bom is None:
        raise NotFound(f"BOM {bom_id} not found")
    return bom


async def list_boms(
    *,
    session: AsyncSession,
    params: ListParams,
    item_id: int | None = None,
    status: str | None = None,
) -> Page[BomOut]:
    """BOM versions matching search (item code/name, description) and filters."""
    stmt = select(Bom).join(Bom.item).options(contains_eager(Bom.item))
    return await paginate(
        session,
        stmt,
        LIST_SPEC,
        params,
        schema=BomOut,
        filters={Bom.item_id: item_id, Bom.status: status},
    )


async def effective_bom(
    *, session: AsyncSession, item_id: int, at: date | None = None
) -> Bom | None:
    """The item's BOM version effective on `at` (today by default), with lines, or None."""
    sql = text(f"SELECT b.id FROM bom b WHERE b.item_id = :item AND {EFFECTIVE}")
    bom_id = await session.scalar(sql, {"item": item_id, "at": at or today()})
    if bom_id is None:
        return None
    return await get(session, bom_id, with_lines=True)


async def component_requirements(
    *, session: AsyncSession, item_id: int, quantity: Decimal, at: date | None = None
) -> list[tuple[int, Decimal]]:
    """Single-level needs for making `quantity` of the item from its effective BOM, with scrap,
    summed per component item (in line order); empty when the item has no effective BOM."""
    bom = await effective_bom(session=session, item_id=item_id, at=at)
    if bom is None:
        return []
    needs: dict[int, Decimal] = {}
    for line in bom.lines:
        need = quantity / bom.quantity * line.quantity * (1 + line.scrap_factor)
        needs[line.component_item_id] = needs.get(line.component_item_id, Decimal(0)) + need
    return [(component, q6(need)) for component, need in needs.items()]


# --- versions --------------------------------------------------------------------------------


def _require_draft(bom: Bom) -> None:
    if bom.status != BomStatus.DRAFT:
        raise Conflict(
            f"BOM {bom.id} (version {bom.version}) is {bom.status}; only drafts can be edited "
            "(copy it to a new draft version)"
        )


async def create(*, session: AsyncSession, principal: Principal, data: BomCreate) -> Bom:
    """Create a draft version (next version number) with optional lines."""
    await _lock_structure(session)
    item = await session.get(Item, data.item_id)
    if item is None:
        raise ValidationFailed("body.item_id", f"item {data.item_id} does not exist")
    version = (
        await session.scalar(
            select(func.coalesce(func.max(Bom.version), 0)).where(Bom.item_id == data.item_id)
        )
        or 0
    ) + 1
    bom = Bom(
        item_id=data.item_id,
        version=version,
        status=BomStatus.DRAFT,
        quantity=data.quantity,
        description=data.description,
    )
    session.add(bom)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=ENTITY,
        entity_id=bom.id,
        after=await _saved(session, bom),
    )
    for index, line in enumerate(data.lines):
        await _add_line(session, principal, bom, line, field=f"body.lines.{index}")
    await session.commit()
    return await get(session, bom.id, with_lines=True)


async def update(
    *, session: AsyncSession, principal: Principal, bom_id: int, data: BomUpdate
) -> Bom:
    """Change header fields of a draft."""
    bom = await get(session, bom_id)
    _require_draft(bom)
    before = audit.snapshot(bom)
    for field, value in data.changes().items():
        setattr(bom, field, value)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=ENTITY,
        entity_id=bom.id,
        before=before,
        after=await _saved(session, bom),
    )
    await session.commit()
    return await get(session, bom_id, with_lines=True)


async def delete(*, session: AsyncSession, principal: Principal, bom_id: int) -> None:
    """Delete a draft version and its lines."""
    bom = await get(session, bom_id, with_lines=True)
    _require_draft(bom)
    before = audit.snapshot(bom)
    before["lines"] = [audit.snapshot(line) for line in bom.lines]
    await session.delete(bom)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=ENTITY,
        entity_id=bom_id,
        before=before,
    )
    await session.commit()


async def activate(
    *, session: AsyncSession, principal: Principal, bom_id: int, data: BomActivate
) -> Bom:
    """Make a draft the item's active version from `effective_from`; the previous active version
    is archived and its range ends where the new one starts."""
    await _lock_structure(session)
    bom = await get(session, bom_id, with_lines=True)
    if bom.status != BomStatus.DRAFT:
        raise Conflict(f"BOM {bom_id} is {bom.status}; only a draft can be activated")
    if not bom.lines:
        raise Conflict(f"BOM {bom_id} has no lines; add components before activating it")
    start = data.effective_from or today()
    current = await session.scalar(
        select(Bom).where(Bom.item_id == bom.item_id, Bom.status == BomStatus.ACTIVE)
    )
    if current is not None:
        assert current.effective_from is not None
        if start < current.effective_from:
            raise ValidationFailed(
                "body.effective_from",
                f"must not be before {current.effective_from.isoformat()}, the first day of the "
                f"active version {current.version}",
            )
        old = audit.snapshot(current)
        current.status = BomStatus.ARCHIVED
        current.effective_to = start
        await session.flush()
        audit.record(
            session,
            principal=principal,
            action="archive",
            entity=ENTITY,
            entity_id=current.id,
            before=old,
            after=await _saved(session, current),
        )
    before = audit.snapshot(bom)
    bom.status = BomStatus.ACTIVE
    bom.effective_from = start
    bom.effective_to = None
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="activate",
        entity=ENTITY,
        entity_id=bom.id,
        before=before,
        after=await _saved(session, bom),
    )
    await session.commit()
    return await get(session, bom_id, with_lines=True)


async def archive(*, session: AsyncSession, principal: Principal, bom_id: int) -> Bom:
    """Retire the active version (from today); the item then has no effective BOM."""
    await _lock_structure(session)
    bom = await get(session, bom_id)
    if bom.status != BomStatus.ACTIVE:
        raise Conflict(f"BOM {bom_id} is {bom.status}; only the active version can be archived")
    assert bom.effective_from is not None
    before = audit.snapshot(bom)
    bom.status = BomStatus.ARCHIVED
    bom.effective_to = max(today(), bom.effective_from)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="archive",
        entity=ENTITY,
        entity_id=bom.id,
        before=before,
        after=await _saved(session, bom),
    )
    await session.commit()
    return await get(session, bom_id, with_lines=True)


async def copy(*, session: AsyncSession, principal: Principal, bom_id: int) -> Bom:
    """A new draft version with the same header and lines."""
    source = await get(session, bom_id, with_lines=True)
    data = BomCreate(
        item_id=source.item_id,
        quantity=source.quantity,
        description=source.description,
        lines=[
            BomLineCreate(
                component_item_id=line.component_item_id,
                quantity=line.quantity,
                unit=line.unit,
                scrap_factor=line.scrap_factor,
                operation_seq=line.operation_seq,
                position=line.position,
                note=line.note,
            )
            for line in source.lines
        ],
    )
    return await create(session=session, principal=principal, data=data)


# --- lines -----------------------------------------------------------------------------------


async def find_cycle(
    session: AsyncSession, parent_item_id: int, component_item_id: int
) -> list[int] | None:
    """Item ids of the cycle a parent -> component edge would close (parent ... parent), or None.

    Walks everything reachable from the component once (UNION keeps each edge once, so shared
    sub-assemblies do not multiply paths), then finds the shortest way back to the parent.
    """
    if parent_item_id == component_item_id:
        return [parent_item_id, parent_item_id]
    sql = text(
        f"""
        WITH RECURSIVE reach(parent, child) AS (
            SELECT b.item_id, l.component_item_id
            FROM bom b JOIN bom_line l ON l.bom_id = b.id
            WHERE b.item_id = :start AND {CONSIDERED}
            UNION
            SELECT b.item_id, l.component_item_id
            FROM reach r
            JOIN bom b ON b.item_id = r.child AND {CONSIDERED}
            JOIN bom_line l ON l.bom_id = b.id
            WHERE r.child <> :target
        )
        SELECT parent, child FROM reach
        """
    )
    rows = (
        await session.execute(sql, {"start": component_item_id, "target": parent_item_id})
    ).all()
    children: dict[int, list[int]] = {}
    for parent, child in rows:
        children.setdefault(parent, []).append(child)
    previous: dict[int, int] = {}
    queue = deque([component_item_id])
    seen = {component_item_id}
    while queue:
        node = queue.popleft()
        for child in children.get(node, []):
            if child in seen:
                continue
            previous[child] = node
            if child == parent_item_id:
                path = [child]
                while path[-1] != component_item_id:
                    path.append(previous[path[-1]])
                return [parent_item_id, *reversed(path)]
            seen.add(child)
            queue.append(child)
    return None


async def _reject_cycle(session: AsyncSession, parent_item_id: int, component_item_id: int) -> None:
    cycle = await find_cycle(session, parent_item_id, component_item_id)
    if cycle is None:
        return
    rows = await session.execute(select(Item.id, Item.code).where(Item.id.in_(cycle)))
    codes: dict[int, str] = {row.id: row.code for row in rows}
    path = " -> ".join(codes[i] for i in cycle)
    raise Conflict(f"the line would create a BOM cycle: {path}")


async def _check_component(
    session: AsyncSession, component_item_id: int, unit: str | None, field: str
) -> Item:
    component = await session.get(Item, component_item_id)
    if component is None:
        raise ValidationFailed(f"{field}.component_item_id", f"item {component_item_id} not found")
    if unit is not None and unit != component.unit:
        raise ValidationFailed(
            f"{field}.unit",
            f"the component {component.code} is kept in {component.unit!r}; "
            "unit conversion is not supported",
        )
    return component


async def _add_line(
    session: AsyncSession, principal: Principal, bom: Bom, data: BomLineCreate, *, field: str
) -> BomLine:
    component = await _check_component(session, data.component_item_id, data.unit, field)
    await _reject_cycle(session, bom.item_id, component.id)
    position = data.position
    if position is None:
        last = await session.scalar(
            select(func.coalesce(func.max(BomLine.position), 0)).where(BomLine.bom_id == bom.id)
        )
        position = (last or 0) // 10 * 10 + 10
    elif await session.scalar(
        select(BomLine.id).where(BomLine.bom_id == bom.id, BomLine.position == position)
    ):
        raise Conflict(f"BOM {bom.id} already has a line at position {position}")
    line = BomLine(
        bom_id=bom.id,
        position=position,
        component_item_id=component.id,
        quantity=data.quantity,
        unit=component.unit,
        scrap_factor=data.scrap_factor,
        operation_seq=data.operation_seq,
        note=data.note,
    )
    session.add(line)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=LINE_ENTITY,
        entity_id=line.id,
        after=await _saved(session, line),
    )
    return line


async def get_line(session: AsyncSession, bom_id: int, line_id: int) -> BomLine:
    """A line of the BOM (with its component) or NotFound."""
    line = (
        await session.scalars(
            select(BomLine)
            .options(selectinload(BomLine.component))
            .where(BomLine.id == line_id, BomLine.bom_id == bom_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if line is None:
        raise NotFound(f"line {line_id} of BOM {bom_id} not found")
    return line


async def add_line(
    *, session: AsyncSession, principal: Principal, bom_id: int, data: BomLineCreate
) -> BomLine:
    """Add a component to a draft; Conflict (naming the path) when it would make a cycle."""
    await _lock_structure(session)
    bom = await get(session, bom_id)
    _require_draft(bom)
    line = await _add_line(session, principal, bom, data, field="body")
    await session.commit()
    return await get_line(session, bom_id, line.id)


async def update_line(
    *, session: AsyncSession, principal: Principal, bom_id: int, line_id: int, data: BomLineUpdate
) -> BomLine:
    """Change a line of a draft (a new component is checked for cycles)."""
    await _lock_structure(session)
    bom = await get(session, bom_id)
    _require_draft(bom)
    line = await get_line(session, bom_id, line_id)
    changes = data.changes()
    component_id = changes.get("component_item_id", line.component_item_id)
    component = await _check_component(session, component_id, changes.get("unit"), "body")
    if component_id != line.component_item_id:
        await _reject_cycle(session, bom.item_id, component_id)
        changes["unit"] = component.unit
    new_position = changes.get("position")
    if new_position is not None and new_position != line.position:
        taken = await session.scalar(
            select(BomLine.id).where(BomLine.bom_id == bom_id, BomLine.position == new_position)
        )
        if taken is not None:
            raise Conflict(f"BOM {bom_id} already has a line at position {new_position}")
    before = audit.snapshot(line)
    for field, value in changes.items():
        setattr(line, field, value)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="update",
        entity=LINE_ENTITY,
        entity_id=line.id,
        before=before,
        after=await _saved(session, line),
    )
    await session.commit()
    return await get_line(session, bom_id, line_id)


async def delete_line(
    *, session: AsyncSession, principal: Principal, bom_id: int, line_id: int
) -> None:
    """Remove a line from a draft."""
    bom = await get(session, bom_id)
    _require_draft(bom)
    line = await get_line(session, bom_id, line_id)
    before = audit.snapshot(line)
    await session.delete(line)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=LINE_ENTITY,
        entity_id=line_id,
        before=before,
    )
    await session.commit()


# --- explosion -------------------------------------------------------------------------------

# Rolled-up quantities are carried to 12 decimals per level (6 more than stored and returned):
# exact numeric products grow ~15 digits of scale per level (136 at level 10), which makes the
# arithmetic, not the reading, the cost of a deep explosion.
CARRY = 12


def _explosion_cte(
    *, with_item: bool, carry: int = CARRY, seeded: bool = False, first_level: bool = False
) -> str:
    """The recursive CTE `tree` of every line occurrence below :bom_id, level by level; `node`
    is the occurrence's key (its line ids joined by dots) and `parent` its parent's ('' at
    level 1). `with_item` carries the component's code, name and unit (an index lookup per
    row instead of hashing the whole item table afterwards); quantities are carried to `carry`
    decimals per level.

    `seeded` starts instead from given occurrences (of a tree walked before) and walks their
    subtrees exactly as the whole walk would: arrays :nodes, :parents, :lines, :levels, :qtys
    (carried quantities) and :paths (item ids from the top, comma-separated). `first_level`
    keeps only the lines of :bom_id itself (the walk's first step, not recursive)."""
    item_cols = ", i.code, i.name, i.unit" if with_item else ""
    item_join = "JOIN item i ON i.id = l.component_item_id" if with_item else ""
    item_names = ", code, name, unit" if with_item else ""
    start = f"""
        SELECT l.id::text, '', l.id, b.id, l.component_item_id, 1,
               round(CAST(:qty AS numeric) / b.quantity * l.quantity * (1 + l.scrap_factor),
                     {carry}),
               ARRAY[b.item_id, l.component_item_id],
               l.quantity, l.scrap_factor, l.operation_seq, l.position {item_cols}
        FROM bom b JOIN bom_line l ON l.bom_id = b.id {item_join}
        WHERE b.id = :bom_id"""
    if seeded:
        start = f"""
        SELECT s.node, s.parent, l.id, l.bom_id, l.component_item_id, s.level, s.qty,
               string_to_array(s.path, ',')::int[],
               l.quantity, l.scrap_factor, l.operation_seq, l.position {item_cols}
        FROM unnest(CAST(:nodes AS text[]), CAST(:parents AS text[]), CAST(:lines AS int[]),
                    CAST(:levels AS int[]), CAST(:qtys AS numeric[]), CAST(:paths AS text[]))
             AS s(node, parent, line_id, level, qty, path)
        JOIN bom_line l ON l.id = s.line_id {item_join}"""
    columns = "node, parent, line_id, bom_id, item_id, level, qty, path, per, scrap, op_seq, pos"
    if first_level:
        return f"WITH tree({columns} {item_names}) AS ({start})"
    return f"""
    WITH RECURSIVE
    eff AS MATERIALIZED (SELECT b.id, b.item_id, b.quantity FROM bom b WHERE {EFFECTIVE}),
    tree({columns} {item_names}) AS ({start}
        UNION ALL
        SELECT t.node || '.' || l.id, t.node, l.id, e.id, l.component_item_id, t.level + 1,
               round(t.qty / e.quantity * l.quantity * (1 + l.scrap_factor), {carry}),
               t.path || l.component_item_id,
               l.quantity, l.scrap_factor, l.operation_seq, l.position {item_cols}
        FROM tree t
        JOIN eff e ON e.item_id = t.item_id
        JOIN bom_line l ON l.bom_id = e.id {item_join}
        WHERE t.level < {MAX_LEVELS} AND l.component_item_id <> ALL(t.path)
    )"""


EXPLOSION_SQL = text(
    _explosion_cte(with_item=True)
    + """
    SELECT t.line_id, t.bom_id, t.item_id, t.level, t.qty, string_to_array(t.node, '.')::int[],
           t.code, t.name, t.unit, t.per, t.scrap, t.op_seq, t.pos
    FROM tree t
    """
)
"""Every line occurrence below a BOM version, one row per node of the exploded tree. Rows come
level by level; the tree is assembled (and children ordered by position) in Python."""

UNIT_CARRY = 24
"""Decimals of the per-unit factors answers are scaled from. A top quantity has at most 12
integral and 6 decimal digits, so its product with a factor carried to 24 decimals through 64
levels is within 10^-10 of the exact value: the 6 decimals returned are the exact value's."""

UNIT_TREE_ROWS = """
    SELECT t.node, t.parent, t.line_id, t.bom_id, t.level, t.item_id, t.code, t.name, t.unit,
           t.per::float8, t.scrap::float8, t.op_seq, t.qty
    FROM tree t ORDER BY t.level, t.pos
"""
UNIT_TREE_SQL = text(_explosion_cte(with_item=True, carry=UNIT_CARRY) + UNIT_TREE_ROWS)
"""The explosion of one unit (bind :qty to 1) as JSON-ready values, each node's quantity the
exact factor per unit of the top item: rows by level and, within a level, by line position
(so every parent's children arrive in position order)."""
SEEDED_TREE_SQL = text(
    _explosion_cte(with_item=True, carry=UNIT_CARRY, seeded=True) + UNIT_TREE_ROWS
)
"""The same rows for the subtrees of given occurrences, the occurrences included."""
FIRST_LEVEL_SQL = text(
    _explosion_cte(with_item=True, carry=UNIT_CARRY, first_level=True) + UNIT_TREE_ROWS
)
"""The same rows for the lines of :bom_id only (level 1), in position order."""

WHERE_USED_SQL = text(
    f"""
    WITH RECURSIVE
    eff AS MATERIALIZED (SELECT b.id, b.item_id, b.quantity, b.version FROM bom b
                         WHERE {EFFECTIVE}),
    up(line_id, bom_id, version, item_id, child_id, level, qty, path, line_path, per) AS (
        SELECT l.id, e.id, e.version, e.item_id, l.component_item_id, 1,
               round(l.quantity * (1 + l.scrap_factor) / e.quantity, {CARRY}),
               ARRAY[l.component_item_id, e.item_id], ARRAY[l.id], l.quantity
        FROM bom_line l JOIN eff e ON e.id = l.bom_id
        WHERE l.component_item_id = :item_id
        UNION ALL
        SELECT l.id, e.id, e.version, e.item_id, l.component_item_id, u.level + 1,
               round(u.qty * l.quantity * (1 + l.scrap_factor) / e.quantity, {CARRY}),
               u.path || e.item_id, u.line_path || l.id, l.quantity
        FROM up u
        JOIN bom_line l ON l.component_item_id = u.item_id
        JOIN eff e ON e.id = l.bom_id
        WHERE u.level < {MAX_LEVELS} AND e.item_id <> ALL(u.path)
    )
    SELECT u.line_id, u.bom_id, u.version, u.item_id, u.child_id, u.level, u.qty, u.line_path,
           i.code, i.name, i.unit, u.per
    FROM up u JOIN item i ON i.id = u.item_id
    """
)


@dataclass(slots=True)
class ExplosionRow:
    """One line occurrence in an explosion (a node of the tree)."""

    line_id: int
    bom_id: int
    item_id: int
    level: int
    quantity: Decimal
    line_path: tuple[int, ...]
    code: str
    name: str
    unit: str
    quantity_per: Decimal
    scrap_factor: Decimal
    operation_seq: int | None
    position: int


async def _top(session: AsyncSession, item_id: int, at: date) -> tuple[Item, int]:
    item = await session.get(Item, item_id)
    if item is None:
        raise NotFound(f"item {item_id} not found")
    bom_id = await session.scalar(
        text(f"SELECT b.id FROM bom b WHERE b.item_id = :item AND {EFFECTIVE}"),
        {"item": item_id, "at": at},
    )
    if bom_id is None:
        raise NotFound(f"item {item.code} has no BOM effective on {at.isoformat()}")
    return item, int(bom_id)


async def explosion_rows(
    session: AsyncSession, *, bom_id: int, quantity: Decimal, at: date
) -> list[ExplosionRow]:
    """Every line occurrence below a BOM version, parents before children (one query)."""
    result = await session.execute(EXPLOSION_SQL, {"bom_id": bom_id, "qty": quantity, "at": at})
    rows = [
        ExplosionRow(
            line, bom_, item, level, qty, tuple(path), code, name, unit, per, scrap, op, pos
        )
        for line, bom_, item, level, qty, path, code, name, unit, per, scrap, op, pos in result
    ]
    rows.sort(key=lambda r: r.level)  # stable: already level by level in practice
    return rows


def json_number(value: Decimal) -> int | float:
    """A quantity as a JSON number, rounded to 6 decimals (integral values as int).

    >>> json_number(Decimal("22.0000001")), json_number(Decimal("0.1234567"))
    (22, 0.123457)
    """
    number = round(float(value), 6)
    return int(number) if number.is_integer() else number


TREE_ITEM = 5  # where the item id is in a unit tree row


@dataclass(frozen=True, slots=True)
class UnitExplosion:
    """An item's explosion for one unit of it through the BOM versions effective on a day, as
    UNIT_TREE_SQL's rows. Any top quantity's answer, tree or flat, is scaled from it
    (`tree_payload`, `flat_payload`) without walking the BOMs again."""

    item_id: int
    item_code: str
    bom_id: int
    at: date
    rows: tuple[Sequence[Any], ...]
    items: frozenset[int]
    """The item and every item in its tree: the items whose changes can change this answer."""


SCALE = Context(prec=MAX_PREC, rounding=ROUND_HALF_UP)  # exact products, ties away from zero
SUM = Context(prec=MAX_PREC, rounding=ROUND_HALF_EVEN)  # exact sums and products, ties to even


def tree_quantities(factors: Iterable[Decimal], quantity: Decimal) -> list[int | float]:
    """Tree node quantities for `quantity` top units from per-unit factors: each product
    rounded to 6 decimals with ties away from zero, integral values as int (`22`, not `22.0`).

    >>> tree_quantities([Decimal(2), Decimal("1.02000000000000000000005")], Decimal(10))
    [20, 10.2]
    >>> tree_quantities([Decimal("0.0000025")], Decimal(1))
    [3e-06]
    """
    mul, to6 = SCALE.multiply, SCALE.quantize  # bound once for the loop
    values = [float(to6(mul(quantity, factor), Q6)) for factor in factors]
    return [int(value) if value.is_integer() else value for value in values]


def node_fields(row: Sequence[Any], quantity: Any) -> dict[str, Any]:
    """An explosion node's own fields (the ExplosionNode shape up to its quantity, in its
    order) from a UNIT_TREE_SQL row: what `tree_nodes` and the templates of core.bom.answers
    both encode."""
    _, _, line, bom_id, level, item, code, name, unit, per, scrap, op, _ = row
    return {
        "line_id": line,
        "bom_id": bom_id,
        "level": level,
        "item_id": item,
        "item_code": code,
        "item_name": name,
        "unit": unit,
        # JSON numbers: integral values as int (`22`, not `22.0`), inline for speed
        "quantity_per": int(per) if per.is_integer() else per,
        "scrap_factor": int(scrap) if scrap.is_integer() else scrap,
        "operation_seq": op,
        "quantity": quantity,
    }


def tree_nodes(rows: Sequence[Sequence[Any]], quantities: Sequence[Any]) -> list[dict[str, Any]]:
    """Nested JSON-ready nodes (the ExplosionNode shape) from UNIT_TREE_SQL rows, which come
    parents first and children in position order; `quantities[i]` is row i's quantity.

    Plain dicts: ~10^4 nodes are built and serialised without model overhead. A node's
    `children` stays the empty tuple until its first child arrives, so a leaf dict holds only
    atomic values and is never tracked by the cyclic garbage collector: the leaves (half of a
    big tree) add nothing to the collections a big explosion would otherwise trigger.
    """
    roots: list[dict[str, Any]] = []
    nodes: dict[str, dict[str, Any]] = {}
    for row, qty in zip(rows, quantities, strict=True):
        key, parent_key = row[0], row[1]
        node = node_fields(row, qty)
        node["has_bom"] = False
        node["children"] = ()
        nodes[key] = node
        parent = nodes.get(parent_key) if parent_key else None
        if parent is None:  # level 1, or the top of a subtree encoded alone
            roots.append(node)
        elif parent["has_bom"]:
            parent["children"].append(node)
        else:
            parent["has_bom"] = True
            parent["children"] = [node]
    return roots


def tree_payload(rows: Iterable[Sequence[Any]], quantity: Decimal) -> list[dict[str, Any]]:
    """The nested nodes (`tree_nodes`) for `quantity` top units, from UNIT_TREE_SQL rows."""
    rows = list(rows)
    return tree_nodes(rows, tree_quantities((row[-1] for row in rows), quantity))


async def unit_tree(
    *, session: AsyncSession, item_id: int, at: date | None = None
) -> UnitExplosion:
    """The explosion tree of one unit of the item (one recursive query)."""
    day = at or today()
    item, bom_id = await _top(session, item_id, day)
    rows = tuple(await plain_rows(session, UNIT_TREE_SQL, {"bom_id": bom_id, "qty": 1, "at": day}))
    items = frozenset(row[TREE_ITEM] for row in rows) | {item.id}
    return UnitExplosion(item.id, item.code, bom_id, day, rows, items)


def _path(by_key: dict[str, Sequence[Any]], row: Sequence[Any], top: int) -> str:
    """The item ids from the top item down to `row`'s item, as the walk carries them."""
    items = [row[TREE_ITEM]]
    while parent := row[1]:
        row = by_key[parent]
        items.append(row[TREE_ITEM])
    return ",".join(map(str, [top, *reversed(items)]))


def _first_level(
    kept: Sequence[Sequence[Any]], fresh: Sequence[Sequence[Any]], changed: frozenset[int]
) -> tuple[list[Sequence[Any]], set[str]]:
    """The rows of a unit tree after a change to its top item's BOM: the level-1 rows as they
    are now (`fresh`, in position order), then the kept rows below them, and the keys of the
    level-1 rows whose subtrees must be walked again.

    A fresh line identical to a kept level-1 row (same item, texts, quantity per, scrap,
    operation and factor: a line carried over to a new version, say) takes that row's key and
    keeps the subtree below it, unless its item changed too. Other fresh lines get keys of
    their own (their line id, primed if a kept row holds it) and are walked again.
    """
    unused: dict[tuple[Any, ...], list[str]] = {}
    for row in kept:
        if row[4] == 1 and row[TREE_ITEM] not in changed:
            unused.setdefault(tuple(row[TREE_ITEM:]), []).append(row[0])
    keys: list[str | None] = []
    for row in fresh:
        same = unused.get(tuple(row[TREE_ITEM:]))
        if not same:
            keys.append(None)
        else:  # the same line if it is still there, else the first identical one
            key = row[0] if row[0] in same else same[0]
            same.remove(key)
            keys.append(key)
    taken = {row[0] for row in kept if row[4] == 1}
    walk: set[str] = set()
    rows: list[Sequence[Any]] = []
    for row, key in zip(fresh, keys, strict=True):
        if key is None:
            key = row[0]
            while key in taken:
                key += "'"
            taken.add(key)
            walk.add(key)
        rows.append((key, *row[1:]))
    matched = {key for key in keys if key is not None}
    rows.extend(row for row in kept if row[4] > 1 and row[0].split(".", 1)[0] in matched)
    return rows, walk


def topmost(
    rows: Sequence[Sequence[Any]], changed: frozenset[int], walk: Collection[str] = ()
) -> tuple[set[str], list[Sequence[Any]]]:
    """What a patch walks again: the keys of every occurrence at or below a changed item's
    topmost occurrences (or the `walk` keys), and those topmost occurrences (the seeds)."""
    replaced: set[str] = set()
    seeds: list[Sequence[Any]] = []
    for row in rows:  # parents come before their children
        if row[1] in replaced:
            replaced.add(row[0])
        elif row[TREE_ITEM] in changed or row[0] in walk:
            replaced.add(row[0])
            seeds.append(row)
    return replaced, seeds


async def patched_tree(
    *, session: AsyncSession, unit: UnitExplosion, changed: frozenset[int]
) -> UnitExplosion:
    """`unit` (a unit tree) after changes to the `changed` items: the subtrees of the topmost
    occurrences of changed items are walked again, by one query seeded with those occurrences,
    and take the place of the old ones. The rest is kept: nothing else in it depends on the
    changed items.

    A change to the top item itself (a new version of its BOM, say) reads its level-1 lines
    again (`_first_level`): lines identical to kept ones keep their subtrees, the others are
    walked again with the other seeds."""
    rows: Sequence[Sequence[Any]] = unit.rows
    walk: set[str] = set()
    if unit.item_id in changed:
        item, bom_id = await _top(session, unit.item_id, unit.at)
        params = {"bom_id": bom_id, "qty": 1, "at": unit.at}
        fresh = await plain_rows(session, FIRST_LEVEL_SQL, params)
        rows, walk = _first_level(rows, fresh, changed)
        unit = replace(unit, item_code=item.code, bom_id=bom_id)
    by_key = {row[0]: row for row in rows}
    replaced, seeds = topmost(rows, changed, walk)
    if not seeds:
        if rows is unit.rows:
            return unit
        items = frozenset(row[TREE_ITEM] for row in rows) | {unit.item_id}
        return replace(unit, rows=tuple(rows), items=items)
    params = {
        "nodes": [row[0] for row in seeds],
        "parents": [row[1] for row in seeds],
        "lines": [row[2] for row in seeds],
        "levels": [row[4] for row in seeds],
        "qtys": [row[-1] for row in seeds],
        "paths": [_path(by_key, row, unit.item_id) for row in seeds],
        "at": unit.at,
    }
    walked = await plain_rows(session, SEEDED_TREE_SQL, params)
    again = {row[0]: row for row in walked}
    seeded = {row[0] for row in seeds}
    # the rows kept, each seed walked again in its place (gone if its line is), then the new
    # subtrees: parents still come before their children, children in position order
    in_place = [again.get(row[0]) if row[0] in seeded else row for row in rows]
    merged = (
        *(row for row in in_place if row and (row[0] in seeded or row[0] not in replaced)),
        *(row for row in walked if row[0] not in seeded),
    )
    items = frozenset(row[TREE_ITEM] for row in merged) | {unit.item_id}
    return replace(unit, rows=merged, items=items)


def header(unit: UnitExplosion, quantity: int | float) -> dict[str, Any]:
    """The fields an explosion answer (tree or flat) starts with."""
    return {
        "item_id": unit.item_id,
        "item_code": unit.item_code,
        "quantity": quantity,
        "at": unit.at.isoformat(),
        "bom_id": unit.bom_id,
    }


def scaled_tree(unit: UnitExplosion, quantity: Decimal) -> dict[str, Any]:
    """The explosion tree of `quantity` units as JSON-ready data (the ExplosionTree shape)."""
    return {**header(unit, json_number(quantity)), "nodes": tree_payload(unit.rows, quantity)}


async def explosion_payload(
    *, session: AsyncSession, item_id: int, quantity: Decimal, at: date | None = None
) -> dict[str, Any]:
    """The explosion tree as JSON-ready data (the ExplosionTree shape)."""
    return scaled_tree(await unit_tree(session=session, item_id=item_id, at=at), quantity)


async def explode(
    *, session: AsyncSession, item_id: int, quantity: Decimal, at: date | None = None
) -> ExplosionTree:
    """Multi-level explosion of `quantity` of the item as a tree (quantities rolled up)."""
    payload = await explosion_payload(session=session, item_id=item_id, quantity=quantity, at=at)
    return ExplosionTree.model_validate(payload)


def flat_rows(unit: UnitExplosion) -> list[tuple[Any, ...]]:
    """The unit tree summed per component item: (item, code, name, unit, exact sum of the
    factors, lowest and deepest level, occurrences, whether it is exploded further), by lowest
    level, then code in code-point order (as Python compares strings; codes are ASCII)."""
    item_of = {row[0]: row[TREE_ITEM] for row in unit.rows}
    made = {item_of[row[1]] for row in unit.rows if row[1]}
    add = SUM.add
    acc: dict[int, list[Any]] = {}
    for _, _, _, _, level, item, code, name, measure, _, _, _, factor in unit.rows:
        entry = acc.get(item)
        if entry is None:
            acc[item] = [item, code, name, measure, factor, level, level, 1]
        else:  # a patched tree's rows are not level by level
            entry[4] = add(entry[4], factor)
            entry[5] = min(entry[5], level)
            entry[6] = max(entry[6], level)
            entry[7] += 1
    ordered = sorted(acc.values(), key=lambda e: (e[5], e[1]))
    return [(*entry, entry[0] in made) for entry in ordered]


def flat_quantities(totals: Iterable[Decimal], quantity: Decimal) -> list[float]:
    """Flat quantities for `quantity` top units from exact per-unit sums: each product rounded
    to 6 decimals with ties to even, as floats even when integral.

    >>> flat_quantities([Decimal("0.0000025"), Decimal(2)], Decimal(1))
    [2e-06, 2.0]
    """
    mul, to6 = SUM.multiply, SUM.quantize  # bound once for the loop
    return [float(to6(mul(quantity, total), Q6)) for total in totals]


def flat_component(row: Sequence[Any], quantity: Any) -> dict[str, Any]:
    """A `flat_rows` row as a JSON-ready component (the FlatRequirement shape)."""
    item, code, name, unit, _, min_level, max_level, occurrences, has_bom = row
    return {
        "item_id": item,
        "item_code": code,
        "item_name": name,
        "unit": unit,
        "quantity": quantity,
        "min_level": min_level,
        "max_level": max_level,
        "occurrences": occurrences,
        "has_bom": has_bom,
    }


def flat_payload(
    unit: UnitExplosion, quantity: Decimal, rows: Sequence[Sequence[Any]] | None = None
) -> dict[str, Any]:
    """The explosion of `quantity` units summed per component item as JSON-ready data (the
    ExplosionFlat shape), from the unit tree's `flat_rows` (computed here unless given): each
    total is the exact sum times the quantity, rounded to 6 decimals with ties to even.

    Quantities stay floats even when integral (`22.0`): that is how the Quantity type has
    always encoded the flat answer through its model, and the bytes must not change.
    """
    rows = rows or flat_rows(unit)
    quantities = flat_quantities((row[4] for row in rows), quantity)
    components = [flat_component(row, qty) for row, qty in zip(rows, quantities, strict=True)]
    return {**header(unit, float(quantity)), "components": components}


async def explode_flat(
    *, session: AsyncSession, item_id: int, quantity: Decimal, at: date | None = None
) -> dict[str, Any]:
    """Multi-level explosion summed per component item, as JSON-ready data (the ExplosionFlat
    shape): the unit tree (one query) summed per item, by lowest level then code."""
    return flat_payload(await unit_tree(session=session, item_id=item_id, at=at), quantity)


async def _where_used_rows(session: AsyncSession, item_id: int, at: date) -> tuple[Item, list[Any]]:
    item = await session.get(Item, item_id)
    if item is None:
        raise NotFound(f"item {item_id} not found")
    rows = (await session.execute(WHERE_USED_SQL, {"item_id": item_id, "at": at})).all()
    return item, sorted(rows, key=lambda r: r.level)


async def where_used(
    *, session: AsyncSession, item_id: int, at: date | None = None
) -> WhereUsedTree:
    """Every assembly that uses the item, at all levels, as an upward tree."""
    day = at or today()
    item, rows = await _where_used_rows(session, item_id, day)
    roots: list[WhereUsedNode] = []
    nodes: dict[tuple[int, ...], WhereUsedNode] = {}
    for r in rows:
        path = tuple(r.line_path)
        node = WhereUsedNode.model_construct(
            line_id=r.line_id,
            bom_id=r.bom_id,
            bom_version=r.version,
            item_id=r.item_id,
            level=r.level,
            quantity=q6(r.qty),
            item_code=r.code,
            item_name=r.name,
            unit=r.unit,
            quantity_per=r.per,
            parents=[],
        )
        nodes[path] = node
        (roots if r.level == 1 else nodes[path[:-1]].parents).append(node)
    for node in [*roots, *nodes.values()]:
        node.parents.sort(key=lambda n: n.item_code)
    roots.sort(key=lambda n: n.item_code)
    return WhereUsedTree.model_construct(item_id=item.id, item_code=item.code, at=day, nodes=roots)


async def where_used_flat(
    *, session: AsyncSession, item_id: int, at: date | None = None
) -> WhereUsedFlat:
    """Every assembly that uses the item, summed per assembly."""
    day = at or today()
    item, rows = await _where_used_rows(session, item_id, day)
    used_as_child = {r.child_id for r in rows}
    acc: dict[int, dict[str, Any]] = {}
    for r in rows:
        entry = acc.get(r.item_id)
        if entry is None:
            acc[r.item_id] = {
                "item_id": r.item_id,
                "item_code": r.code,
                "item_name": r.name,
                "unit": r.unit,
                "quantity": r.qty,
                "min_level": r.level,
                "max_level": r.level,
                "occurrences": 1,
                "is_top": r.item_id not in used_as_child,
            }
        else:
            entry["quantity"] += r.qty
            entry["min_level"] = min(entry["min_level"], r.level)
            entry["max_level"] = max(entry["max_level"], r.level)
            entry["occurrences"] += 1
    ordered = sorted(acc.values(), key=lambda e: (e["min_level"], e["item_code"]))
    return WhereUsedFlat.model_construct(
        item_id=item.id,
        item_code=item.code,
        at=day,
        assemblies=[
            WhereUsedRow.model_construct(**{**e, "quantity": q6(e["quantity"])}) for e in ordered
        ],
    )
