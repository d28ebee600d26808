"""A small plant with telemetry signals, readings written as the gateway writes them, and the
derivation engine driven pass by pass."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from core.live.engine import Engine
from core.live.feed import EPOCH, SignalInfo
from core.live.settings import LiveSettings
from mes_common.settings import load_settings
from tests.core.equipment.helpers import make_plant
from tests.support.databases import TestDb

SIGNALS = ("state", "good_count", "scrap_count", "alarm_code", "temperature", "spindle_speed")


def utc(ts: datetime) -> datetime:
    """Aware UTC."""
    return ts.astimezone(UTC)


def live_settings(**overrides: Any) -> LiveSettings:
    """env.sh's live settings with test overrides."""
    return load_settings(LiveSettings, **overrides)


@dataclass
class LivePlant:
    """KNU > MACH > L1 > {CNC-1 (cnc, 30 s), MILL-1 (mill, 45 s)} with signals."""

    db: TestDb
    nodes: dict[str, dict[str, Any]]
    signals: dict[str, int] = field(default_factory=dict)

    def id(self, code: str) -> int:
        """Equipment id by code."""
        return int(self.nodes[code]["id"])


async def make_live_plant(client: httpx.AsyncClient, db: TestDb) -> LivePlant:
    """The plant, registered signals (as a gateway registers them) and a reason tree."""
    plant = LivePlant(db, await make_plant(client))
    async with await psycopg.AsyncConnection.connect(db.conninfo) as conn:
        for code in ("CNC-1", "MILL-1"):
            for name in SIGNALS:
                cur = await conn.execute(
                    "INSERT INTO signal (key, equipment_code, name, data_type)"
                    " VALUES (%s, %s, %s, 'float') RETURNING id",
                    (f"{code}.{name}", code, name),
                )
                row = await cur.fetchone()
                assert row is not None
                plant.signals[f"{code}.{name}"] = int(row[0])
        await conn.commit()
    return plant


async def make_reason(
    client: httpx.AsyncClient, code: str, loss: str, *, planned: bool = False
) -> int:
    """A category with one reason; the reason's id."""
    category = await client.post(
        "/api/v1/downtime/reasons",
        json={"code": f"{code}-CAT", "name": code, "kind": "category"},
    )
    assert category.status_code == 201, category.text
    body: dict[str, Any] = {
        "code": code,
        "name": code,
        "kind": "reason",
        "parent_id": category.json()["id"],
        "planned": planned,
    }
    if not planned:
        body["loss_category"] = loss
    reason = await client.post("/api/v1/downtime/reasons", json=body)
    assert reason.status_code == 201, reason.text
    return int(reason.json()["id"])


Row = tuple[str, datetime, float | None, int]


class Drive:
    """Writes readings and runs the engine until nothing is left to recompute."""

    def __init__(self, app: FastAPI, plant: LivePlant, settings: LiveSettings) -> None:
        self.plant = plant
        self.engine = Engine(app.state.db.sessions, settings)

    async def start(self) -> None:
        """Lead (as the elected process would)."""
        await self.engine.lead()

    async def write(self, rows: Iterable[Row], *, notify: bool = True) -> None:
        """Store readings; with `notify`, tell the engine as the live feed would."""
        rows = list(rows)
        async with await psycopg.AsyncConnection.connect(self.plant.db.conninfo) as conn:
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO reading (ts, signal_id, value, quality) VALUES (%s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    [(ts, self.plant.signals[key], value, q) for key, ts, value, q in rows],
                )
            await conn.commit()
        if notify:
            self.engine.observe(
                [
                    (
                        SignalInfo(key, key.split(".")[0], None),
                        (ts - EPOCH) // timedelta(microseconds=1),
                        value,
                        q,
                    )
                    for key, ts, value, q in rows
                ]
            )

    async def settle(self, max_passes: int = 8) -> int:
        """Run passes until nothing is pending; how many it took."""
        for n in range(1, max_passes + 1):
            await self.engine.run_pass()
            if not self.engine.pending:
                return n
        raise AssertionError("the engine kept finding work")


def series(key: str, start: datetime, steps: Iterable[tuple[float, float | None]]) -> list[Row]:
    """Readings of one signal at start + seconds."""
    return [(key, start + timedelta(seconds=s), v, 0) for s, v in steps]
