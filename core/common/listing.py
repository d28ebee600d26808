"""Every list endpoint: `q` search, field filters, sort, limit/offset and a total count.

A domain declares a ListSpec (which columns `q` searches and which fields can be sorted), takes
`ListParams` via the `ListParamsDep` dependency, adds its typed field filters to its select, and
calls `paginate`. An unknown sort field is a 422 naming it (field `query.sort`).

A search (`q`) is counted in the page's own statement (`count(*) OVER ()`): the matching set is
computed once rather than once for the count and again for the page, which halves a broad
search. Unsearched lists keep a separate count, which indexes answer without visiting every
row a window would have to (ADR 0043).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import RowMapping, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from core.common.schemas import Page
from core.common.search import contains_pattern
from core.errors import ValidationFailed

MAX_LIMIT = 500
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ListParams:
    """Search text, sort expression, window."""

    q: str | None
    sort: str | None
    limit: int
    offset: int


def list_params(
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Search text, matched case-insensitively against the "
            "entity's key text fields",
        ),
    ] = None,
    sort: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^-?[a-z_]+(,-?[a-z_]+)*$",
            description="Comma-separated fields, `-` for descending: `-created_at,code`",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, description="Rows to skip")] = 0,
) -> ListParams:
    """Common list query parameters."""
    return ListParams(q=q.strip() if q else None, sort=sort, limit=limit, offset=offset)


ListParamsDep = Annotated[ListParams, Depends(list_params)]


@dataclass(frozen=True)
class ListSpec:
    """How an entity is searched and sorted."""

    search: Sequence[ColumnElement[Any] | Any]
    sort: Mapping[str, ColumnElement[Any] | Any]
    default_sort: str

    def order_by(self, sort: str | None) -> list[Any]:
        """ORDER BY clauses for a sort expression; ValidationFailed on an unknown field."""
        clauses = []
        for part in (sort or self.default_sort).split(","):
            name = part.lstrip("-")
            column = self.sort.get(name)
            if column is None:
                allowed = ", ".join(sorted(self.sort))
                raise ValidationFailed(
                    "query.sort", f"unknown sort field {name!r}; allowed: {allowed}"
                )
            clauses.append(column.desc() if part.startswith("-") else column.asc())
        return clauses

    def where_search(self, q: str | None) -> ColumnElement[bool] | None:
        """OR of ILIKE over the search columns, or None without `q`."""
        if not q:
            return None
        pattern = contains_pattern(q)
        return or_(*(col.ilike(pattern, escape="\\") for col in self.search))


def apply_filters(stmt: Select[Any], filters: Mapping[Any, Any]) -> Select[Any]:
    """`column == value` for every filter whose value is not None."""
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


TOTAL = "list_total"  # the label of the window count a searched page carries


async def page_of(
    session: AsyncSession, stmt: Select[Any], order: Sequence[Any], params: ListParams
) -> tuple[list[Mapping[str, Any]], int]:
    """The rows of one window of `stmt` (filtered and searched already) and the total count.

    Searched: one statement, the count as a window beside each row (dropped from the rows);
    a page past the end, having no row to carry it, counts separately. Otherwise: count, then
    window.
    """
    count = select(func.count()).select_from(stmt.order_by(None).subquery())
    if not params.q:
        total = await session.scalar(count)
        window = stmt.order_by(*order).limit(params.limit).offset(params.offset)
        return list((await session.execute(window)).mappings().all()), total or 0
    window = searched_window(stmt, order).limit(params.limit).offset(params.offset)
    rows = (await session.execute(window)).mappings().all()
    if rows:
        total = int(rows[0][TOTAL])
    else:
        total = (await session.scalar(count) or 0) if params.offset else 0
    return [_without_total(row) for row in rows], total


def searched_window(stmt: Select[Any], order: Sequence[Any]) -> Select[Any]:
    """`stmt`'s rows with the total beside each, ordered by `order`, ready for a window.

    A select of plain columns gets its matching rows as a subquery planned on its own
    (`OFFSET 0`), its sort keys and the count among its columns; the order and window are
    applied outside. A window count must read every matching row, which PostgreSQL 15 does not
    weigh against the LIMIT: left in one query, it may walk an index in the sort order (say,
    items by code) through the whole table, filtering each row, instead of taking the few rows
    the search's index finds and sorting them. Selects of ORM entities (which may carry loader
    options bound to their joins) keep the single query.
    """
    count = func.count().over().label(TOTAL)
    described = stmt.column_descriptions
    if any(isinstance(d["expr"], type) for d in described):
        return stmt.add_columns(count).order_by(*order)
    keys = [_sort_key(clause) for clause in order]
    matching = (
        stmt.add_columns(
            *(element.label(f"list_sort_{i}") for i, (element, _) in enumerate(keys)), count
        )
        .order_by(None)
        .offset(0)
        .subquery("matching")
    )
    by = [
        matching.c[f"list_sort_{i}"].desc() if descending else matching.c[f"list_sort_{i}"].asc()
        for i, (_, descending) in enumerate(keys)
    ]
    outputs = [matching.c[d["name"]] for d in described]
    return select(*outputs, matching.c[TOTAL]).order_by(*by)


def _sort_key(clause: Any) -> tuple[ColumnElement[Any], bool]:
    """The expression and direction of an ORDER BY clause (`col`, `col.asc()`, `col.desc()`)."""
    if isinstance(clause, UnaryExpression) and clause.modifier in (
        operators.asc_op,
        operators.desc_op,
    ):
        return clause.element, clause.modifier is operators.desc_op
    return clause, False


def _without_total(row: RowMapping) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != TOTAL}


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    spec: ListSpec,
    params: ListParams,
    *,
    schema: type[M],
    filters: Mapping[Any, Any] | None = None,
) -> Page[M]:
    """Run `stmt` (one ORM entity, or Core columns) with search, filters, sort and window, and
    count the total; rows become `schema` instances."""
    stmt = apply_filters(stmt, filters or {})
    condition = spec.where_search(params.q)
    if condition is not None:
        stmt = stmt.where(condition)
    rows, total = await page_of(session, stmt, spec.order_by(params.sort), params)
    items = [
        schema.model_validate(
            next(iter(row.values())) if len(row) == 1 else dict(row), from_attributes=True
        )
        for row in rows
    ]
    return Page[schema](  # type: ignore[valid-type]
        items=items, total=total, limit=params.limit, offset=params.offset
    )


async def paginate_rows(
    session: AsyncSession,
    stmt: Select[*tuple[Any, ...]],
    spec: ListSpec,
    params: ListParams,
    *,
    schema: type[M],
    tiebreak: Any,
    filters: Mapping[Any, Any] | None = None,
    search: Callable[[str], ColumnElement[bool]] | None = None,
) -> Page[M]:
    """Like `paginate` for lists that select labelled columns (joined codes, computed
    quantities) matching `schema`: search, filters, sort (then `tiebreak`, so pages are
    stable) and window, and the total. `search` replaces the spec's search condition (e.g. with
    subqueries that can use the trigram indexes)."""
    stmt = apply_filters(stmt, filters or {})
    if search is not None and params.q:
        condition: ColumnElement[bool] | None = search(params.q)
    else:
        condition = spec.where_search(params.q)
    if condition is not None:
        stmt = stmt.where(condition)
    rows, total = await page_of(session, stmt, [*spec.order_by(params.sort), tiebreak], params)
    items = [schema.model_validate(dict(row)) for row in rows]
    return Page[schema](  # type: ignore[valid-type]
        items=items, total=total, limit=params.limit, offset=params.offset
    )
