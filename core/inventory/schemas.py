"""Inventory API schemas."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from core.common.schemas import Code, Name, OrmModel, PatchModel, Quantity
from core.inventory.models import LocationType, LotOrigin, LotStatus, TransactionType

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
"""A reference to another row by id."""

Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Reference = Annotated[str, Field(min_length=1, max_length=100, examples=["PO-2026-0042"])]


# --- locations -----------------------------------------------------------------------------


class LocationBase(BaseModel):
    """Fields shared by create and read."""

    name: Name = Field(examples=["Main store"])
    type: LocationType = Field(examples=[LocationType.WAREHOUSE])
    parent_id: Id | None = Field(default=None, description="enclosing location")
    active: bool = True
    description: str | None = Field(default=None, max_length=2000)


class LocationCreate(LocationBase):
    """A new location."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"code": "STORE", "name": "Main store", "type": "warehouse"}]
        },
    )

    code: Code = Field(examples=["STORE"])


class LocationUpdate(PatchModel):
    """Fields to change; the code is permanent."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})
    nullable = frozenset({"parent_id", "description"})

    name: Name | None = None
    type: LocationType | None = None
    parent_id: Id | None = None
    active: bool | None = None
    description: str | None = Field(default=None, max_length=2000)


class LocationOut(LocationBase, OrmModel):
    """A location as stored."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "code": "LINE-1-SIDE",
                    "name": "Line 1 line-side rack",
                    "type": "line_side",
                    "parent_id": None,
                    "active": True,
                    "description": "bar stock and shafts next to the lathes",
                    "created_at": "2026-11-02T08:00:00Z",
                    "updated_at": "2026-11-02T08:00:00Z",
                }
            ]
        }
    )

    id: int
    code: str
    created_at: datetime
    updated_at: datetime


# --- lots ----------------------------------------------------------------------------------


class LotOut(OrmModel):
    """A lot, with what it holds now."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "item_id": 3,
                    "item_code": "BAR-C45",
                    "code": "L-2026-0412",
                    "status": "released",
                    "origin": "receipt",
                    "received_quantity": 500,
                    "on_hand": 320,
                    "expires_on": None,
                    "work_order_id": None,
                    "supplier_lot": "MILL-88213",
                    "notes": None,
                    "created_at": "2026-11-26T08:00:00Z",
                    "updated_at": "2026-11-26T08:00:00Z",
                }
            ]
        }
    )

    id: int
    item_id: int
    item_code: str
    code: str
    status: LotStatus
    origin: LotOrigin
    received_quantity: Quantity = Field(description="entered the lot by receipt or production")
    on_hand: Quantity = Field(description="held now, over all locations")
    expires_on: date | None
    work_order_id: int | None = Field(description="producing work order (production lots)")
    supplier_lot: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class LotUpdate(PatchModel):
    """Release, quarantine or block a lot, or correct its dates and notes."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "quarantine"}]}
    )
    nullable = frozenset({"expires_on", "supplier_lot", "notes"})

    status: LotStatus | None = None
    expires_on: date | None = None
    supplier_lot: str | None = Field(default=None, min_length=1, max_length=64)
    notes: str | None = Field(default=None, max_length=2000)


# --- movements -----------------------------------------------------------------------------


class ReceiptCreate(BaseModel):
    """Goods received into a location. For lot-tracked items name the lot: an existing one by
    `lot_id`, or by `lot_code` (created when new for the item)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "quantity": 500,
                    "to_location_id": 1,
                    "lot_code": "L-2026-0412",
                    "supplier_lot": "MILL-88213",
                    "reference": "PO-2026-0042",
                }
            ]
        },
    )

    item_id: Id
    quantity: Quantity = Field(gt=0, examples=[500])
    to_location_id: Id
    lot_id: Id | None = None
    lot_code: Code | None = Field(default=None, examples=["L-2026-0412"])
    lot_status: LotStatus = Field(
        default=LotStatus.RELEASED, description="status of a lot created by this receipt"
    )
    expires_on: date | None = Field(default=None, description="expiry of a new lot")
    supplier_lot: str | None = Field(default=None, min_length=1, max_length=64)
    reference: Reference | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _one_lot_reference(self) -> ReceiptCreate:
        if self.lot_id is not None and self.lot_code is not None:
            raise ValueError("give lot_id or lot_code, not both")
        return self


class IssueCreate(BaseModel):
    """Stock taken out of a location (to a work order, scrap, a customer)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "quantity": 20,
                    "from_location_id": 2,
                    "lot_id": 7,
                    "work_order_id": 12,
                }
            ]
        },
    )

    item_id: Id
    quantity: Quantity = Field(gt=0, examples=[20])
    from_location_id: Id
    lot_id: Id | None = None
    work_order_id: Id | None = None
    reference: Reference | None = None
    reason: Reason | None = None


class TransferCreate(BaseModel):
    """Stock moved from one location to another."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"item_id": 3, "quantity": 100, "from_location_id": 1, "to_location_id": 2}
            ]
        },
    )

    item_id: Id
    quantity: Quantity = Field(gt=0, examples=[100])
    from_location_id: Id
    to_location_id: Id
    lot_id: Id | None = None
    reference: Reference | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _different_locations(self) -> TransferCreate:
        if self.from_location_id == self.to_location_id:
            raise ValueError("from_location_id and to_location_id must differ")
        return self


class AdjustmentCreate(BaseModel):
    """A correction after a count: either the signed `quantity` to add or remove, or the
    `counted_quantity` found (the difference is booked). A reason is required."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "location_id": 1,
                    "lot_id": 7,
                    "counted_quantity": 318,
                    "reason": "cycle count",
                }
            ]
        },
    )

    item_id: Id
    location_id: Id
    lot_id: Id | None = None
    quantity: Quantity | None = Field(default=None, description="signed change, not zero")
    counted_quantity: Quantity | None = Field(default=None, ge=0)
    reference: Reference | None = None
    reason: Reason

    @model_validator(mode="after")
    def _delta_or_count(self) -> AdjustmentCreate:
        if (self.quantity is None) == (self.counted_quantity is None):
            raise ValueError("give exactly one of quantity and counted_quantity")
        if self.quantity is not None and self.quantity == 0:
            raise ValueError("quantity must not be zero")
        return self


