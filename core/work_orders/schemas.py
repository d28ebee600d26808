"""Work order API schemas."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.common.schemas import Code, OrmModel, PatchModel, Quantity, detail_example
from core.work_orders.models import OperationStatus, ReportSource, WorkOrderStatus

Comment = Field(default=None, max_length=2000, examples=["material arrived late"])
Priority = Field(default=500, ge=1, le=1000, description="1 is most urgent", examples=[500])

WORK_ORDER_EXAMPLE: dict[str, Any] = {
    "id": 41,
    "code": "WO-000041",
    "item_id": 3,
    "item_code": "SHAFT-A100",
    "item_name": "Drive shaft A100",
    "unit": "pcs",
    "quantity": 500,
    "status": "in_progress",
    "plan_line_id": 7,
    "line_id": 4,
    "line_code": "L1",
    "equipment_id": 6,
    "equipment_code": "CNC-101",
    "priority": 500,
    "due_date": "2026-12-04",
    "planned_start": "2026-12-01T06:00:00Z",
    "planned_end": "2026-12-03T22:00:00Z",
    "actual_start": "2026-12-01T06:12:00Z",
    "actual_end": None,
    "good_quantity": 180,
    "scrap_quantity": 4,
    "lot_code": None,
    "note": None,
    "created_at": "2026-11-28T09:00:00Z",
    "updated_at": "2026-12-01T10:30:00Z",
}


class _Window(BaseModel):
    @model_validator(mode="after")
    def _ordered(self) -> _Window:
        start = getattr(self, "planned_start", None)
        end = getattr(self, "planned_end", None)
        if start is not None and end is not None and end < start:
            raise ValueError("planned_end must not be before planned_start")
        return self


class WorkOrderCreate(_Window):
    """A work order made by hand; operations are copied from the item's routing."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "item_id": 3,
                    "quantity": "500",
                    "line_id": 4,
                    "due_date": "2026-12-04",
                    "planned_start": "2026-12-01T06:00:00Z",
                    "planned_end": "2026-12-03T22:00:00Z",
                }
            ]
        },
    )

    code: Code | None = Field(
        default=None, description="unique; WO-nnnnnn is generated when omitted"
    )
    item_id: int = Field(ge=1, le=2**31 - 1, examples=[3])
    quantity: Quantity = Field(gt=0, examples=["500"])
    line_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="production line")
    priority: int = Priority
    due_date: date | None = Field(default=None, examples=["2026-12-04"])
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    note: str | None = Comment


class WorkOrderUpdate(PatchModel, _Window):
    """Fields to change while the order is planned or released."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"priority": 100, "quantity": "600"}]}
    )
    nullable = frozenset({"line_id", "due_date", "planned_start", "planned_end", "note"})

    quantity: Quantity | None = Field(default=None, gt=0)
    line_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    priority: int | None = Field(default=None, ge=1, le=1000)
    due_date: date | None = None
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    note: str | None = Field(default=None, max_length=2000)


class WorkOrderOperationOut(OrmModel):
    """An operation of a work order with its progress."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 88,
                    "sequence": 10,
                    "name": "Rough turning",
                    "work_center_id": 4,
                    "equipment_type": "cnc",
                    "equipment_id": 6,
                    "equipment_code": "CNC-101",
                    "setup_time_s": 900,
                    "ideal_cycle_time_s": 30,
                    "status": "in_progress",
                    "good_quantity": 180,
                    "scrap_quantity": 4,
                    "actual_start": "2026-12-01T06:12:00Z",
                    "actual_end": None,
                }
            ]
        },
    )

    id: int
    sequence: int
    name: str
    work_center_id: int | None
    equipment_type: str | None
    equipment_id: int | None
    equipment_code: str | None
    setup_time_s: Quantity
    ideal_cycle_time_s: Quantity
    status: OperationStatus
    good_quantity: Quantity
    scrap_quantity: Quantity
    actual_start: datetime | None
    actual_end: datetime | None


