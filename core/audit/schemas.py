"""Audit API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from core.common.schemas import OrmModel


class AuditEventOut(OrmModel):
    """A recorded change."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1042,
                    "ts": "2026-11-20T13:30:00Z",
                    "user_id": "6f1c0d2e-4b7a-4f0e-9c1d-2a5e8b3f7d10",
                    "username": "planner",
                    "action": "update",
                    "entity": "item",
                    "entity_id": "3",
                    "before": {
                        "id": 3,
                        "code": "BAR-C45",
                        "safety_stock": "100.000000",
                        "updated_at": "2026-11-02T08:00:00+00:00",
                    },
                    "after": {
                        "id": 3,
                        "code": "BAR-C45",
                        "safety_stock": "200.000000",
                        "updated_at": "2026-11-20T13:30:00+00:00",
                    },
                }
            ]
        }
    )

    id: int = Field(examples=[1042])
    ts: datetime = Field(examples=["2026-11-20T13:30:00Z"])
    user_id: str = Field(examples=["6f1c0d2e-4b7a-4f0e-9c1d-2a5e8b3f7d10"])
    username: str = Field(examples=["planner"])
    action: str = Field(examples=["update"])
    entity: str = Field(examples=["item"])
    entity_id: str = Field(examples=["3"])
    before: dict[str, Any] | None = Field(
        description="column values before the change (null for a creation)",
        examples=[{"safety_stock": "100.000000"}],
    )
    after: dict[str, Any] | None = Field(
        description="column values after the change (null for a deletion)",
        examples=[{"safety_stock": "200.000000"}],
    )
