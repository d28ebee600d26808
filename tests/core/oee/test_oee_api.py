"""OEE through the API: planned time from the shift calendar (breaks left out), lines as the sum
of their machines, per shift and day, per work order; bad input is refused and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.states.service import hour_of
from tests.core.bom.helpers import make_item
from tests.core.live.helpers import Drive, LivePlant, series
from tests.support.api import AsRoles

M = 60


def window(base: datetime) -> dict[str, str]:
    return {"start": base.isoformat(), "end": (base + timedelta(hours=1)).isoformat()}


async def around_the_clock_with_a_break(
    client: httpx.AsyncClient, plant: LivePlant, base: datetime
) -> None:
    """UTC shifts 00-12 and 12-24 daily, with a 10-minute break 20 minutes into `base`'s hour."""
    a = base + timedelta(minutes=20)
    b = a + timedelta(minutes=10)
    shift = [
        {
            "code": "D",
            "name": "Day",
            "start": "00:00",
            "end": "12:00",
            "days": [1, 2, 3, 4, 5, 6, 7],
        },
        {
            "code": "N",
            "name": "Night",
            "start": "12:00",
            "end": "00:00",
            "days": [1, 2, 3, 4, 5, 6, 7],
        },
    ]
    for s in shift:
        s["breaks"] = [{"name": "Tea", "start": a.strftime("%H:%M"), "end": b.strftime("%H:%M")}]
    shift[1 if a.hour < 12 else 0]["breaks"] = []
    r = await client.post(
        "/api/v1/calendar/shift-patterns",
        json={"code": "TEST-24", "name": "All day", "timezone": "UTC", "shifts": shift},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/calendar/assignments",
        json={
            "equipment_id": plant.id("L1"),
            "pattern_id": r.json()["id"],
            "valid_from": (base - timedelta(days=1)).date().isoformat(),
        },
    )
    assert r.status_code == 201, r.text


async def test_planned_time_lines_shifts_days_and_work_orders(
    admin: httpx.AsyncClient, plant: LivePlant, drive: Drive
) -> None:
    base = hour_of(datetime.now(UTC)) - timedelta(hours=1)
    await around_the_clock_with_a_break(admin, plant, base)
    # CNC-1 runs the whole hour (60 parts, 5 every 5 minutes); MILL-1 runs 40 min then stops
    await drive.write(
        series("CNC-1.state", base, [(0, 2), (70 * M, 2)])
        + series("CNC-1.good_count", base, [(k * 5 * M, 5 * k) for k in range(12)] + [(3599, 60)])
        + series("MILL-1.state", base, [(0, 2), (40 * M, 0), (70 * M, 0)])
        + series("MILL-1.good_count", base, [(0, 0), (39 * M, 40)])
    )
    await drive.settle()

    r = await admin.get(f"/api/v1/oee/equipment/{plant.id('CNC-1')}", params=window(base))
    cnc = r.json()
    assert cnc["planned_production_s"] == 3000  # the 10-minute break is not planned
    assert cnc["good"] == 50  # 10 parts were made in the break: outside planned time
    assert cnc["oee"] > 0 and cnc["reason"] is None
    in_break = {
        "start": (base + timedelta(minutes=20)).isoformat(),
        "end": (base + timedelta(minutes=30)).isoformat(),
    }
    r = await admin.get(f"/api/v1/oee/equipment/{plant.id('CNC-1')}", params=in_break)
    assert (r.json()["oee"], r.json()["reason"]) == (None, "no_planned_time")
    r = await admin.get(f"/api/v1/oee/equipment/{plant.id('L1')}", params=window(base))
    line = r.json()
    assert line["level"] == "line" and line["planned_production_s"] == 6000
    assert [m["equipment_code"] for m in line["machines"]] == ["CNC-1", "MILL-1"]
    mill = next(m for m in line["machines"] if m["equipment_code"] == "MILL-1")
    assert line["good"] == cnc["good"] + mill["good"]
    assert line["oee"] == pytest.approx(line["fully_productive_s"] / 6000)
    assert [m["reason"] for m in line["machines"]] == [None, None]

    r = await admin.get(f"/api/v1/oee/equipment/{plant.id('L1')}/shifts", params=window(base))
    assert r.status_code == 200, r.text
    shifts = r.json()
    assert len(shifts) == 1 and shifts[0]["shift_code"] in {"D", "N"}
    assert shifts[0]["planned_production_s"] == 6000
    r = await admin.get(f"/api/v1/oee/equipment/{plant.id('L1')}/days", params=window(base))
    assert [d["good"] for d in r.json()] == [line["good"]]

    gear = await make_item(admin, "GEAR", type="finished")
    order = (
        await admin.post("/api/v1/work-orders", json={"item_id": gear["id"], "quantity": "5"})
    ).json()
    r = await admin.get(f"/api/v1/oee/work-orders/{order['id']}")
    assert r.status_code == 200 and r.json()["runs"] == [] and r.json()["oee"] is None
    assert r.json()["reason"] == "no_planned_time"  # it never ran


