"""The derivation engine on a real database: readings -> state timeline, automatic downtime,
counted parts, automatic work-order reports and OEE; idempotent, and right after late data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from core.live.engine import mark_hours
from core.states.service import hour_of
from tests.core.bom.helpers import make_item
from tests.core.live.helpers import (
    Drive,
    LivePlant,
    live_settings,
    make_reason,
    series,
)
from tests.support.databases import TestDb

M = 60
MIN = timedelta(minutes=1)


def at(text: str) -> datetime:
    """A timestamp from the API."""
    return datetime.fromisoformat(text)


@pytest.fixture
async def drive(app: FastAPI, plant: LivePlant) -> Drive:
    d = Drive(
        app, plant, live_settings(live_micro_stop_s=120, live_startup_s=300, live_stale_s=86400)
    )
    await d.start()
    return d


def hour_ago() -> datetime:
    """The start of the hour before the current one (a closed hour)."""
    return hour_of(datetime.now(UTC)) - timedelta(hours=1)


def a_shift(base: datetime) -> list[tuple[str, datetime, float | None, int]]:
    """CNC-1 over one hour: running, a 30 s starvation (minor stop), a breakdown with repair
    (15 min, alarm 1201), a 5 min setup, running; 70 good and 2 scrap parts."""
    rows = series(
        "CNC-1.state",
        base,
        [
            (0, 2),
            (10 * M, 4),
            (10 * M + 30, 2),
            (20 * M, 5),
            (30 * M, 6),
            (35 * M, 1),
            (40 * M, 2),
            (70 * M, 2),
        ],
    )
    rows += series(
        "CNC-1.good_count",
        base,
        [
            (0, 100),
            (5 * M, 110),
            (9 * M, 118),
            (15 * M, 127),
            (19 * M, 135),
            (45 * M, 145),
            (59 * M, 170),
        ],
    )
    rows += series("CNC-1.scrap_count", base, [(0, 5), (50 * M, 7)])
    rows += series("CNC-1.alarm_code", base, [(0, 0), (20 * M, 1201), (40 * M, 0)])
    rows += series("CNC-1.temperature", base, [(s * M, 40.0 + s % 3) for s in range(71)])
    return rows


async def events_of(client: httpx.AsyncClient, equipment_id: int) -> list[dict[str, Any]]:
    r = await client.get(
        "/api/v1/downtime/events", params={"equipment_id": equipment_id, "sort": "start_ts"}
    )
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def audit_count(db: TestDb) -> int:
    async with await psycopg.AsyncConnection.connect(db.conninfo) as conn:
        row = await (await conn.execute("SELECT count(*) FROM audit_event")).fetchone()
    assert row is not None
    return int(row[0])


async def test_readings_become_timeline_downtime_and_oee(
    admin: httpx.AsyncClient, plant: LivePlant, drive: Drive
) -> None:
    cnc = plant.id("CNC-1")
    mech = await make_reason(admin, "BD-MECH", "equipment_failure")
    r = await admin.post(
        "/api/v1/equipment-states/downtime-rules",
        json={
            "equipment_id": cnc,
            "stop_class": "breakdown",
            "alarm_code": 1201,
            "reason_id": mech,
        },
    )
    assert r.status_code == 201, r.text
    base = hour_ago()
    await drive.write(a_shift(base))
    await drive.settle()

    r = await admin.get(
        f"/api/v1/equipment-states/{cnc}/timeline",
        params={"start": base.isoformat(), "end": (base + timedelta(hours=1)).isoformat()},
    )
    assert r.status_code == 200, r.text
    timeline = r.json()
    assert [(s["state"], s["seconds"]) for s in timeline["spans"]] == [
        ("running", 600.0), ("starved", 30.0), ("running", 570.0), ("down", 600.0),
        ("maintenance", 300.0), ("setup", 300.0), ("running", 1200.0),
    ]  # fmt: skip
    assert timeline["spans"][4]["stop_class"] == "breakdown"  # a repair, not planned maintenance
    assert timeline["no_data_s"] == 0

    events = await events_of(admin, cnc)
    assert [(e["source"], at(e["start_ts"]), at(e["end_ts"]), e["reason_id"]) for e in events] == [
        ("auto", base + 20 * MIN, base + 35 * MIN, mech),
        ("auto", base + 35 * MIN, base + 40 * MIN, None),
    ]  # the 30 s starvation is a minor stop, not an event

    r = await admin.get(
        f"/api/v1/oee/equipment/{cnc}",
        params={"start": base.isoformat(), "end": (base + timedelta(hours=1)).isoformat()},
    )
    assert r.status_code == 200, r.text
    oee = r.json()
    # no calendar: the whole hour is planned; operating = running 2370 s + minor stop 30 s
    assert oee["planned_production_s"] == 3600 and oee["operating_s"] == 2400
    assert oee["availability"] == pytest.approx(2400 / 3600)
    assert oee["performance"] == pytest.approx(72 * 30 / 2400)
    assert oee["quality"] == pytest.approx(70 / 72)
    assert oee["oee"] == pytest.approx(70 * 30 / 3600)
    assert oee["losses"]["equipment_failure"] == 900 and oee["losses"]["setup_adjustment"] == 300
    assert oee["losses"]["idling_minor_stops"] == 30
    r = await admin.get("/api/v1/oee/hours", params={"equipment_id": cnc})
    hours = r.json()["items"]
    assert [at(h["hour"]) for h in hours] == [base]
    assert hours[0]["oee"] == pytest.approx(oee["oee"])  # the stored hour is the same answer

    r = await admin.get(f"/api/v1/equipment-states/{cnc}")
    status = r.json()
    assert status["state"] == "running" and at(status["since"]) == base + 40 * MIN


async def test_recomputation_is_idempotent_and_follows_late_data(
    admin: httpx.AsyncClient, plant: LivePlant, drive: Drive, db: TestDb
) -> None:
    cnc = plant.id("CNC-1")
    changeover = await make_reason(admin, "SU-CHANGE", "setup_adjustment")
    base = hour_ago()
    await drive.write(a_shift(base))
    await drive.settle()
    events = await events_of(admin, cnc)
    setup = events[1]
    r = await admin.patch(
        f"/api/v1/downtime/events/{setup['id']}",
        json={"reason_id": changeover, "comment": "new bar stock"},
    )
    assert r.status_code == 200, r.text

    await drive.settle()  # the engine sees the operator's change (nothing to redo)
    before = await audit_count(db)
    await mark_hours(drive.engine.sessions, [base, base + timedelta(hours=1)])  # a replay
    await drive.settle()
    again = await events_of(admin, cnc)
    assert [(e["id"], e["start_ts"], e["end_ts"]) for e in again] == [
        (e["id"], e["start_ts"], e["end_ts"]) for e in events
    ]
    assert await audit_count(db) == before  # nothing rewritten: same answer, no changes

    # late data: the setup really ended at 37 min; the gateway replayed it from its spool
    await drive.write(series("CNC-1.state", base, [(37 * M, 2)]), notify=False)
    await mark_hours(drive.engine.sessions, [base])
    await drive.settle()
    late = await events_of(admin, cnc)
    assert [e["id"] for e in late] == [e["id"] for e in events]
    assert at(late[1]["end_ts"]) == base + 37 * MIN
    assert (late[1]["reason_id"], late[1]["comment"]) == (changeover, "new bar stock")
    r = await admin.get(
        f"/api/v1/oee/equipment/{cnc}",
        params={"start": base.isoformat(), "end": (base + timedelta(hours=1)).isoformat()},
    )
    assert r.json()["operating_s"] == 2400 + 180 and r.json()["losses"]["setup_adjustment"] == 120


async def test_a_stop_that_vanishes_takes_its_untouched_event_along(
    admin: httpx.AsyncClient, plant: LivePlant, drive: Drive
) -> None:
    cnc = plant.id("CNC-1")
    base = hour_ago()
    await drive.write(a_shift(base))
    await drive.settle()
    assert len(await events_of(admin, cnc)) == 2
    # late data shows the machine was set up in 90 s: a minor stop, not downtime
    await drive.write(series("CNC-1.state", base, [(35 * M + 90, 2)]), notify=False)
    await mark_hours(drive.engine.sessions, [base])
    await drive.settle()
    events = await events_of(admin, cnc)
    assert len(events) == 1 and at(events[0]["end_ts"]) == base + 35 * MIN


async def test_counters_report_work_order_quantities(
    admin: httpx.AsyncClient, plant: LivePlant, drive: Drive
) -> None:
    cnc = plant.id("CNC-1")
    gear = await make_item(admin, "GEAR", type="finished")
    r = await admin.post(
        "/api/v1/work-orders",
        json={"item_id": gear["id"], "quantity": "500", "line_id": plant.id("L1")},
    )
    order = r.json()
    for step in ("release",):
        assert (await admin.post(f"/api/v1/work-orders/{order['id']}/{step}")).status_code == 200
    r = await admin.post(f"/api/v1/work-orders/{order['id']}/dispatch", json={"equipment_id": cnc})
    assert r.status_code == 200, r.text
    before_start = datetime.now(UTC) - timedelta(minutes=1)
    await drive.write(series("CNC-1.good_count", before_start, [(0, 4294967280)]))
    started = await admin.post(f"/api/v1/work-orders/{order['id']}/start")
    assert started.status_code == 200
    t = at(started.json()["actual_start"])
    ms = 0.001
    # counting on: 10 parts across the uint32 rollover, a reset to 0 then 5 more, 1 scrap
    await drive.write(
        series(
            "CNC-1.good_count",
            t,
            [(1 * ms, 4294967285), (2 * ms, 4294967290), (3 * ms, 4), (4 * ms, 0), (5 * ms, 5)],
        )
        + series("CNC-1.scrap_count", t, [(1 * ms, 3), (4 * ms, 4)])
        + series("CNC-1.state", t, [(1 * ms, 2)])
    )
    await drive.settle()
    r = await admin.get(f"/api/v1/work-orders/{order['id']}")
    assert (r.json()["good_quantity"], r.json()["scrap_quantity"]) == (25, 1)
    reports = (await admin.get(f"/api/v1/work-orders/{order['id']}/reports")).json()["items"]
    assert {x["source"] for x in reports} == {"auto"}
    assert sum(x["good_quantity"] for x in reports) == 25

    await drive.settle()  # nothing new counted: nothing new reported
    assert len(
        (await admin.get(f"/api/v1/work-orders/{order['id']}/reports")).json()["items"]
    ) == len(reports)

    r = await admin.get(f"/api/v1/production/work-orders/{order['id']}/counts")
    assert [(c["equipment_code"], c["counted_good"], c["pending_good"]) for c in r.json()] == [
        ("CNC-1", 25, 0)
    ]
    r = await admin.get(f"/api/v1/production/work-orders/{order['id']}/runs")
    assert [(x["equipment_code"], x["end"]) for x in r.json()] == [("CNC-1", None)]
    r = await admin.get(
        f"/api/v1/production/work-orders/{order['id']}/signal-stats", params={"name": "good_count"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()[0]["n"], r.json()[0]["min"], r.json()[0]["max"]) == (5, 0, 4294967290)


async def test_rules_derive_states_without_a_state_signal(
    admin: httpx.AsyncClient, plant: LivePlant, drive: Drive
) -> None:
    mill = plant.id("MILL-1")
    r = await admin.put(
        f"/api/v1/equipment-states/{mill}/config",
        json={
            "mode": "rules",
            "rules": [{"signal": "spindle_speed", "op": ">", "value": 50, "state": "running"}],
            "default_state": "idle",
        },
    )
    assert r.status_code == 200, r.text
    r = await admin.put(
        f"/api/v1/equipment-states/{mill}/config",
        json={
            "mode": "rules",
            "rules": [{"signal": "no_such", "op": ">", "value": 1, "state": "running"}],
        },
    )
    assert (
        r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.rules.0.signal"
    )
    await drive.engine.refresh_contexts()
    base = hour_ago()
    await drive.write(
        series("MILL-1.spindle_speed", base, [(0, 1500), (600, 0), (900, 1480), (3700, 1490)])
    )
    await drive.settle()
    r = await admin.get(
        f"/api/v1/equipment-states/{mill}/timeline",
        params={"start": base.isoformat(), "end": (base + timedelta(hours=1)).isoformat()},
    )
    assert [(s["state"], s["seconds"]) for s in r.json()["spans"]] == [
        ("running", 600.0), ("idle", 300.0), ("running", 2700.0),
    ]  # fmt: skip
