"""GET /api/v1/auth/me: who the caller is and which features they may use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from core.auth.deps import require
from core.auth.permissions import PERMISSIONS
from core.auth.principal import Principal
from core.errors import errors

router = APIRouter(prefix="/auth", tags=["auth"])


class Me(BaseModel):
    """The caller, their roles and the permissions those roles grant (drives UI menus)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "5f0c2a9e-3d41-4b8e-9a51-1c7de2f4a0b3",
                    "username": "operator",
                    "name": "Otto Operator",
                    "roles": ["operator"],
                    "permissions": ["dashboard:view", "work_orders:read"],
                }
            ]
        }
    )

    subject: str
    username: str = Field(examples=["operator"])
    name: str
    roles: list[str] = Field(examples=[["operator"]])
    permissions: list[str] = Field(examples=[["dashboard:view", "work_orders:read"]])


@router.get(
    "/me",
    response_model=Me,
    summary="Current user",
    description="The authenticated caller with roles and granted permissions.",
    responses=errors(401, 403),
)
async def get_me(principal: Annotated[Principal, require("session:read")]) -> Me:
    """Who am I and what may I do."""
    granted = sorted(p for p, roles in PERMISSIONS.items() if principal.roles & roles)
    return Me(
        subject=principal.subject,
        username=principal.username,
        name=principal.name,
        roles=sorted(principal.roles),
        permissions=granted,
    )
