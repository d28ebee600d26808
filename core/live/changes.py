"""The audit trail as a change feed: every domain change is audited in its own transaction, so
tailing `audit_event` tells the engine what changed (work orders, downtime events, calendars,
configuration) without hooks in the other domains.

Ids are assigned at insert and transactions commit out of order, so each poll looks back a
little (by time) and skips the ids it has already seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import AuditEvent

LOOKBACK = timedelta(seconds=30)
BATCH = 2000


@dataclass(frozen=True, slots=True)
class Change:
    """One audited change."""

    id: int
    ts: datetime
    user_id: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditTail:
    """Hands out each audit event once (per process), starting from `since`."""

    def __init__(self, entities: Iterable[str], since: datetime) -> None:
        self.entities = sorted(set(entities))
        self.cursor = since
        self._seen: dict[int, datetime] = {}

    async def poll(self, session: AsyncSession) -> list[Change]:
        """New changes since the last poll, oldest first."""
        stmt = select(AuditEvent).where(
            AuditEvent.ts > self.cursor - LOOKBACK, AuditEvent.entity.in_(self.entities)
        )
        if self._seen:
            stmt = stmt.where(AuditEvent.id.not_in(list(self._seen)))
        rows = (
            await session.execute(stmt.order_by(AuditEvent.ts, AuditEvent.id).limit(BATCH))
        ).scalars()
        out = []
        for row in rows:
            if row.id in self._seen:
                continue
            self._seen[row.id] = row.ts
            out.append(
                Change(
                    id=row.id,
                    ts=row.ts,
                    user_id=row.user_id,
                    action=row.action,
                    entity=row.entity,
                    entity_id=row.entity_id,
                    before=row.before,
                    after=row.after,
                )
            )
            if row.ts > self.cursor:
                self.cursor = row.ts
        horizon = self.cursor - 2 * LOOKBACK
        self._seen = {i: ts for i, ts in self._seen.items() if ts >= horizon}
        return out
