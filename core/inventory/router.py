"""/api/v1/inventory: locations, lots, movements, on-hand and lot genealogy."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from core.auth.deps import require
from core.auth.principal import Principal
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import ErrorBody, errors
from core.inventory import genealogy, locations, lots, service
from core.inventory.models import LocationType, LotOrigin, LotStatus, TransactionType
from core.inventory.schemas import (
    AdjustmentCreate,
    IssueCreate,
    ItemOnHand,
    LocationCreate,
    LocationOut,
    LocationUpdate,
    LotOut,
    LotUpdate,
    ReceiptCreate,
    StockOut,
    Trace,
    TransactionOut,
    TransferCreate,
)

MALFORMED: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "The body is not valid JSON"}
}
"""Bodies that cannot be parsed at all are refused before validation."""

router = APIRouter(prefix="/inventory", tags=["inventory"])

MAX_ID = 2**31 - 1
LocationId = Annotated[int, Path(ge=1, le=MAX_ID, description="location id")]
LotId = Annotated[int, Path(ge=1, le=MAX_ID, description="lot id")]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="item id")]
TransactionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="transaction id")]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Mover = Annotated[Principal, require("inventory:move")]
Adjuster = Annotated[Principal, require("inventory:adjust")]
LotKeeper = Annotated[Principal, require("inventory:lots")]
Configurer = Annotated[Principal, require("inventory:configure")]
READ = [require("inventory:read")]


# --- locations -----------------------------------------------------------------------------


@router.get(
    "/locations",
    response_model=Page[LocationOut],
    summary="List locations",
    description="Search (`q` over code and name), filter by type, parent and active flag, sort "
    "and page through the stock locations.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_locations(
    session: SessionDep,
    params: ListParamsDep,
    type: Annotated[LocationType | None, Query(description="only locations of this type")] = None,
    active: Annotated[bool | None, Query()] = None,
    parent_id: IdFilter = None,
) -> Page[LocationOut]:
    """List locations."""
    return await locations.list_locations(
        session=session, params=params, type=type, active=active, parent_id=parent_id
    )


@router.post(
    "/locations",
    response_model=LocationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a location",
    description="Add a warehouse, line-side, quarantine or shipping location; the code is "
    "unique and a parent location may enclose it.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def create_location(
    session: SessionDep, principal: Configurer, data: LocationCreate
) -> LocationOut:
    """Create a location."""
    location = await locations.create(session=session, principal=principal, data=data)
    return LocationOut.model_validate(location)


@router.get(
    "/locations/{location_id}",
    response_model=LocationOut,
    summary="Get a location",
    description="One location by id.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_location(session: SessionDep, location_id: LocationId) -> LocationOut:
    """Get a location."""
    return LocationOut.model_validate(await locations.get(session=session, location_id=location_id))


@router.patch(
    "/locations/{location_id}",
    response_model=LocationOut,
    summary="Update a location",
    description="Change the given fields; a parent that would make a cycle is refused (422). "
    "Inactive locations receive no stock.",
    responses=MALFORMED | errors(401, 403, 404, 422),
)
async def update_location(
    session: SessionDep, principal: Configurer, location_id: LocationId, data: LocationUpdate
) -> LocationOut:
    """Update a location."""
    location = await locations.update(
        session=session, principal=principal, location_id=location_id, data=data
    )
    return LocationOut.model_validate(location)


@router.delete(
    "/locations/{location_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a location",
    description="Delete a location that never held stock and has no children; 409 otherwise "
    "(deactivate it instead).",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_location(
    session: SessionDep, principal: Configurer, location_id: LocationId
) -> None:
    """Delete a location."""
    await locations.delete(session=session, principal=principal, location_id=location_id)


# --- lots ----------------------------------------------------------------------------------


@router.get(
    "/lots",
    response_model=Page[LotOut],
    summary="List lots",
    description="Search (`q` over lot code, item code and supplier lot), filter by item, "
    "status, origin, producing work order, expiry and whether anything is left; each lot "
    "carries its current on-hand.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_lots(
    session: SessionDep,
    params: ListParamsDep,
    item_id: IdFilter = None,
    status: Annotated[LotStatus | None, Query()] = None,
    origin: Annotated[LotOrigin | None, Query()] = None,
    work_order_id: IdFilter = None,
    expires_before: Annotated[date | None, Query(description="expiry strictly before")] = None,
    in_stock: Annotated[bool | None, Query(description="true: on-hand > 0; false: 0")] = None,
) -> Page[LotOut]:
    """List lots."""
    return await lots.list_lots(
        session=session,
        params=params,
        item_id=item_id,
        status=status,
        origin=origin,
        work_order_id=work_order_id,
        expires_before=expires_before,
        in_stock=in_stock,
    )


@router.get(
    "/lots/{lot_id}",
    response_model=LotOut,
    summary="Get a lot",
    description="One lot by id, with its on-hand over all locations.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_lot(session: SessionDep, lot_id: LotId) -> LotOut:
    """Get a lot."""
    return await lots.get_out(session=session, lot_id=lot_id)


@router.patch(
    "/lots/{lot_id}",
    response_model=LotOut,
    summary="Update a lot",
    description="Release, quarantine or block a lot, or correct its expiry, supplier lot and "
    "notes. Only released, unexpired lots can be issued or backflushed. Status changes are "
    "recorded in the audit trail as `status` events.",
    responses=MALFORMED | errors(401, 403, 404, 422),
)
async def update_lot(
    session: SessionDep, principal: LotKeeper, lot_id: LotId, data: LotUpdate
) -> LotOut:
    """Update a lot."""
    return await lots.update_lot(session=session, principal=principal, lot_id=lot_id, data=data)


MaxDepth = Annotated[
    int, Query(ge=1, le=genealogy.MAX_DEPTH, description="levels to follow at most")
]


@router.get(
    "/lots/{lot_id}/trace/backward",
    response_model=Trace,
    summary="Trace a lot backward",
    description="What went into this lot, all levels down: the component lots consumed to "
    "make it, their components, and so on, as a tree (with the quantity of each lot used one "
    "level up) and as a flat list of lots.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def trace_lot_backward(
    session: SessionDep, lot_id: LotId, max_depth: MaxDepth = genealogy.MAX_DEPTH
) -> Trace:
    """Trace a lot backward."""
    return await genealogy.trace(
        session=session,
        lot_id=lot_id,
        direction=genealogy.Direction.BACKWARD,
        max_depth=max_depth,
    )


@router.get(
    "/lots/{lot_id}/trace/forward",
    response_model=Trace,
    summary="Trace a lot forward",
    description="Where this lot went, all levels up: every lot made from it and from those, "
    "with what each still holds: the recall impact. Tree and flat list.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def trace_lot_forward(
    session: SessionDep, lot_id: LotId, max_depth: MaxDepth = genealogy.MAX_DEPTH
) -> Trace:
    """Trace a lot forward."""
    return await genealogy.trace(
        session=session,
        lot_id=lot_id,
        direction=genealogy.Direction.FORWARD,
        max_depth=max_depth,
    )


# --- movements -----------------------------------------------------------------------------


@router.post(
    "/receipts",
    response_model=TransactionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Receive goods",
    description="Book goods into a location. Lot-tracked items need a lot: `lot_id` of an "
    "existing lot of the item, or `lot_code` (a new lot is created with `lot_status`, "
    "`expires_on` and `supplier_lot`; an existing one is added to).",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def create_receipt(
    session: SessionDep, principal: Mover, data: ReceiptCreate
) -> TransactionOut:
    """Receive goods."""
    tx = await service.receive(session=session, principal=principal, data=data)
    return TransactionOut.model_validate(tx)


@router.post(
    "/issues",
    response_model=TransactionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Issue goods",
    description="Take stock out of a location, optionally to a work order. Only released, "
    "unexpired lots can be issued; 409 naming the shortfall when there is not enough.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def create_issue(session: SessionDep, principal: Mover, data: IssueCreate) -> TransactionOut:
    """Issue goods."""
    tx = await service.issue(session=session, principal=principal, data=data)
    return TransactionOut.model_validate(tx)


@router.post(
    "/transfers",
    response_model=TransactionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Transfer stock",
    description="Move stock from one location to another, whatever the lot status (e.g. into "
    "quarantine); 409 when the source holds too little or the target is inactive.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def create_transfer(
    session: SessionDep, principal: Mover, data: TransferCreate
) -> TransactionOut:
    """Transfer stock."""
    tx = await service.transfer(session=session, principal=principal, data=data)
    return TransactionOut.model_validate(tx)


@router.post(
    "/adjustments",
    response_model=TransactionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Adjust stock",
    description="Correct the on-hand at a location: a signed `quantity`, or the "
    "`counted_quantity` of a count (the difference is booked; 409 when there is none). "
    "A reason is required.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def create_adjustment(
    session: SessionDep, principal: Adjuster, data: AdjustmentCreate
) -> TransactionOut:
    """Adjust stock."""
    tx = await service.adjust(session=session, principal=principal, data=data)
    return TransactionOut.model_validate(tx)


@router.get(
    "/transactions",
    response_model=Page[TransactionOut],
    summary="List inventory transactions",
    description="The movement ledger, newest first by default: filter by type, item, lot, "
    "location (either end), work order and time range; `q` searches the reference, reason, "
    "user, the item's code and name and the lot's code.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_inventory_transactions(
    session: SessionDep,
    params: ListParamsDep,
    type: Annotated[TransactionType | None, Query()] = None,
    item_id: IdFilter = None,
    lot_id: IdFilter = None,
    location_id: IdFilter = None,
    work_order_id: IdFilter = None,
    since: Annotated[datetime | None, Query(description="inclusive lower bound on ts")] = None,
    until: Annotated[datetime | None, Query(description="exclusive upper bound on ts")] = None,
) -> Page[TransactionOut]:
    """List inventory transactions."""
    return await service.list_transactions(
        session=session,
        params=params,
        type=type,
        item_id=item_id,
        lot_id=lot_id,
        location_id=location_id,
        work_order_id=work_order_id,
        since=since,
        until=until,
    )


@router.get(
    "/transactions/{transaction_id}",
    response_model=TransactionOut,
    summary="Get an inventory transaction",
    description="One movement of the ledger by id.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_inventory_transaction(
    session: SessionDep, transaction_id: TransactionId
) -> TransactionOut:
    """Get an inventory transaction."""
    tx = await service.get_transaction(session=session, transaction_id=transaction_id)
    return TransactionOut.model_validate(tx)


# --- on-hand -------------------------------------------------------------------------------


@router.get(
    "/stock",
    response_model=Page[StockOut],
    summary="List on-hand stock",
    description="On-hand by item, lot and location. `q` searches item code and name and lot "
    "code; filter by item, lot, location and lot status; empty rows are "
    "left out unless `include_empty`.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_stock(
    session: SessionDep,
    params: ListParamsDep,
    item_id: IdFilter = None,
    lot_id: IdFilter = None,
    location_id: IdFilter = None,
    lot_status: Annotated[LotStatus | None, Query()] = None,
    include_empty: Annotated[bool, Query(description="also rows with quantity 0")] = False,
) -> Page[StockOut]:
    """List on-hand stock."""
    return await service.list_stock(
        session=session,
        params=params,
        item_id=item_id,
        lot_id=lot_id,
        location_id=location_id,
        lot_status=lot_status,
        include_empty=include_empty,
    )


@router.get(
    "/items/{item_id}/on-hand",
    response_model=ItemOnHand,
    summary="Get an item's on-hand",
    description="An item's total on-hand, the usable part (stock without lots and released, "
    "unexpired lots) and the split by location and by lot.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_item_on_hand(session: SessionDep, item_id: ItemId) -> ItemOnHand:
    """Get an item's on-hand."""
    return await service.item_on_hand(session=session, item_id=item_id)
