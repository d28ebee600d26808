"""Calendar API: patterns, assignments up the hierarchy, planned time, shift lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from core.calendar import service
from core.calendar.schemas import SHIFTS_EXAMPLE
from tests.core.equipment.helpers import make_equipment, make_plant
from tests.support.api import AsRoles

SEOUL = "+09:00"


async def _pattern(
    client: httpx.AsyncClient, code: str, shifts: list[dict[str, Any]]
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/calendar/shift-patterns",
        json={"code": code, "name": code, "timezone": "Asia/Seoul", "shifts": shifts},
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def _assign(
    client: httpx.AsyncClient, equipment: dict[str, Any], pattern: dict[str, Any], **dates: str
) -> httpx.Response:
    body = {"equipment_id": equipment["id"], "pattern_id": pattern["id"], **dates}
    return await client.post("/api/v1/calendar/assignments", json=body)


async def _planned(
    client: httpx.AsyncClient, equipment: dict[str, Any], start: str, end: str
) -> dict[str, Any]:
    r = await client.get(
        "/api/v1/calendar/planned-time",
        params={"equipment_id": equipment["id"], "start": start, "end": end},
    )
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_three_shifts_with_breaks_over_a_day(as_roles: AsRoles) -> None:
    async with as_roles("planner") as planner, as_roles("engineer") as engineer:
        plant = await make_plant(engineer)
        three = await _pattern(planner, "3SHIFT", SHIFTS_EXAMPLE)
        assert [s["planned_minutes"] for s in three["shifts"]] == [450, 450, 450]
        r = await _assign(planner, plant["KNU"], three, valid_from="2026-01-01")
        assert r.status_code == 201, r.text
        tuesday = await _planned(
            planner, plant["CNC-1"], f"2026-12-01T00:00:00{SEOUL}", f"2026-12-02T00:00:00{SEOUL}"
        )
        monday = await _planned(
            planner, plant["CNC-1"], f"2026-11-30T00:00:00{SEOUL}", f"2026-12-01T00:00:00{SEOUL}"
        )
        saturday = await _planned(
            planner, plant["CNC-1"], f"2026-12-05T06:00:00{SEOUL}", f"2026-12-06T00:00:00{SEOUL}"
        )
    # Monday's night shift until 06:00 minus its break, A and B, and Tuesday's night until 24:00
    assert tuesday["planned_seconds"] == (330 + 450 + 450 + 120) * 60
    assert [(s["shift_code"], s["day"]) for s in tuesday["shifts"]] == [
        ("C", "2026-11-30"),
        ("A", "2026-12-01"),
        ("B", "2026-12-01"),
        ("C", "2026-12-01"),
    ]
    assert monday["planned_seconds"] == (450 + 450 + 120) * 60  # no Sunday night shift
    assert saturday["planned_seconds"] == 0


async def test_nearest_assignment_up_the_hierarchy_wins(app: FastAPI, as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        other_line = await make_equipment(client, "L2", "line", plant["MACH"])
        three = await _pattern(client, "3SHIFT", SHIFTS_EXAMPLE)
        two = await _pattern(client, "2SHIFT", SHIFTS_EXAMPLE[:2])
        assert (
            await _assign(client, plant["KNU"], three, valid_from="2026-01-01")
        ).status_code == 201
        r = await _assign(client, plant["L1"], two, valid_from="2026-12-02", valid_to="2026-12-04")
        assert r.status_code == 201, r.text
        start, end = f"2026-12-01T00:00:00{SEOUL}", f"2026-12-05T00:00:00{SEOUL}"
        on_l1 = await _planned(client, plant["CNC-1"], start, end)
        on_l2 = await _planned(client, other_line, start, end)
        clash = await _assign(client, plant["L1"], three, valid_from="2026-12-03")
    days = {(s["day"], s["pattern_code"]) for s in on_l1["shifts"]}
    assert ("2026-12-02", "2SHIFT") in days and ("2026-12-03", "2SHIFT") in days
    assert ("2026-12-01", "3SHIFT") in days and ("2026-12-04", "3SHIFT") in days
    assert on_l2["planned_seconds"] - on_l1["planned_seconds"] == 2 * 450 * 60  # two nights less
    assert clash.status_code == 409
    async with app.state.db.sessions() as session:
        seconds = await service.planned_production_time(
            session=session,
            equipment_id=plant["CNC-1"]["id"],
            start=datetime.fromisoformat(start),
            end=datetime.fromisoformat(end),
        )
    assert seconds == timedelta(seconds=on_l1["planned_seconds"])


async def test_shift_at_and_breaks(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        three = await _pattern(client, "3SHIFT", SHIFTS_EXAMPLE)
        await _assign(client, plant["L1"], three, valid_from="2026-01-01")

        async def at(moment: str) -> dict[str, Any]:
            r = await client.get(
                "/api/v1/calendar/shift-at",
                params={"equipment_id": plant["MILL-1"]["id"], "at": moment},
            )
            assert r.status_code == 200, r.text
            result: dict[str, Any] = r.json()
            return result

        in_break = await at(f"2026-12-01T02:15:00{SEOUL}")
        working = await at(f"2026-12-01T10:45:00{SEOUL}")
        weekend = await at(f"2026-12-05T12:00:00{SEOUL}")
        above = await client.get(
            "/api/v1/calendar/shift-at",
            params={"equipment_id": plant["MACH"]["id"], "at": f"2026-12-01T10:45:00{SEOUL}"},
        )
    assert (in_break["shift"]["shift_code"], in_break["shift"]["day"], in_break["in_break"]) == (
        "C",
        "2026-11-30",
        True,
    )
    assert (working["shift"]["shift_code"], working["in_break"]) == ("A", False)
    assert working["shift"]["planned_seconds"] == 450 * 60
    assert weekend["shift"] is None
    assert above.json()["shift"] is None  # the area is above the line's assignment


async def test_non_working_period_removes_planned_time(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        three = await _pattern(client, "3SHIFT", SHIFTS_EXAMPLE)
        await _assign(client, plant["KNU"], three, valid_from="2026-01-01")
        start, end = f"2026-12-01T00:00:00{SEOUL}", f"2026-12-02T00:00:00{SEOUL}"
        r = await client.post(
            f"/api/v1/calendar/shift-patterns/{three['id']}/non-working",
            json={"start_ts": start, "end_ts": end, "reason": "Founders day"},
        )
        assert r.status_code == 201, r.text
        holiday = await _planned(client, plant["CNC-1"], start, end)
        listed = (
            await client.get(f"/api/v1/calendar/shift-patterns/{three['id']}/non-working")
        ).json()
        removed = await client.delete(
            f"/api/v1/calendar/shift-patterns/{three['id']}/non-working/{listed[0]['id']}"
        )
        back = await _planned(client, plant["CNC-1"], start, end)
    assert holiday["planned_seconds"] == 0
    assert removed.status_code == 204
    assert back["planned_seconds"] == 1350 * 60


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"shifts": [SHIFTS_EXAMPLE[0], {**SHIFTS_EXAMPLE[1], "start": "13:00"}]}, "overlap"),
        (
            {
                "shifts": [
                    {
                        **SHIFTS_EXAMPLE[0],
                        "breaks": [{"name": "x", "start": "15:00", "end": "15:30"}],
                    }
                ]
            },
            "outside the shift",
        ),
        ({"shifts": [SHIFTS_EXAMPLE[0], SHIFTS_EXAMPLE[0]]}, "unique"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"shifts": [{**SHIFTS_EXAMPLE[0], "days": [1, 1]}]}, "repeat"),
        ({"shifts": [{**SHIFTS_EXAMPLE[0], "days": [8]}]}, "less than or equal to 7"),
        ({"shifts": [{**SHIFTS_EXAMPLE[0], "start": "06:00:30"}]}, "whole minutes"),
    ],
)
async def test_bad_patterns_are_422_and_change_nothing(
    as_roles: AsRoles, change: dict[str, Any], reason: str
) -> None:
    async with as_roles("planner") as client:
        body = {"code": "P", "name": "p", "timezone": "Asia/Seoul", **change}
        r = await client.post("/api/v1/calendar/shift-patterns", json=body)
        assert r.status_code == 422, r.text
        assert reason in r.text
        assert (await client.get("/api/v1/calendar/shift-patterns")).json()["total"] == 0


async def test_bad_queries_and_pattern_maintenance(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        three = await _pattern(client, "3SHIFT", SHIFTS_EXAMPLE)
        await _assign(client, plant["KNU"], three, valid_from="2026-01-01")
        url = "/api/v1/calendar/planned-time"
        eq = plant["CNC-1"]["id"]
        for params, status in [
            (
                {"equipment_id": eq, "start": "2026-12-01T00:00:00", "end": "2026-12-02T00:00:00Z"},
                422,
            ),
            (
                {
                    "equipment_id": eq,
                    "start": "2026-12-02T00:00:00Z",
                    "end": "2026-12-01T00:00:00Z",
                },
                422,
            ),
            (
                {
                    "equipment_id": eq,
                    "start": "2026-01-01T00:00:00Z",
                    "end": "2027-06-01T00:00:00Z",
                },
                422,
            ),
            (
                {
                    "equipment_id": 999999,
                    "start": "2026-12-01T00:00:00Z",
                    "end": "2026-12-02T00:00:00Z",
                },
                404,
            ),
            ({"equipment_id": eq, "start": "yesterday", "end": "2026-12-02T00:00:00Z"}, 422),
            (
                {
                    "equipment_id": eq,
                    "start": "0001-01-01T00:00:00Z",
                    "end": "0001-01-02T00:00:00Z",
                },
                422,
            ),
            (
                {
                    "equipment_id": eq,
                    "start": "9999-12-30T00:00:00Z",
                    "end": "9999-12-31T00:00:00Z",
                },
                422,
            ),
        ]:
            r = await client.get(url, params=params)
            assert r.status_code == status, (params, r.text)
        in_use = await client.delete(f"/api/v1/calendar/shift-patterns/{three['id']}")
        assert in_use.status_code == 409
        replaced = await client.put(
            f"/api/v1/calendar/shift-patterns/{three['id']}/shifts",
            json={"shifts": SHIFTS_EXAMPLE[:1]},
        )
        assert [s["code"] for s in replaced.json()["shifts"]] == ["A"]
        day = await _planned(
            client, plant["CNC-1"], "2026-12-01T00:00:00+09:00", "2026-12-02T00:00:00+09:00"
        )
        assert day["planned_seconds"] == 450 * 60
        listed = (await client.get("/api/v1/calendar/assignments", params={"q": "KNU"})).json()
        assert [a["pattern_code"] for a in listed["items"]] == ["3SHIFT"]
        ended = await client.post(
            f"/api/v1/calendar/assignments/{listed['items'][0]['id']}/end",
            json={"valid_to": "2026-12-01"},
        )
        assert ended.json()["valid_to"] == "2026-12-01"
        gone = await _planned(
            client, plant["CNC-1"], "2026-12-01T00:00:00+09:00", "2026-12-02T00:00:00+09:00"
        )
        assert gone["planned_seconds"] == 0
        assert (
            await client.delete(f"/api/v1/calendar/assignments/{listed['items'][0]['id']}")
        ).status_code == 204
        assert (
            await client.delete(f"/api/v1/calendar/shift-patterns/{three['id']}")
        ).status_code == 204
    async with as_roles("operator") as operator:
        assert (await operator.get("/api/v1/calendar/shift-patterns")).status_code == 200
        denied = await operator.post(
            "/api/v1/calendar/shift-patterns",
            json={"code": "X", "name": "x", "timezone": "UTC"},
        )
        assert denied.status_code == 403


async def test_planned_time_uses_a_fixed_number_of_queries(app: FastAPI, as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        three = await _pattern(client, "3SHIFT", SHIFTS_EXAMPLE)
        await _assign(client, plant["KNU"], three, valid_from="2026-01-01")
    from sqlalchemy import event

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with app.state.db.sessions() as session:
            start = datetime(2026, 1, 5, tzinfo=UTC)
            await service.planned_production_time(
                session=session,
                equipment_id=plant["CNC-1"]["id"],
                start=start,
                end=start + timedelta(days=1),
            )
            one_day = len(statements)
            year = await service.planned_production_time(
                session=session,
                equipment_id=plant["CNC-1"]["id"],
                start=start,
                end=start + timedelta(days=364),
            )
            whole_year = len(statements) - one_day
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert whole_year <= one_day
    assert year == timedelta(minutes=1350 * 5 * 52)  # 52 full weeks, Monday 00:00 UTC start