class TransactionOut(OrmModel):
    """One movement in the ledger."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 118,
                    "type": "transfer",
                    "item_id": 3,
                    "lot_id": 7,
                    "from_location_id": 1,
                    "to_location_id": 2,
                    "quantity": 100,
                    "work_order_id": None,
                    "user_id": "6f1c0d2e-4b7a-4f0e-9c1d-2a5e8b3f7d10",
                    "username": "storekeeper",
                    "ts": "2026-11-30T14:05:00Z",
                    "reason": None,
                    "reference": "WO-2026-0012",
                }
            ]
        }
    )

    id: int
    type: TransactionType
    item_id: int
    lot_id: int | None
    from_location_id: int | None
    to_location_id: int | None
    quantity: Quantity = Field(
        description="signed effect on total stock (transfers: the moved quantity)"
    )
    work_order_id: int | None
    user_id: str
    username: str
    ts: datetime
    reason: str | None
    reference: str | None


# --- on-hand -------------------------------------------------------------------------------


class StockOut(OrmModel):
    """On-hand of one item (and lot) at one location."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "item_code": "BAR-C45",
                    "lot_id": 7,
                    "lot_code": "L-2026-0412",
                    "lot_status": "released",
                    "location_id": 2,
                    "location_code": "LINE-1-SIDE",
                    "quantity": 80,
                    "updated_at": "2026-12-01T09:00:00Z",
                }
            ]
        }
    )

    item_id: int
    item_code: str
    lot_id: int | None
    lot_code: str | None
    lot_status: LotStatus | None
    location_id: int
    location_code: str
    quantity: Quantity
    updated_at: datetime


class OnHandPart(BaseModel):
    """A share of an item's on-hand."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": 1, "code": "STORE", "quantity": 240},
                {"id": None, "code": None, "quantity": 0},
            ]
        }
    )

    id: int | None = Field(description="location or lot id (null: stock without a lot)")
    code: str | None
    quantity: Quantity


class ItemOnHand(BaseModel):
    """An item's stock: total, usable (released, unexpired lots and stock without lots), and
    the split by location and by lot."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "item_code": "BAR-C45",
                    "unit": "m",
                    "total": 380,
                    "usable": 320,
                    "by_location": [
                        {"id": 1, "code": "STORE", "quantity": 300},
                        {"id": 2, "code": "LINE-1-SIDE", "quantity": 80},
                    ],
                    "by_lot": [
                        {"id": 7, "code": "L-2026-0412", "quantity": 320},
                        {"id": 8, "code": "L-2026-0413", "quantity": 60},
                    ],
                }
            ]
        }
    )

    item_id: int
    item_code: str
    unit: str
    total: Quantity
    usable: Quantity
    by_location: list[OnHandPart]
    by_lot: list[OnHandPart]


# --- genealogy -----------------------------------------------------------------------------


# examples: bar lot L-2026-0412 (BAR-C45) went into shaft lot L-2026-0415 (SHAFT-20)
_TRACE_NODE: JsonDict = {
    "lot_id": 7,
    "lot_code": "L-2026-0412",
    "item_id": 3,
    "item_code": "BAR-C45",
    "quantity": 16,
    "level": 1,
    "children": [],
}
_TRACE_LOT: JsonDict = {
    "lot_id": 7,
    "lot_code": "L-2026-0412",
    "item_id": 3,
    "item_code": "BAR-C45",
    "status": "released",
    "level": 1,
    "on_hand": 320,
}


class TraceNode(BaseModel):
    """A lot in a genealogy tree and what it is linked to at the next level."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TRACE_NODE]})

    lot_id: int
    lot_code: str
    item_id: int
    item_code: str
    quantity: Quantity = Field(
        description="backward: how much of this lot went into the lot above; forward: how "
        "much of the lot above went into this lot"
    )
    level: int = Field(ge=1)
    children: list[TraceNode] = Field(default_factory=list)


class TraceLot(BaseModel):
    """A lot reached by a trace (listed once, at its nearest level)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TRACE_LOT]})

    lot_id: int
    lot_code: str
    item_id: int
    item_code: str
    status: LotStatus
    level: int = Field(ge=1)
    on_hand: Quantity


class Trace(BaseModel):
    """Genealogy of one lot: backward (what went into it) or forward (where it went)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lot_id": 9,
                    "lot_code": "L-2026-0415",
                    "item_id": 2,
                    "item_code": "SHAFT-20",
                    "direction": "backward",
                    "tree": [_TRACE_NODE],
                    "lots": [_TRACE_LOT],
                    "truncated": False,
                }
            ]
        }
    )

    lot_id: int
    lot_code: str
    item_id: int
    item_code: str
    direction: str = Field(examples=["backward"])
    tree: list[TraceNode]
    lots: list[TraceLot] = Field(description="every lot reached, once, nearest level first")
    truncated: bool = Field(description="the trace hit the depth or size limit")
