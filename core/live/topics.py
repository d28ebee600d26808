"""Topics clients may subscribe to, and the snapshot of each (read from the database, so any
process answers the same): `equipment/<code>`, `line/<code>`, `work-orders`, `alerts`, `kpi`."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.downtime.models import DowntimeEvent
from core.equipment.models import Equipment, EquipmentLevel
from core.live.models import LiveSnapshot
from core.live.payloads import alarm_alert, downtime_alert, iso, status_payload, work_orders
from core.live.settings import LiveSettings
from core.states.models import EquipmentStatus
from core.telemetry import query
from core.telemetry.tables import signal

STATIC = ("work-orders", "alerts", "kpi")
PATTERN = re.compile(r"^(equipment|line)/([A-Za-z0-9._/-]{1,64})$")
CODES_TTL = 30.0
LATEST_MAX_AGE = timedelta(days=1)
MACHINE_LEVELS = (EquipmentLevel.MACHINE.value, EquipmentLevel.CELL.value)


class Topics:
    """Validates topic names and builds snapshots."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: LiveSettings) -> None:
        self.sessions = sessions
        self.settings = settings
        self._codes: dict[str, str] = {}  # code -> level
        self._loaded = 0.0

    async def _levels(self) -> dict[str, str]:
        if time.monotonic() - self._loaded > CODES_TTL:
            async with self.sessions() as session:
                rows = await session.execute(select(Equipment.code, Equipment.level))
                self._codes = {r[0]: r[1] for r in rows}
            self._loaded = time.monotonic()
        return self._codes

    async def problem(self, topic: object) -> str | None:
        """Why `topic` cannot be subscribed to, or None."""
        if not isinstance(topic, str):
            return "topics are strings"
        if topic in STATIC:
            return None
        match = PATTERN.match(topic)
        if match is None:
            return "unknown topic; use equipment/<code>, line/<code>, work-orders, alerts or kpi"
        kind, code = match.groups()
        levels = await self._levels()
        if code not in levels:
            self._loaded = 0.0  # it may be new: look again next time
            return f"no equipment with code {code!r}"
        if kind == "line" and levels[code] != EquipmentLevel.LINE:
            return f"{code} is a {levels[code]}, not a line"
        if kind == "equipment" and levels[code] not in MACHINE_LEVELS:
            return f"{code} is a {levels[code]}; subscribe to machines (or line/<code>)"
        return None

    async def snapshot(self, topic: str) -> dict[str, Any] | None:
        """The current state of a topic."""
        now = datetime.now(UTC)
        async with self.sessions() as session:
            if topic == "kpi":
                return await self._kpi(session)
            if topic == "work-orders":
                return {"values": await work_orders(session)}
            if topic == "alerts":
                return await self._alerts(session, now)
            kind, code = topic.split("/", 1)
            if kind == "equipment":
                return await self._equipment(session, code, now)
            return await self._line(session, code, now)

    async def _kpi(self, session: AsyncSession) -> dict[str, Any]:
        rows = await session.execute(
            select(LiveSnapshot.key, LiveSnapshot.data).where(LiveSnapshot.key.like("kpi/%"))
        )
        return {"values": {key[len("kpi/") :]: data for key, data in rows}}

    async def _equipment(self, session: AsyncSession, code: str, now: datetime) -> dict[str, Any]:
        equipment = await session.scalar(select(Equipment).where(Equipment.code == code))
        if equipment is None:
            return {"values": {}, "status": None}
        keys = dict(
            (
                await session.execute(
                    select(signal.c.id, signal.c.key).where(signal.c.equipment_code == code)
                )
            ).all()
        )
        values: dict[str, Any] = {}
        if keys:
            for p in await query.latest(session, sorted(keys), since=now - LATEST_MAX_AGE):
                values[keys[p.signal_id]] = {"ts": iso(p.ts), "v": p.value, "q": p.quality}
        status = await session.get(EquipmentStatus, equipment.id)
        return {
            "values": values,
            "status": status_payload(
                equipment, status, stale_s=self.settings.live_stale_s, now=now
            ),
        }

    async def _line(self, session: AsyncSession, code: str, now: datetime) -> dict[str, Any]:
        line = await session.scalar(select(Equipment).where(Equipment.code == code))
        if line is None:
            return {"values": {}, "kpi": None}
        cells = select(Equipment.id).where(Equipment.parent_id == line.id)
        rows = await session.execute(
            select(Equipment, EquipmentStatus)
            .outerjoin(EquipmentStatus, EquipmentStatus.equipment_id == Equipment.id)
            .where(
                Equipment.level.in_(MACHINE_LEVELS),
                (Equipment.parent_id == line.id) | Equipment.parent_id.in_(cells),
            )
            .order_by(Equipment.code)
        )
        values = {
            e.code: status_payload(e, s, stale_s=self.settings.live_stale_s, now=now)
            for e, s in rows.all()
        }
        kpi = await session.scalar(
            select(LiveSnapshot.data).where(LiveSnapshot.key == f"kpi/line/{code}")
        )
        return {"values": values, "kpi": kpi}

    async def _alerts(self, session: AsyncSession, now: datetime) -> dict[str, Any]:
        values: dict[str, Any] = {}
        rows = await session.execute(
            select(DowntimeEvent, Equipment.code)
            .join(Equipment, Equipment.id == DowntimeEvent.equipment_id)
            .where(DowntimeEvent.end_ts.is_(None))
            .order_by(DowntimeEvent.start_ts)
            .limit(500)
        )
        for event, code in rows.all():
            values[f"downtime/{event.id}"] = downtime_alert(event, code, now=now)
        alarms = dict(
            (
                await session.execute(
                    select(signal.c.id, signal.c.equipment_code).where(
                        signal.c.name == "alarm_code", signal.c.equipment_code.is_not(None)
                    )
                )
            ).all()
        )
        if alarms:
            for p in await query.latest(session, sorted(alarms), since=now - LATEST_MAX_AGE):
                if p.quality >= 0 and p.value:
                    code = alarms[p.signal_id]
                    values[f"alarm/{code}"] = alarm_alert(code, int(p.value), p.ts)
        return {"values": values}
