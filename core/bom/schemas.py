"""BOM API schemas."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from core.bom.models import BomStatus
from core.common.schemas import OrmModel, PatchModel, Quantity, detail_example

ScrapFactor = Field(
    default=Decimal(0),
    ge=0,
    lt=1,
    max_digits=9,
    decimal_places=6,
    description="fraction of the component lost in processing: the requirement is "
    "quantity x (1 + scrap_factor)",
    examples=["0.02"],
)
OperationSeq = Field(
    default=None,
    ge=1,
    le=99999,
    description="sequence number of the routing operation where the component is consumed",
    examples=[20],
)
Note = Field(default=None, max_length=2000, examples=["bought-in, supplier A"])


class BomLineCreate(BaseModel):
    """A new component line."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"component_item_id": 12, "quantity": "2", "scrap_factor": "0.02"},
            ]
        },
    )

    component_item_id: int = Field(ge=1, le=2**31 - 1, examples=[12])
    quantity: Quantity = Field(gt=0, description="per the BOM's base quantity", examples=["2"])
    unit: str | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="must be the component's unit (the default); no conversions",
        examples=["pcs"],
    )
    scrap_factor: Decimal = ScrapFactor
    operation_seq: int | None = OperationSeq
    position: int | None = Field(
        default=None, ge=1, le=99999, description="line number; next free one by default"
    )
    note: str | None = Note


class BomLineUpdate(PatchModel):
    """Fields of a line to change (draft versions only)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"quantity": "3"}]})
    nullable = frozenset({"operation_seq", "note"})

    component_item_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    quantity: Quantity | None = Field(default=None, gt=0)
    unit: str | None = Field(default=None, min_length=1, max_length=16)
    scrap_factor: Decimal | None = Field(default=None, ge=0, lt=1, max_digits=9, decimal_places=6)
    operation_seq: int | None = Field(default=None, ge=1, le=99999)
    position: int | None = Field(default=None, ge=1, le=99999)
    note: str | None = Field(default=None, max_length=2000)


class BomLineOut(OrmModel):
    """A component line as stored, with the component's code and name."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 5,
                    "bom_id": 2,
                    "position": 10,
                    "component_item_id": 12,
                    "component_code": "BAR-C45-30",
                    "component_name": "Steel bar C45 d30",
                    "quantity": 0.25,
                    "unit": "m",
                    "scrap_factor": 0.02,
                    "operation_seq": 10,
                    "note": None,
                }
            ]
        }
    )

    id: int
    bom_id: int
    position: int
    component_item_id: int
    component_code: str
    component_name: str
    quantity: Quantity
    unit: str
    scrap_factor: Quantity
    operation_seq: int | None
    note: str | None


class BomCreate(BaseModel):
    """A new BOM version (draft) of an item; the version number is the next free one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "quantity": "1",
                    "description": "initial release",
                    "lines": [
                        {"component_item_id": 12, "quantity": "0.25", "scrap_factor": "0.02"},
                        {"component_item_id": 14, "quantity": "2"},
                    ],
                }
            ]
        },
    )

    item_id: int = Field(ge=1, le=2**31 - 1, examples=[3])
    quantity: Quantity = Field(
        default=Decimal(1), gt=0, description="base quantity the lines are for", examples=["1"]
    )
    description: str | None = Field(default=None, max_length=2000, examples=["initial release"])
    lines: list[BomLineCreate] = Field(default_factory=list, max_length=5000)


class BomUpdate(PatchModel):
    """Header fields to change (draft versions only)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"description": "rev B drawing"}]}
    )
    nullable = frozenset({"description"})

    quantity: Quantity | None = Field(default=None, gt=0)
    description: str | None = Field(default=None, max_length=2000)


class BomActivate(BaseModel):
    """When the version takes effect."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"effective_from": "2026-12-01"}]}
    )

    effective_from: date | None = Field(
        default=None,
        description="first day the version applies (today by default); not before the "
        "current active version's first day",
        examples=["2026-12-01"],
    )


class BomOut(OrmModel):
    """A BOM version header."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "item_id": 3,
                    "item_code": "SHAFT-A100",
                    "item_name": "Drive shaft A100",
                    "version": 1,
                    "status": "active",
                    "quantity": 1,
                    "effective_from": "2026-11-01",
                    "effective_to": None,
                    "description": "initial release",
                    "created_at": "2026-11-01T08:00:00Z",
                    "updated_at": "2026-11-01T08:00:00Z",
                }
            ]
        }
    )

    id: int
    item_id: int
    item_code: str
    item_name: str
    version: int
    status: BomStatus
    quantity: Quantity
    effective_from: date | None
    effective_to: date | None
    description: str | None
    created_at: datetime
    updated_at: datetime


class BomDetail(BomOut):
    """A BOM version with its lines."""

    model_config = detail_example(BomOut, lines=BomLineOut)

    lines: list[BomLineOut]


