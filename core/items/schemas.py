"""Item API schemas."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from core.common.schemas import Code, Name, OrmModel, PatchModel, Quantity
from core.items.models import ItemType

UnitStr = Field(min_length=1, max_length=16, examples=["pcs"])


class ItemBase(BaseModel):
    """Fields shared by create and read."""

    name: Name = Field(examples=["Hex bolt M6x20"])
    type: ItemType = Field(examples=[ItemType.RAW])
    unit: str = UnitStr
    lot_tracked: bool = Field(default=False, description="stock is kept per lot")
    safety_stock: Quantity = Field(default=Decimal(0), ge=0)
    lead_time_days: int = Field(default=0, ge=0, le=3650)
    active: bool = True
    description: str | None = Field(default=None, max_length=2000)


class ItemCreate(ItemBase):
    """A new item."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "BOLT-M6X20",
                    "name": "Hex bolt M6x20",
                    "type": "raw",
                    "unit": "pcs",
                    "lot_tracked": True,
                }
            ]
        },
    )

    code: Code = Field(examples=["BOLT-M6X20"])


class ItemUpdate(PatchModel):
    """Fields to change; the code is permanent."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"safety_stock": "500"}]}
    )
    nullable = frozenset({"description"})

    name: Name | None = None
    type: ItemType | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=16)
    lot_tracked: bool | None = None
    safety_stock: Quantity | None = Field(default=None, ge=0)
    lead_time_days: int | None = Field(default=None, ge=0, le=3650)
    active: bool | None = None
    description: str | None = Field(default=None, max_length=2000)


class ItemOut(ItemBase, OrmModel):
    """An item as stored."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "code": "BAR-C45",
                    "name": "Round bar C45, 30 mm",
                    "type": "raw",
                    "unit": "m",
                    "lot_tracked": True,
                    "safety_stock": 200,
                    "lead_time_days": 10,
                    "active": True,
                    "description": "cut to length for SHAFT-20",
                    "created_at": "2026-11-02T08:00:00Z",
                    "updated_at": "2026-11-20T13:30:00Z",
                }
            ]
        }
    )

    id: int
    code: str
    created_at: datetime
    updated_at: datetime
