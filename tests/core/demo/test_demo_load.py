"""Demo data: matches docs/demo-plant.md, covers every domain, and loads idempotently."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from fastapi import FastAPI

from core.demo import loader
from tests.support.api import AsRoles
from tests.support.databases import TestDb

ROOT = Path(__file__).resolve().parents[3]
MES = str(Path(sys.executable).parent / "mes")


def documented_machines() -> dict[str, tuple[str, str, Decimal]]:
    """machine -> (line, product, ideal cycle time) from the table in docs/demo-plant.md."""
    rows = {}
    for line in (ROOT / "docs" / "demo-plant.md").read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and re.fullmatch(r"[A-Z]+-\d{3}", cells[0]):
            rows[cells[0]] = (cells[1], cells[5], Decimal(cells[6]))
    return rows


async def test_demo_plant_matches_the_document_and_loads_once(
    app: FastAPI, as_roles: AsRoles
) -> None:
    async with app.state.db.sessions() as session:
        first = await loader.load(session)
    async with app.state.db.sessions() as session:
        second = await loader.load(session)
    assert all(created > 0 for created, _ in first.values()), first
    assert all(created == 0 for created, _ in second.values()), second
    assert {k: found for k, (_, found) in second.items()} == {
        k: created for k, (created, _) in first.items()
    }

    machines = documented_machines()
    assert len(machines) == 10
    async with as_roles("admin") as client:
        listed = (
            await client.get("/api/v1/equipment", params={"level": "machine", "limit": 50})
        ).json()["items"]
        assert {m["code"] for m in listed} == set(machines)
        for machine in listed:
            line, product, cycle = machines[machine["code"]]
            detail = (await client.get(f"/api/v1/equipment/{machine['id']}")).json()
            assert [p["code"] for p in detail["path"]][-1] == line
            times = (await client.get(f"/api/v1/equipment/{machine['id']}/cycle-times")).json()[
                "items"
            ]
            assert [(t["item_code"], Decimal(str(t["ideal_cycle_time_s"]))) for t in times] == [
                (product, cycle)
            ]
        areas = (await client.get("/api/v1/equipment/tree")).json()
        assert [(s["code"], [a["code"] for a in s["children"]]) for s in areas] == [
            ("KNU", ["ASSY", "MACH"])
        ]

        pump = (await client.get("/api/v1/items", params={"q": "PUMP-GP200"})).json()["items"][0]
        flat = (await client.get(f"/api/v1/bom/items/{pump['id']}/explosion/flat")).json()
        assert max(c["max_level"] for c in flat["components"]) >= 2  # three levels with the pump
        orders = (await client.get("/api/v1/work-orders", params={"limit": 100})).json()["items"]
        assert {o["status"] for o in orders} == {
            "planned",
            "released",
            "in_progress",
            "paused",
            "completed",
            "cancelled",
        }
        completed = next(o for o in orders if o["status"] == "completed")
        assert completed["lot_code"] is not None
        plan = (await client.get("/api/v1/plans", params={"q": "MPS-DEMO"})).json()["items"][0]
        check = (await client.get(f"/api/v1/plans/{plan['id']}/material-check")).json()
        assert {r["item_code"] for r in check["rows"]} >= {"PUMP-GP200", "BAR-C45-30"}
        cnc = next(m for m in listed if m["code"] == "CNC-101")
        week = await client.get(
            "/api/v1/calendar/planned-time",
            params={
                "equipment_id": cnc["id"],
                "start": f"{plan['period_start']}T00:00:00+09:00",
                "end": f"{plan['period_end']}T00:00:00+09:00",
            },
        )
        # Mon-Fri three shifts of 7.5 h, Saturday early shift
        assert week.json()["planned_seconds"] == (5 * 3 + 1) * 450 * 60
        reasons = (await client.get("/api/v1/downtime/reasons/tree")).json()
        assert {r["code"] for r in reasons} == {"PLANNED", "BREAKDOWN", "SETUP", "MINOR"}
        events = (await client.get("/api/v1/downtime/events")).json()
        assert events["total"] == 4
        qplans = (await client.get("/api/v1/quality/plans")).json()
        assert qplans["total"] == 3
        stock = (await client.get("/api/v1/inventory/stock", params={"limit": 100})).json()
        assert stock["total"] >= 10


def test_command_line_load_is_idempotent(db: TestDb) -> None:
    env = {**os.environ, **db.env}
    first = subprocess.run(
        [MES, "demo", "load"], env=env, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [MES, "demo", "load"], env=env, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stderr
    assert "demo plant loaded: 10 items, 15 equipment" in second.stdout
    created = [int(m) for m in re.findall(r"created\s+(\d+)", second.stdout)]
    assert created and set(created) == {0}
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]