async def test_bad_requests_are_refused(
    admin: httpx.AsyncClient, plant: LivePlant, as_roles: AsRoles
) -> None:
    cnc = plant.id("CNC-1")
    now = datetime.now(UTC)
    cases = [
        (
            f"/api/v1/oee/equipment/{cnc}",
            {"start": now.isoformat(), "end": (now - timedelta(1)).isoformat()},
            422,
        ),
        (
            f"/api/v1/oee/equipment/{cnc}",
            {"start": (now - timedelta(40)).isoformat(), "end": now.isoformat()},
            422,
        ),
        (
            f"/api/v1/oee/equipment/{cnc}",
            {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"},
            422,
        ),
        (
            "/api/v1/oee/equipment/999999",
            {"start": (now - timedelta(1)).isoformat(), "end": now.isoformat()},
            404,
        ),
        ("/api/v1/oee/hours", {"sort": "nope"}, 422),
        ("/api/v1/oee/work-orders/999999", {}, 404),
        (f"/api/v1/equipment-states/{plant.id('L1')}", {}, 404),
        (
            f"/api/v1/equipment-states/{cnc}/timeline",
            {"start": now.isoformat(), "end": now.isoformat()},
            422,
        ),
        ("/api/v1/equipment-states", {"state": "flying"}, 422),
        ("/api/v1/production/work-orders/999999/runs", {}, 404),
        ("/api/v1/production/lots/999999/signal-stats", {}, 404),
    ]
    for path, params, status in cases:
        r = await admin.get(path, params=params)
        assert r.status_code == status, (path, params, r.text)
        assert r.json()["error"]["message"]
    reason = await admin.post(
        "/api/v1/downtime/reasons", json={"code": "CAT", "name": "Category", "kind": "category"}
    )
    rule = {"equipment_id": cnc, "stop_class": "breakdown", "reason_id": reason.json()["id"]}
    r = await admin.post("/api/v1/equipment-states/downtime-rules", json=rule)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.reason_id"
    r = await admin.put(
        f"/api/v1/equipment-states/{cnc}/config", json={"good_signal": "MILL-1.good_count"}
    )
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "body.good_signal"
    r = await admin.get(f"/api/v1/equipment-states/{cnc}/config")
    assert r.json()["configured"] is False  # the refused change changed nothing
    async with as_roles("operator") as operator:
        r = await operator.put(f"/api/v1/equipment-states/{cnc}/config", json={"micro_stop_s": 5})
        assert r.status_code == 403
        r = await operator.get(f"/api/v1/equipment-states/{cnc}/config")
        assert r.status_code == 200 and r.json()["micro_stop_s"] is None
    r = await admin.post(
        f"/api/v1/equipment-states/{cnc}/recompute",
        params={"start": (now - timedelta(hours=2)).isoformat(), "end": now.isoformat()},
    )
    assert r.status_code == 202 and len(r.json()["hours"]) in (2, 3)
