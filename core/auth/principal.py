"""Who is calling: taken from a verified token, used for RBAC and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Realm roles of the `mes` realm."""

    OPERATOR = "operator"
    ENGINEER = "engineer"
    QUALITY = "quality"
    PLANNER = "planner"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, kw_only=True)
class Principal:
    """An authenticated caller: a user or a service account (client credentials)."""

    subject: str
    username: str
    name: str = ""
    roles: frozenset[Role] = field(default_factory=frozenset)
    client_id: str | None = None
    expires_at: float | None = None

    @property
    def display(self) -> str:
        """Name for the audit trail."""
        return self.name or self.username
