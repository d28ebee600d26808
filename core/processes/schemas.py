"""Routing API schemas."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.common.schemas import Name, OrmModel, PatchModel, Quantity, detail_example

Seconds = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=3)]
EquipmentType = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$"),
]
Sequence = Annotated[int, Field(ge=1, le=99999, description="order of the step", examples=[10])]

OPERATION_EXAMPLE: dict[str, Any] = {
    "sequence": 10,
    "name": "Rough turning",
    "work_center_id": 4,
    "equipment_type": "cnc",
    "setup_time_s": "900",
    "ideal_cycle_time_s": "30",
}


class OperationCreate(BaseModel):
    """A new routing operation; it runs at a work center, on an equipment type, or both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [OPERATION_EXAMPLE]})

    sequence: Sequence
    name: Name = Field(examples=["Rough turning"])
    work_center_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="a line, cell or machine", examples=[4]
    )
    equipment_type: EquipmentType | None = Field(
        default=None, description="type of machine the step needs", examples=["cnc"]
    )
    setup_time_s: Seconds = Field(default=Decimal(0), examples=["900"])
    ideal_cycle_time_s: Seconds = Field(gt=0, description="seconds per piece", examples=["30"])
    description: str | None = Field(default=None, max_length=2000)


class OperationUpdate(PatchModel):
    """Fields of an operation to change."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"ideal_cycle_time_s": "28"}]}
    )
    nullable = frozenset({"work_center_id", "equipment_type", "description"})

    sequence: Sequence | None = None
    name: Name | None = None
    work_center_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    equipment_type: EquipmentType | None = None
    setup_time_s: Seconds | None = None
    ideal_cycle_time_s: Seconds | None = Field(default=None, gt=0)
    description: str | None = Field(default=None, max_length=2000)


class OperationOut(OrmModel):
    """A routing operation as stored."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    **OPERATION_EXAMPLE,
                    "id": 7,
                    "routing_id": 2,
                    "work_center_code": "L1",
                    "setup_time_s": 900,
                    "ideal_cycle_time_s": 30,
                    "description": None,
                }
            ]
        },
    )

    id: int
    routing_id: int
    sequence: int
    name: str
    work_center_id: int | None
    work_center_code: str | None
    equipment_type: str | None
    setup_time_s: Quantity
    ideal_cycle_time_s: Quantity
    description: str | None


class RoutingCreate(BaseModel):
    """A new routing for an item that has none, with its operations."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "name": "Shaft A100 standard routing",
                    "operations": [
                        OPERATION_EXAMPLE,
                        {
                            "sequence": 20,
                            "name": "Finish turning",
                            "equipment_type": "lathe",
                            "ideal_cycle_time_s": "20",
                        },
                    ],
                }
            ]
        },
    )

    item_id: int = Field(ge=1, le=2**31 - 1, examples=[3])
    name: Name = Field(examples=["Shaft A100 standard routing"])
    active: bool = True
    description: str | None = Field(default=None, max_length=2000)
    operations: list[OperationCreate] = Field(default_factory=list, max_length=500)


class RoutingUpdate(PatchModel):
    """Header fields to change; the item is permanent."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})
    nullable = frozenset({"description"})

    name: Name | None = None
    active: bool | None = None
    description: str | None = Field(default=None, max_length=2000)


class RoutingOut(OrmModel):
    """A routing header."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "item_id": 3,
                    "item_code": "SHAFT-A100",
                    "item_name": "Drive shaft A100",
                    "name": "Shaft A100 standard routing",
                    "active": True,
                    "description": None,
                    "created_at": "2026-11-01T08:00:00Z",
                    "updated_at": "2026-11-01T08:00:00Z",
                }
            ]
        },
    )

    id: int
    item_id: int
    item_code: str
    item_name: str
    name: str
    active: bool
    description: str | None
    created_at: datetime
    updated_at: datetime


class RoutingDetail(RoutingOut):
    """A routing with its operations in sequence."""

    model_config = detail_example(RoutingOut, operations=OperationOut)

    operations: list[OperationOut]