class WorkOrderOut(OrmModel):
    """A work order."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra={"examples": [WORK_ORDER_EXAMPLE]}
    )

    id: int
    code: str
    item_id: int
    item_code: str
    item_name: str
    unit: str
    quantity: Quantity
    status: WorkOrderStatus
    plan_line_id: int | None
    line_id: int | None
    line_code: str | None
    equipment_id: int | None
    equipment_code: str | None
    priority: int
    due_date: date | None
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    good_quantity: Quantity = Field(description="good output of the last operation")
    scrap_quantity: Quantity = Field(description="scrap over all operations")
    lot_code: str | None = Field(description="lot the output was received into")
    note: str | None
    created_at: datetime
    updated_at: datetime


class WorkOrderDetail(WorkOrderOut):
    """A work order with its operations."""

    model_config = detail_example(WorkOrderOut, operations=WorkOrderOperationOut)

    operations: list[WorkOrderOperationOut]


class TransitionRequest(BaseModel):
    """Optional comment recorded with a state change."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"comment": "waiting for material"}]}
    )

    comment: str | None = Comment


class CompleteRequest(BaseModel):
    """Where the output goes: it is received into a lot at `location_id`, and the BOM's
    components are backflushed from the same location."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"location_id": 2, "lot_code": "SA100-261201-A"}]},
    )

    location_id: int = Field(ge=1, le=2**31 - 1, examples=[2])
    lot_code: Code | None = Field(
        default=None, description="lot to receive into; WO<id>-nnn is generated when omitted"
    )
    comment: str | None = Comment


class DispatchRequest(BaseModel):
    """Equipment that runs the order (or one of its operations)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"equipment_id": 6, "operation_id": 88}]}
    )

    equipment_id: int = Field(ge=1, le=2**31 - 1, examples=[6])
    operation_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="dispatch one operation only"
    )


class ReportCreate(BaseModel):
    """Good and scrap quantities produced at an operation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "operation_id": 88,
                    "good_quantity": "50",
                    "scrap_quantity": "2",
                    "scrap_reason": "chatter marks",
                }
            ]
        },
    )

    operation_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="required when the order has operations"
    )
    good_quantity: Quantity = Field(default=Decimal(0), ge=0, examples=["50"])
    scrap_quantity: Quantity = Field(default=Decimal(0), ge=0, examples=["2"])
    scrap_reason: str | None = Field(default=None, max_length=200, examples=["chatter marks"])
    reported_at: datetime | None = Field(
        default=None, description="when the quantities were made (now by default)"
    )
    equipment_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="defaults to the dispatched equipment"
    )
    source: ReportSource = ReportSource.MANUAL
    comment: str | None = Comment

    @model_validator(mode="after")
    def _something(self) -> ReportCreate:
        if self.good_quantity + self.scrap_quantity <= 0:
            raise ValueError("report a good or a scrap quantity above zero")
        return self


class ReportOut(OrmModel):
    """A quantity report."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 301,
                    "work_order_id": 41,
                    "operation_id": 88,
                    "equipment_id": 6,
                    "good_quantity": 50,
                    "scrap_quantity": 2,
                    "scrap_reason": "chatter marks",
                    "reported_at": "2026-12-01T09:00:00Z",
                    "source": "manual",
                    "user_id": "6f1c0d2e",
                    "username": "Olivia Operator",
                    "comment": None,
                }
            ]
        },
    )

    id: int
    work_order_id: int
    operation_id: int | None
    equipment_id: int | None
    good_quantity: Quantity
    scrap_quantity: Quantity
    scrap_reason: str | None
    reported_at: datetime
    source: ReportSource
    user_id: str
    username: str
    comment: str | None


class TransitionOut(OrmModel):
    """One state change of a work order."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 9,
                    "work_order_id": 41,
                    "from_status": "released",
                    "to_status": "in_progress",
                    "at": "2026-12-01T06:12:00Z",
                    "user_id": "6f1c0d2e",
                    "username": "Olivia Operator",
                    "comment": None,
                }
            ]
        },
    )

    id: int
    work_order_id: int
    from_status: WorkOrderStatus | None
    to_status: WorkOrderStatus
    at: datetime
    user_id: str
    username: str
    comment: str | None


class ConsumedComponent(BaseModel):
    """A component backflushed at completion."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"item_id": 12, "quantity": 92.5, "transactions": 2}]}
    )

    item_id: int
    quantity: Quantity
    transactions: int = Field(description="stock rows (lots) it was taken from")


class CompletionOut(BaseModel):
    """A completed work order and what its completion posted."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "work_order": {**WORK_ORDER_EXAMPLE, "status": "completed", "operations": []},
                    "lot_id": 55,
                    "lot_code": "WO41-001",
                    "received_quantity": 180,
                    "consumed": [{"item_id": 12, "quantity": 92.5, "transactions": 2}],
                }
            ]
        }
    )

    work_order: WorkOrderDetail
    lot_id: int
    lot_code: str
    received_quantity: Quantity
    consumed: list[ConsumedComponent]
