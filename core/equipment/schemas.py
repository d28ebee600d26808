"""Equipment API schemas."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from core.common.schemas import Code, Name, OrmModel, PatchModel, Quantity, detail_example
from core.equipment.models import EquipmentLevel, EquipmentStatus

TypeCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$"),
]
Capability = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$"),
]
CycleTime = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=3, description="seconds per piece", examples=["30"]),
]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("capabilities must not repeat")
    return values


EXAMPLE_OUT: dict[str, Any] = {
    "id": 6,
    "code": "CNC-101",
    "name": "CNC turning centre 101",
    "level": "machine",
    "parent_id": 4,
    "type": "cnc",
    "status": "in_service",
    "capabilities": ["turning", "threading"],
    "ideal_cycle_time_s": 30,
    "vendor": "Doosan",
    "model": "Lynx 2100",
    "serial_number": "L2100-88412",
    "description": None,
    "created_at": "2026-11-01T08:00:00Z",
    "updated_at": "2026-11-01T08:00:00Z",
}


class EquipmentCreate(BaseModel):
    """A new node of the hierarchy."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "CNC-101",
                    "name": "CNC turning centre 101",
                    "level": "machine",
                    "parent_id": 4,
                    "type": "cnc",
                    "capabilities": ["turning", "threading"],
                    "ideal_cycle_time_s": "30",
                }
            ]
        },
    )

    code: Code = Field(examples=["CNC-101"], description="permanent; telemetry signals bind to it")
    name: Name = Field(examples=["CNC turning centre 101"])
    level: EquipmentLevel = Field(examples=[EquipmentLevel.MACHINE])
    parent_id: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="required except for a site: area in site, line in area, cell in line, "
        "machine in line or cell",
    )
    type: TypeCode | None = Field(
        default=None, description="equipment type routings can ask for", examples=["cnc"]
    )
    status: EquipmentStatus = EquipmentStatus.IN_SERVICE
    capabilities: list[Capability] = Field(
        default_factory=list, max_length=50, examples=[["turning", "threading"]]
    )
    ideal_cycle_time_s: CycleTime | None = Field(
        default=None, description="default ideal cycle time for items without their own"
    )
    vendor: str | None = Field(default=None, max_length=100, examples=["Doosan"])
    model: str | None = Field(default=None, max_length=100, examples=["Lynx 2100"])
    serial_number: str | None = Field(default=None, max_length=100, examples=["L2100-88412"])
    description: str | None = Field(default=None, max_length=2000)

    _unique_capabilities = field_validator("capabilities")(_unique)


class EquipmentUpdate(PatchModel):
    """Fields to change; code and level are permanent."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "maintenance"}]}
    )
    nullable = frozenset(
        {"type", "ideal_cycle_time_s", "vendor", "model", "serial_number", "description"}
    )

    name: Name | None = None
    parent_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    type: TypeCode | None = None
    status: EquipmentStatus | None = None
    capabilities: list[Capability] | None = Field(default=None, max_length=50)
    ideal_cycle_time_s: CycleTime | None = None
    vendor: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    serial_number: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=2000)

    @field_validator("capabilities")
    @classmethod
    def _unique_capabilities(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _unique(values)


class EquipmentOut(OrmModel):
    """A piece of equipment as stored."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EXAMPLE_OUT]})

    id: int
    code: str
    name: str
    level: EquipmentLevel
    parent_id: int | None
    type: str | None
    status: EquipmentStatus
    capabilities: list[str]
    ideal_cycle_time_s: Quantity | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime


class EquipmentRef(BaseModel):
    """Id, code, name and level of a node (for paths)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [{"id": 4, "code": "L1", "name": "Line 1", "level": "line"}]
        },
    )

    id: int
    code: str
    name: str
    level: EquipmentLevel


class EquipmentDetail(EquipmentOut):
    """A piece of equipment with its path from the site down."""

    model_config = detail_example(EquipmentOut, path=EquipmentRef)

    path: list[EquipmentRef] = Field(description="ancestors from the site down to the parent")


class EquipmentNode(BaseModel):
    """A node of the hierarchy tree."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "code": "L1",
                    "name": "Shaft machining line",
                    "level": "line",
                    "type": None,
                    "status": "in_service",
                    "children": [],
                }
            ]
        }
    )

    id: int
    code: str
    name: str
    level: EquipmentLevel
    type: str | None
    status: EquipmentStatus
    children: list[EquipmentNode] = Field(default_factory=list)


class CycleTimeSet(BaseModel):
    """The ideal cycle time of an item on this equipment."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"ideal_cycle_time_s": "30"}]}
    )

    ideal_cycle_time_s: CycleTime


class CycleTimeOut(OrmModel):
    """An item's ideal cycle time on a piece of equipment."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "equipment_id": 6,
                    "item_id": 3,
                    "item_code": "SHAFT-A100",
                    "item_name": "Drive shaft A100",
                    "ideal_cycle_time_s": 30,
                    "updated_at": "2026-11-01T08:00:00Z",
                }
            ]
        },
    )

    equipment_id: int
    item_id: int
    item_code: str
    item_name: str
    ideal_cycle_time_s: Quantity
    updated_at: datetime


class EquipmentSignalOut(BaseModel):
    """A telemetry signal bound to the equipment (registered by the gateway)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 17,
                    "key": "CNC-101.good_count",
                    "name": "good_count",
                    "unit": "pcs",
                    "data_type": "uint32",
                    "protocol": "opcua",
                    "source": "ns=2;s=CNC-101.good_count",
                    "description": None,
                    "active": True,
                }
            ]
        }
    )

    id: int
    key: str
    name: str
    unit: str | None
    data_type: str
    protocol: str | None
    source: str | None
    description: str | None
    active: bool
