"""Audit API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from core.common.schemas import OrmModel


class AuditEventOut(OrmModel):
    """A recorded change."""

    id: int
    ts: datetime
    user_id: str = Field(examples=["6f1c0d2e-..."])
    username: str = Field(examples=["planner"])
    action: str = Field(examples=["update"])
    entity: str = Field(examples=["item"])
    entity_id: str = Field(examples=["42"])
    before: dict[str, Any] | None = Field(examples=[{"name": "Bolt M6"}])
    after: dict[str, Any] | None = Field(examples=[{"name": "Bolt M6x20"}])
