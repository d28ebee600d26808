"""Turns the gateway's reading notifications into `equipment/<code>` topic updates.

Payload (docs/ARCHITECTURE.md, "Live path contract"):
`{"v": 1, "gw": "<gateway>", "r": [[signal_id, ts_us, value, quality], ...]}`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.live.hub import Hub
from core.telemetry.tables import signal

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REFRESH_MIN_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """What the live path needs to know about a signal."""

    key: str
    equipment_code: str | None
    unit: str | None


def iso(ts_us: int) -> str:
    """RFC 3339 UTC time of epoch microseconds.

    >>> iso(1767225600123456)
    '2026-01-01T00:00:00.123456+00:00'
    """
    return (EPOCH + timedelta(microseconds=ts_us)).isoformat()


class SignalDirectory:
    """signal id -> key and equipment, cached; reloaded (at most once a second) on unknown ids."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._signals: dict[int, SignalInfo] = {}
        self._loaded_at = 0.0

    async def reload(self) -> None:
        """Read every signal."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(signal.c.id, signal.c.key, signal.c.equipment_code, signal.c.unit)
                )
            ).all()
        self._signals = {r[0]: SignalInfo(r[1], r[2], r[3]) for r in rows}
        self._loaded_at = time.monotonic()

    async def lookup(self, ids: Iterable[int]) -> dict[int, SignalInfo]:
        """Info for the ids (unknown ids trigger one rate-limited reload)."""
        wanted = set(ids)
        if (
            wanted - self._signals.keys()
            and time.monotonic() - self._loaded_at > REFRESH_MIN_INTERVAL
        ):
            await self.reload()
        return {i: self._signals[i] for i in wanted if i in self._signals}

    def keys_of(self, equipment_code: str) -> dict[int, SignalInfo]:
        """Cached signals of one equipment."""
        return {i: s for i, s in self._signals.items() if s.equipment_code == equipment_code}


class ReadingsFeed:
    """Handler for the readings channel: publishes only topics somebody subscribed to."""

    def __init__(
        self,
        hub: Hub,
        directory: SignalDirectory,
        *,
        observers: Iterable[Callable[[list[tuple[SignalInfo, int, Any, int]]], None]] = (),
    ) -> None:
        self.hub = hub
        self.directory = directory
        self.observers = list(observers)

    async def __call__(self, payload: str) -> None:
        """Handle one notification payload."""
        message = orjson.loads(payload)
        rows: list[list[Any]] = message.get("r", [])
        info = await self.directory.lookup(r[0] for r in rows)
        by_equipment: dict[str, dict[str, Any]] = defaultdict(dict)
        resolved: list[tuple[SignalInfo, int, Any, int]] = []
        for signal_id, ts_us, value, quality in rows:
            meta = info.get(signal_id)
            if meta is None:
                continue
            resolved.append((meta, ts_us, value, quality))
            if meta.equipment_code and self.hub.subscribed(f"equipment/{meta.equipment_code}"):
                by_equipment[meta.equipment_code][meta.key] = {
                    "ts": iso(ts_us),
                    "v": value,
                    "q": quality,
                }
        for code, values in by_equipment.items():
            self.hub.publish(f"equipment/{code}", {"values": values})
        for observe in self.observers:
            observe(resolved)