class ExplosionNode(BaseModel):
    """A component in an exploded structure; `quantity` is rolled up for the top quantity."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "line_id": 5,
                    "bom_id": 2,
                    "level": 1,
                    "item_id": 12,
                    "item_code": "BAR-C45-30",
                    "item_name": "Steel bar C45 d30",
                    "unit": "m",
                    "quantity_per": 0.25,
                    "scrap_factor": 0.02,
                    "operation_seq": 10,
                    "quantity": 25.5,
                    "has_bom": False,
                    "children": [],
                }
            ]
        }
    )

    line_id: int
    bom_id: int = Field(description="the BOM version the line belongs to")
    level: int = Field(ge=1)
    item_id: int
    item_code: str
    item_name: str
    unit: str
    quantity_per: Quantity = Field(description="line quantity per the parent BOM's base quantity")
    scrap_factor: Quantity
    operation_seq: int | None
    quantity: Quantity = Field(description="total needed for the requested top quantity")
    has_bom: bool = Field(description="the component is made (it has an effective BOM)")
    children: list[ExplosionNode] = Field(default_factory=list)


class ExplosionTree(BaseModel):
    """Multi-level explosion of an item for a quantity, as a tree."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "item_code": "SHAFT-A100",
                    "quantity": 100,
                    "at": "2026-12-01",
                    "bom_id": 2,
                    "nodes": [],
                }
            ]
        }
    )

    item_id: int
    item_code: str
    quantity: Quantity
    at: date = Field(description="date whose effective BOM versions were used")
    bom_id: int = Field(description="the top item's effective BOM version")
    nodes: list[ExplosionNode]


class FlatRequirement(BaseModel):
    """One component item of a flattened explosion: total quantity over all paths."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": 12,
                    "item_code": "BAR-C45-30",
                    "item_name": "Steel bar C45 d30",
                    "unit": "m",
                    "quantity": 25.5,
                    "min_level": 2,
                    "max_level": 2,
                    "occurrences": 1,
                    "has_bom": False,
                }
            ]
        }
    )

    item_id: int
    item_code: str
    item_name: str
    unit: str
    quantity: Quantity = Field(description="summed over every place the item occurs")
    min_level: int
    max_level: int = Field(description="deepest level (the item's low-level code)")
    occurrences: int = Field(description="number of BOM paths that use the item")
    has_bom: bool


class ExplosionFlat(BaseModel):
    """Multi-level explosion summed per component item."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "item_code": "SHAFT-A100",
                    "quantity": 100,
                    "at": "2026-12-01",
                    "bom_id": 2,
                    "components": [],
                }
            ]
        }
    )

    item_id: int
    item_code: str
    quantity: Quantity
    at: date
    bom_id: int
    components: list[FlatRequirement]


class WhereUsedNode(BaseModel):
    """A parent that uses the item (directly or through the levels below it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "line_id": 5,
                    "bom_id": 2,
                    "bom_version": 1,
                    "level": 1,
                    "item_id": 3,
                    "item_code": "SHAFT-A100",
                    "item_name": "Drive shaft A100",
                    "unit": "pcs",
                    "quantity_per": 0.25,
                    "quantity": 0.255,
                    "parents": [],
                }
            ]
        }
    )

    line_id: int = Field(description="the BOM line that uses the child")
    bom_id: int
    bom_version: int
    level: int = Field(ge=1)
    item_id: int
    item_code: str
    item_name: str
    unit: str
    quantity_per: Quantity = Field(description="quantity of the child on that line")
    quantity: Quantity = Field(
        description="quantity of the searched item in one unit of this parent (with scrap)"
    )
    parents: list[WhereUsedNode] = Field(default_factory=list)


class WhereUsedTree(BaseModel):
    """Reverse explosion: every assembly that uses the item, at all levels."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"item_id": 12, "item_code": "BAR-C45-30", "at": "2026-12-01", "nodes": []}
            ]
        }
    )

    item_id: int
    item_code: str
    at: date
    nodes: list[WhereUsedNode]


class WhereUsedRow(BaseModel):
    """One assembly using the item, summed over all paths."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "item_code": "SHAFT-A100",
                    "item_name": "Drive shaft A100",
                    "unit": "pcs",
                    "quantity": 0.255,
                    "min_level": 1,
                    "max_level": 1,
                    "occurrences": 1,
                    "is_top": False,
                }
            ]
        }
    )

    item_id: int
    item_code: str
    item_name: str
    unit: str
    quantity: Quantity = Field(description="quantity of the searched item per unit of this one")
    min_level: int
    max_level: int
    occurrences: int
    is_top: bool = Field(description="nothing uses this assembly in turn (an end product)")


class WhereUsedFlat(BaseModel):
    """Reverse explosion summed per assembly."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"item_id": 12, "item_code": "BAR-C45-30", "at": "2026-12-01", "assemblies": []}
            ]
        }
    )

    item_id: int
    item_code: str
    at: date
    assemblies: list[WhereUsedRow]
