"""List queries over selected columns (joins, aggregates) with the common list parameters.

`core.common.listing.paginate` pages one ORM entity; lists that show joined codes or computed
quantities select labelled columns instead and page them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession

from core.common.listing import ListParams, ListSpec, apply_filters, page_of
from core.common.schemas import Page

M = TypeVar("M", bound=BaseModel)


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
    """Run `stmt` (labelled columns matching `schema`) with search, filters, sort (then
    `tiebreak`, so pages are stable) and window, and count the total. `search` replaces the
    spec's search condition (e.g. with subqueries that can use the trigram indexes)."""
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
