"""/api/v1/bom: BOM versions and lines, explosion and where-used."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.deps import require
from core.auth.principal import Principal
from core.bom import service
from core.bom.cache import ResultCache, cached_json, for_app, structures_for_app
from core.bom.models import BomStatus
from core.bom.schemas import (
    BomActivate,
    BomCreate,
    BomDetail,
    BomLineCreate,
    BomLineOut,
    BomLineUpdate,
    BomOut,
    BomUpdate,
    ExplosionFlat,
    ExplosionTree,
    WhereUsedFlat,
    WhereUsedTree,
)
from core.bom.structures import Kept, item_explosion
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import errors

router = APIRouter(prefix="/bom", tags=["bom"])

BomId = Annotated[int, Path(ge=1, le=2**31 - 1, description="BOM version id")]
LineId = Annotated[int, Path(ge=1, le=2**31 - 1, description="BOM line id")]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="item id")]
At = Annotated[
    date | None,
    Query(description="day whose effective BOM versions are used (today, UTC, by default)"),
]
TopQuantity = Annotated[
    Decimal,
    Query(
        gt=0,
        max_digits=18,
        decimal_places=6,
        description="quantity of the top item to explode",
        examples=["100"],
    ),
]
Writer = Annotated[Principal, require("bom:write")]
READ = [require("bom:read")]


def _cache(request: Request) -> ResultCache[bytes]:
    return for_app(request.app)


def _structures(request: Request) -> ResultCache[Kept]:
    return structures_for_app(request.app)


CacheDep = Annotated[ResultCache[bytes], Depends(_cache)]
StructuresDep = Annotated[ResultCache[Kept], Depends(_structures)]


async def _cached_answer(
    cache: ResultCache[bytes],
    session: AsyncSession,
    key: Hashable,
    compute: Callable[[AsyncSession], Awaitable[BaseModel | dict[str, Any] | bytes]],
) -> Response:
    """The answer to an explosion or where-used read, from the cache while the BOMs are unchanged.

    Answers are encoded once (from the model's JSON-ready data, unless `compute` encoded them)
    and may be served from the cache: the shape is the response model's, which stays the
    documented contract. `compute` takes the session to read with, so the cache can compute
    the answer again after a change.
    """

    async def payload(session: AsyncSession) -> dict[str, Any] | bytes:
        answer = await compute(session)
        return answer.model_dump(mode="json") if isinstance(answer, BaseModel) else answer

    return Response(await cached_json(cache, session, key, payload), media_type="application/json")


@router.get(
    "",
    response_model=Page[BomOut],
    summary="List BOM versions",
    description="BOM headers, one row per version. `q` searches the item code and name and the "
    "description; filter by item and status.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_boms(
    session: SessionDep,
    params: ListParamsDep,
    item_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    status: Annotated[BomStatus | None, Query(description="draft, active or archived")] = None,
) -> Page[BomOut]:
    """List BOM versions."""
    return await service.list_boms(session=session, params=params, item_id=item_id, status=status)


@router.post(
    "",
    response_model=BomDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Create a BOM version",
    description="A new draft version of an item's BOM (the next version number), optionally with "
    "lines. Lines that would make the structure cyclic are rejected with 409 naming the path.",
    responses=errors(401, 403, 409, 422),
)
async def create_bom(session: SessionDep, principal: Writer, data: BomCreate) -> BomDetail:
    """Create a BOM version."""
    bom = await service.create(session=session, principal=principal, data=data)
    return BomDetail.model_validate(bom)


@router.get(
    "/{bom_id}",
    response_model=BomDetail,
    summary="Get a BOM version",
    description="The header and lines of one BOM version.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_bom(session: SessionDep, bom_id: BomId) -> BomDetail:
    """Get a BOM version."""
    return BomDetail.model_validate(await service.get(session, bom_id, with_lines=True))


@router.patch(
    "/{bom_id}",
    response_model=BomDetail,
    summary="Update a draft BOM version",
    description="Change the base quantity or description of a draft; active and archived "
    "versions are frozen (409).",
    responses=errors(401, 403, 404, 409, 422),
)
async def update_bom(
    session: SessionDep, principal: Writer, bom_id: BomId, data: BomUpdate
) -> BomDetail:
    """Update a draft BOM version."""
    bom = await service.update(session=session, principal=principal, bom_id=bom_id, data=data)
    return BomDetail.model_validate(bom)


@router.delete(
    "/{bom_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft BOM version",
    description="Delete a draft and its lines; versions that were ever active are kept (409).",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_bom(session: SessionDep, principal: Writer, bom_id: BomId) -> None:
    """Delete a draft BOM version."""
    await service.delete(session=session, principal=principal, bom_id=bom_id)


@router.post(
    "/{bom_id}/activate",
    response_model=BomDetail,
    summary="Activate a BOM version",
    description="Make a draft the item's one active version from `effective_from` (today by "
    "default). The previously active version is archived and stays effective until that day.",
    responses=errors(401, 403, 404, 409, 422),
)
async def activate_bom(
    session: SessionDep, principal: Writer, bom_id: BomId, data: BomActivate
) -> BomDetail:
    """Activate a BOM version."""
    bom = await service.activate(session=session, principal=principal, bom_id=bom_id, data=data)
    return BomDetail.model_validate(bom)


@router.post(
    "/{bom_id}/archive",
    response_model=BomDetail,
    summary="Archive the active BOM version",
    description="Retire the active version from today; the item has no effective BOM until "
    "another version is activated.",
    responses=errors(401, 403, 404, 409, 422),
)
async def archive_bom(session: SessionDep, principal: Writer, bom_id: BomId) -> BomDetail:
    """Archive the active BOM version."""
    bom = await service.archive(session=session, principal=principal, bom_id=bom_id)
    return BomDetail.model_validate(bom)


@router.post(
    "/{bom_id}/copy",
    response_model=BomDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Copy a BOM version to a new draft",
    description="Start the next version of an item's BOM from any existing version.",
    responses=errors(401, 403, 404, 409, 422),
)
async def copy_bom(session: SessionDep, principal: Writer, bom_id: BomId) -> BomDetail:
    """Copy a BOM version to a new draft."""
    bom = await service.copy(session=session, principal=principal, bom_id=bom_id)
    return BomDetail.model_validate(bom)


@router.post(
    "/{bom_id}/lines",
    response_model=BomLineOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a BOM line",
    description="Add a component to a draft version. 409 when the component (directly or "
    "through its own BOMs) uses the item, naming the cycle, e.g. `A -> B -> C -> A`.",
    responses=errors(401, 403, 404, 409, 422),
)
async def add_bom_line(
    session: SessionDep, principal: Writer, bom_id: BomId, data: BomLineCreate
) -> BomLineOut:
    """Add a BOM line."""
    line = await service.add_line(session=session, principal=principal, bom_id=bom_id, data=data)
    return BomLineOut.model_validate(line)


@router.patch(
    "/{bom_id}/lines/{line_id}",
    response_model=BomLineOut,
    summary="Update a BOM line",
    description="Change a line of a draft version; a new component is checked for cycles.",
    responses=errors(401, 403, 404, 409, 422),
)
async def update_bom_line(
    session: SessionDep, principal: Writer, bom_id: BomId, line_id: LineId, data: BomLineUpdate
) -> BomLineOut:
    """Update a BOM line."""
    line = await service.update_line(
        session=session, principal=principal, bom_id=bom_id, line_id=line_id, data=data
    )
    return BomLineOut.model_validate(line)


@router.delete(
    "/{bom_id}/lines/{line_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a BOM line",
    description="Remove a component from a draft version.",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_bom_line(
    session: SessionDep, principal: Writer, bom_id: BomId, line_id: LineId
) -> None:
    """Delete a BOM line."""
    await service.delete_line(session=session, principal=principal, bom_id=bom_id, line_id=line_id)


async def _unit_explosion(
    structures: ResultCache[Kept], session: AsyncSession, item_id: int, day: date
) -> Kept:
    """The item's unit explosion on `day`, kept, patched or computed (core.bom.structures)."""
    return await item_explosion(
        structures,
        session,
        item_id,
        day,
        lambda s: service.unit_tree(session=s, item_id=item_id, at=day),
        lambda s, unit, changed: service.patched_tree(session=s, unit=unit, changed=changed),
    )


@router.get(
    "/items/{item_id}/explosion",
    response_model=ExplosionTree,
    summary="Explode a BOM (tree)",
    description="Multi-level explosion of `quantity` units of the item through the BOM versions "
    "effective on `at`, as a tree; every node's quantity is rolled up through the levels with "
    "base quantities and scrap factors applied. One recursive query.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def explode_bom(
    session: SessionDep,
    cache: CacheDep,
    structures: StructuresDep,
    item_id: ItemId,
    quantity: TopQuantity = Decimal(1),
    at: At = None,
) -> Response:
    """Explode a BOM (tree)."""
    day = at or service.today()

    async def tree(s: AsyncSession) -> bytes:
        return (await _unit_explosion(structures, s, item_id, day)).tree(quantity)

    return await _cached_answer(cache, session, ("tree", item_id, str(quantity), day), tree)


@router.get(
    "/items/{item_id}/explosion/flat",
    response_model=ExplosionFlat,
    summary="Explode a BOM (flattened)",
    description="The same explosion summed per component item (total quantity, levels, number "
    "of occurrences), sub-assemblies included; ordered by level then code.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def explode_bom_flat(
    session: SessionDep,
    cache: CacheDep,
    structures: StructuresDep,
    item_id: ItemId,
    quantity: TopQuantity = Decimal(1),
    at: At = None,
) -> Response:
    """Explode a BOM (flattened)."""
    day = at or service.today()

    async def flat(s: AsyncSession) -> bytes:
        return (await _unit_explosion(structures, s, item_id, day)).flat(quantity)

    return await _cached_answer(cache, session, ("flat", item_id, str(quantity), day), flat)


@router.get(
    "/items/{item_id}/where-used",
    response_model=WhereUsedTree,
    summary="Where used (tree)",
    description="Reverse explosion: every assembly that uses the item, directly or at any level "
    "above, through the BOM versions effective on `at`; each node carries the quantity of the "
    "item in one unit of that assembly.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def where_used(
    session: SessionDep, cache: CacheDep, item_id: ItemId, at: At = None
) -> Response:
    """Where used (tree)."""
    day = at or service.today()
    return await _cached_answer(
        cache,
        session,
        ("where_used", item_id, day),
        lambda s: service.where_used(session=s, item_id=item_id, at=day),
    )


@router.get(
    "/items/{item_id}/where-used/flat",
    response_model=WhereUsedFlat,
    summary="Where used (flattened)",
    description="Every assembly using the item once, with levels, occurrences, the quantity of "
    "the item per unit of the assembly, and whether it is an end product.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def where_used_flat(
    session: SessionDep, cache: CacheDep, item_id: ItemId, at: At = None
) -> Response:
    """Where used (flattened)."""
    day = at or service.today()
    return await _cached_answer(
        cache,
        session,
        ("where_used_flat", item_id, day),
        lambda s: service.where_used_flat(session=s, item_id=item_id, at=day),
    )
