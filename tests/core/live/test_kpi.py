"""Current-shift OEE of the `kpi` topic (core.live.kpi) on a real database, at chosen moments:
when its factors are undefined the entry says why; a machine that runs or stands in planned
time has a number (a zero factor makes OEE zero); closed hours follow calendar changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from core.live import kpi
from core.states.service import hour_of
from tests.core.live.helpers import Drive, LivePlant, series

M = 60
MIN = timedelta(minutes=1)
RUNNING, DOWN, MAINTENANCE = 2, 5, 6


@pytest.fixture
def base() -> datetime:
    """Where the shift starts: a whole hour, three hours ago (all readings are in the past)."""
    return hour_of(datetime.now(UTC)) - timedelta(hours=3)


def hhmm(ts: datetime) -> str:
    return ts.strftime("%H:%M")


async def shift_from(
    client: httpx.AsyncClient,
    plant: LivePlant,
    base: datetime,
    *,
    breaks: Sequence[tuple[datetime, datetime]] = (),
    equipment: str = "L1",
) -> None:
    """A daily two-hour UTC shift starting at `base`, assigned to `equipment` (line L1)."""
    r = await client.post(
        "/api/v1/calendar/shift-patterns",
        json={
            "code": f"KPI-2H-{equipment}",
            "name": "Two hours",
            "timezone": "UTC",
            "shifts": [
                {
                    "code": "S",
                    "name": "Short",
                    "start": hhmm(base),
                    "end": hhmm(base + timedelta(hours=2)),
                    "days": [1, 2, 3, 4, 5, 6, 7],
                    "breaks": [
                        {"name": "Break", "start": hhmm(a), "end": hhmm(b)} for a, b in breaks
                    ],
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/calendar/assignments",
        json={
            "equipment_id": plant.id(equipment),
            "pattern_id": r.json()["id"],
            "valid_from": (base - timedelta(days=1)).date().isoformat(),
        },
    )
    assert r.status_code == 201, r.text


async def kpi_at(app: FastAPI, drive: Drive, now: datetime) -> dict[str, dict[str, Any]]:
    """The `kpi` values the engine would publish at `now`."""
    async with app.state.db.sessions() as session:
        return await kpi.compute(session, list(drive.engine.contexts.values()), now=now)


def counts(key: str, start: datetime, minutes: range, first: int = 0) -> list[Any]:
    """A counter that counts one part 30 s into each of `minutes` after `start`."""
    return series(key, start, [(m * M + 30, first + i + 1) for i, m in enumerate(minutes)])


async def test_before_the_shift_has_data_the_entry_says_so_and_fills_once_it_arrives(
    app: FastAPI, admin: httpx.AsyncClient, plant: LivePlant, drive: Drive, base: datetime
) -> None:
    """The live acceptance's case: the plant's data still lags behind the shift's start (its
    clock replays the past), so the shift so far has calendar time but no data."""
    await shift_from(admin, plant, base)
    before = base - 20 * MIN
    await drive.write(
        series("CNC-1.state", before, [(0, RUNNING), (20 * M - 10, RUNNING)])
        + counts("CNC-1.good_count", before, range(19))
    )
    await drive.settle()
    now = base + 8 * MIN

    values = await kpi_at(app, drive, now)
    cnc = values["equipment/CNC-1"]
    assert cnc["window"]["kind"] == "shift" and cnc["window"]["start"].startswith(
        base.isoformat()[:19]
    )
    assert cnc["oee"] is None and cnc["availability"] is None
    assert cnc["planned_production_s"] == 0 and cnc["good"] == 0
    assert cnc["reason"] == "no_data"
    assert values["equipment/MILL-1"]["reason"] == "no_data"  # no readings at all
    assert values["line/L1"]["oee"] is None and values["line/L1"]["reason"] == "no_data"
    assert values["site/KNU"]["reason"] == "no_data"

    # the data reaches the present: 8 parts of 30 s in 8 minutes of running
    await drive.write(
        series("CNC-1.state", base, [(0, RUNNING), (8 * M, RUNNING)])
        + counts("CNC-1.good_count", base, range(8), first=19)
    )
    await drive.settle()
    values = await kpi_at(app, drive, now)
    cnc = values["equipment/CNC-1"]
    assert cnc["reason"] is None
    assert cnc["planned_production_s"] == 480 and cnc["good"] == 8
    assert cnc["availability"] == 1 and cnc["quality"] == 1
    assert cnc["oee"] == pytest.approx(8 * 30 / 480)
    assert values["line/L1"]["oee"] == pytest.approx(8 * 30 / 480)  # MILL-1 has no data
    assert values["line/L1"]["reason"] is None


async def test_a_machine_running_or_down_in_planned_time_has_a_number(
    app: FastAPI, admin: httpx.AsyncClient, plant: LivePlant, drive: Drive, base: datetime
) -> None:
    """Three minutes into the shift CNC-1 runs but has not finished a part since the shift
    began, MILL-1 has been down all along: quality (of no parts) and performance (of no
    operating time) are undefined, but a zero factor makes OEE zero, not blank."""
    await shift_from(admin, plant, base)
    before = base - 10 * MIN
    await drive.write(
        series("CNC-1.state", before, [(0, RUNNING), (13 * M, RUNNING)])
        + counts("CNC-1.good_count", before, range(9))
        + series("MILL-1.state", before, [(0, RUNNING), (60, DOWN), (13 * M, DOWN)])
    )
    await drive.settle()

    values = await kpi_at(app, drive, base + 3 * MIN)
    cnc, mill, line = values["equipment/CNC-1"], values["equipment/MILL-1"], values["line/L1"]
    assert cnc["planned_production_s"] == 180 and cnc["run_s"] == 180 and cnc["good"] == 0
    assert (cnc["availability"], cnc["performance"], cnc["quality"]) == (1, 0, None)
    assert cnc["oee"] == 0 and cnc["reason"] is None
    assert mill["planned_production_s"] == 180 and mill["operating_s"] == 0
    assert (mill["availability"], mill["performance"], mill["quality"]) == (0, None, None)
    assert mill["oee"] == 0 and mill["reason"] is None
    assert line["availability"] == 0.5 and line["oee"] == 0 and line["reason"] is None


async def test_a_shift_that_starts_with_a_break_or_has_not_started(
    app: FastAPI, admin: httpx.AsyncClient, plant: LivePlant, drive: Drive, base: datetime
) -> None:
    """Inside a break at the start of the shift nothing is planned yet; before the shift there
    is no window; a planned stop all along leaves no production time. Each entry says which."""
    await shift_from(admin, plant, base, breaks=[(base, base + 10 * MIN)])
    before = base - 10 * MIN
    await drive.write(
        series("CNC-1.state", before, [(0, RUNNING), (25 * M, RUNNING)])
        + counts("CNC-1.good_count", before, range(25))
        + series("MILL-1.state", before, [(0, RUNNING), (60, MAINTENANCE), (25 * M, MAINTENANCE)])
    )
    await drive.settle()

    values = await kpi_at(app, drive, base + 5 * MIN)
    cnc = values["equipment/CNC-1"]
    assert cnc["window"]["kind"] == "shift" and cnc["planned_production_s"] == 0
    assert cnc["oee"] is None and cnc["reason"] == "no_planned_time"
    assert values["line/L1"]["reason"] == "no_planned_time"

    values = await kpi_at(app, drive, base + 15 * MIN)  # 5 minutes after the break
    cnc, mill = values["equipment/CNC-1"], values["equipment/MILL-1"]
    assert cnc["planned_production_s"] == 300 and cnc["good"] == 5 and cnc["reason"] is None
    assert cnc["oee"] == pytest.approx(5 * 30 / 300)
    assert mill["oee"] is None and mill["reason"] == "planned_stop"  # planned maintenance
    assert values["line/L1"]["oee"] == pytest.approx(5 * 30 / 300)

    values = await kpi_at(app, drive, base - 5 * MIN)
    cnc = values["equipment/CNC-1"]
    assert cnc["window"] is None and cnc["oee"] is None and cnc["reason"] == "outside_shift"
    assert values["line/L1"]["reason"] == "outside_shift"
    assert "site/KNU" not in values  # no line of the site is in a shift


async def test_closed_hours_follow_a_calendar_change(
    admin: httpx.AsyncClient, plant: LivePlant, drive: Drive
) -> None:
    """The stored hours a window is summed from are recomputed when the calendar changes, even
    though the machine's states and counts stay the same."""
    hour = hour_of(datetime.now(UTC)) - timedelta(hours=2)
    cnc = plant.id("CNC-1")
    await drive.write(
        series("CNC-1.state", hour, [(0, RUNNING), (70 * M, RUNNING)])
        + counts("CNC-1.good_count", hour, range(60))
    )
    await drive.settle()
    params = {"start": hour.isoformat(), "end": (hour + timedelta(hours=1)).isoformat()}
    r = await admin.get(f"/api/v1/oee/equipment/{cnc}", params=params)
    assert r.json()["planned_production_s"] == 3600  # no calendar: all time is planned

    # a shift covering the hour with a 10-minute break in it
    await shift_from(admin, plant, hour - timedelta(minutes=30), breaks=[(hour, hour + 10 * MIN)])
    await drive.settle()
    r = await admin.get(f"/api/v1/oee/equipment/{cnc}", params=params)
    got = r.json()
    assert got["planned_production_s"] == 3000 and got["good"] == 50
    r = await admin.get("/api/v1/oee/hours", params={"equipment_id": cnc})
    stored = {datetime.fromisoformat(h["hour"]): h for h in r.json()["items"]}
    assert stored[hour]["calendar_s"] == 3000


async def test_a_machine_with_a_calendar_of_its_own_is_planned_by_it(
    app: FastAPI, admin: httpx.AsyncClient, plant: LivePlant, drive: Drive, base: datetime
) -> None:
    """The line's shift is the window; inside it, a machine with its own calendar (here the
    same shift with a break the line does not have) counts its own planned time, as its stored
    hours and the REST API do."""
    await shift_from(admin, plant, base)
    await shift_from(admin, plant, base, breaks=[(base + 5 * MIN, base + 10 * MIN)],
                     equipment="CNC-1")  # fmt: skip
    await drive.write(
        series("CNC-1.state", base, [(0, RUNNING), (20 * M, RUNNING)])
        + counts("CNC-1.good_count", base, range(20))
        + series("MILL-1.state", base, [(0, RUNNING), (20 * M, RUNNING)])
        + counts("MILL-1.good_count", base, range(20))
    )
    await drive.settle()
    now = base + 15 * MIN

    values = await kpi_at(app, drive, now)
    cnc, mill = values["equipment/CNC-1"], values["equipment/MILL-1"]
    # the first reading of a counter is its baseline: 14 parts in 15 minutes, 5 in the break
    assert cnc["planned_production_s"] == 600 and cnc["good"] == 9  # 5 minutes of break
    assert mill["planned_production_s"] == 900 and mill["good"] == 14  # the line's shift
    assert values["line/L1"]["planned_production_s"] == 1500
    window = {"start": base.isoformat(), "end": now.isoformat()}
    r = await admin.get(f"/api/v1/oee/equipment/{plant.id('CNC-1')}", params=window)
    rest = r.json()
    assert (rest["planned_production_s"], rest["good"]) == (600, 9)
    assert cnc["oee"] == pytest.approx(rest["oee"])
