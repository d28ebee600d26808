"""Reports: production by day/shift/line/item, downtime and scrap Pareto, lead times, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.core.work_orders.helpers import Shop, act, make_order, make_shop
from tests.support.api import AsRoles

DAY = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
START, END = DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()


async def _produce(client: httpx.AsyncClient, shop: Shop) -> dict[str, Any]:
    """An order due on DAY: 12 turned (1 scrap) at 08:00, 10 milled (1 scrap) at 15:00."""
    order = await make_order(client, shop, due_date=DAY.date().isoformat())
    op10, op20 = (o["id"] for o in order["operations"])
    await act(client, order, "release")
    await act(client, order, "start")
    for op, good, scrap, hour, reason in [
        (op10, "12", "1", 8, "chatter"),
        (op20, "10", "1", 15, "burr"),
        (op10, "0", "2", 9, "chatter"),
    ]:
        r = await client.post(
            f"/api/v1/work-orders/{order['id']}/reports",
            json={
                "operation_id": op,
                "good_quantity": good,
                "scrap_quantity": scrap,
                "scrap_reason": reason,
                "reported_at": (DAY + timedelta(hours=hour)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
    return order


async def test_production_by_day_line_item_and_by_shift(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        await _produce(client, shop)
        pattern = await client.post(
            "/api/v1/calendar/shift-patterns",
            json={
                "code": "2SHIFT",
                "name": "two shifts",
                "timezone": "UTC",
                "shifts": [
                    {
                        "code": "A",
                        "name": "Early",
                        "start": "06:00",
                        "end": "14:00",
                        "days": [1, 2, 3, 4, 5, 6, 7],
                    },
                    {
                        "code": "B",
                        "name": "Late",
                        "start": "14:00",
                        "end": "22:00",
                        "days": [1, 2, 3, 4, 5, 6, 7],
                    },
                ],
            },
        )
        await client.post(
            "/api/v1/calendar/assignments",
            json={
                "equipment_id": shop.plant["KNU"]["id"],
                "pattern_id": pattern.json()["id"],
                "valid_from": "2020-01-01",
            },
        )
        by_day = (
            await client.get("/api/v1/reports/production", params={"start": START, "end": END})
        ).json()
        by_shift = (
            await client.get(
                "/api/v1/reports/production",
                params=[
                    ("start", START),
                    ("end", END),
                    ("group_by", "shift"),
                    ("group_by", "line"),
                ],
            )
        ).json()
    [row] = by_day["rows"]
    assert (row["day"], row["line"], row["item"]) == (DAY.date().isoformat(), "L1", "SHAFT")
    assert (row["planned"], row["good"], row["scrap"]) == (20, 10, 4)
    assert (row["yield_pct"], row["attainment_pct"]) == (71.43, 50.0)
    assert by_day["total"]["good"] == 10
    shifts = {r["shift"]: (r["good"], r["scrap"], r["planned"]) for r in by_shift["rows"]}
    assert shifts == {"A": (0, 3, None), "B": (10, 1, None)}


async def test_downtime_and_scrap_pareto(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        await _produce(client, shop)
        reasons: dict[str, int] = {}
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("BD", "category", {}),
            ("BD-TOOL", "reason", {"loss_category": "equipment_failure"}),
            ("SU-CHG", "reason", {"loss_category": "setup_adjustment"}),
            ("BREAK", "reason", {"planned": True}),
        ]
        for code, kind, extra in cases:
            body: dict[str, Any] = {"code": code, "name": code, "kind": kind, **extra}
            if kind == "reason" and code == "BD-TOOL":
                body["parent_id"] = reasons["BD"]
            r = await client.post("/api/v1/downtime/reasons", json=body)
            assert r.status_code == 201, r.text
            reasons[code] = r.json()["id"]
        cnc, mill = shop.plant["CNC-1"]["id"], shop.plant["MILL-1"]["id"]
        for equipment, hour, minutes, reason in [
            (cnc, 1, 30, "BD-TOOL"),
            (cnc, 3, 10, "SU-CHG"),
            (mill, 2, 20, "BD-TOOL"),
            (mill, 5, 15, "BREAK"),
            (mill, 23, 120, "BD-TOOL"),  # only the first hour falls inside the day
        ]:
            start = DAY + timedelta(hours=hour)
            r = await client.post(
                "/api/v1/downtime/events",
                json={
                    "equipment_id": equipment,
                    "start_ts": start.isoformat(),
                    "end_ts": (start + timedelta(minutes=minutes)).isoformat(),
                    "reason_id": reasons[reason],
                },
            )
            assert r.status_code == 201, r.text
        by_reason = (
            await client.get("/api/v1/reports/downtime-pareto", params={"start": START, "end": END})
        ).json()
        by_loss = (
            await client.get(
                "/api/v1/reports/downtime-pareto",
                params={"start": START, "end": END, "by": "loss_category", "include_planned": True},
            )
        ).json()
        on_cnc = (
            await client.get(
                "/api/v1/reports/downtime-pareto",
                params={"start": START, "end": END, "by": "equipment", "equipment_id": cnc},
            )
        ).json()
        scrap = (
            await client.get("/api/v1/reports/scrap-pareto", params={"start": START, "end": END})
        ).json()
    assert [(r["key"], r["count"], r["value"]) for r in by_reason["rows"]] == [
        ("BD-TOOL", 3, (30 + 20 + 60) * 60.0),
        ("SU-CHG", 1, 600.0),
    ]
    assert by_reason["rows"][0]["share_pct"] == round(110 / 120 * 100, 2)
    assert by_reason["rows"][-1]["cumulative_pct"] == 100.0
    assert {r["key"]: r["value"] for r in by_loss["rows"]} == {
        "equipment_failure": 6600.0,
        "planned": 900.0,
        "setup_adjustment": 600.0,
    }
    assert [(r["key"], r["value"]) for r in on_cnc["rows"]] == [("CNC-1", 2400.0)]
    assert [(r["key"], r["value"]) for r in scrap["rows"]] == [("chatter", 3.0), ("burr", 1.0)]


async def test_lead_times_and_csv(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await _produce(client, shop)
        done = await client.post(
            f"/api/v1/work-orders/{order['id']}/complete", json={"location_id": shop.store["id"]}
        )
        assert done.status_code == 200, done.text
        now = datetime.now(UTC)
        window = {
            "start": (now - timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(hours=1)).isoformat(),
        }
        leads = (await client.get("/api/v1/reports/lead-times", params=window)).json()
        exported = await client.get(
            "/api/v1/reports/production", params={"start": START, "end": END, "format": "csv"}
        )
        pareto_csv = await client.get(
            "/api/v1/reports/scrap-pareto", params={"start": START, "end": END, "format": "csv"}
        )
    [row] = leads["rows"]
    assert (row["item"], row["orders"]) == ("SHAFT", 1)
    assert 0 <= row["flow_avg_h"] <= row["lead_avg_h"] < 1
    assert leads["overall"]["orders"] == 1
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert table == [
        {
            "day": DAY.date().isoformat(),
            "line": "L1",
            "item": "SHAFT",
            "planned": "20",
            "good": "10",
            "scrap": "4",
            "yield_pct": "71.43",
            "attainment_pct": "50.0",
        }
    ]
    assert pareto_csv.text.splitlines()[0] == "key,label,count,value,share_pct,cumulative_pct"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("production", {"start": "2026-12-01T00:00:00", "end": END}, 422),
        ("production", {"start": END, "end": START}, 422),
        ("production", {"start": "2024-01-01T00:00:00Z", "end": END}, 422),
        ("production", {"start": START, "end": END, "group_by": "week"}, 422),
        ("production", {"start": START, "end": END, "timezone": "Mars/Base"}, 422),
        ("production", {"start": START, "end": END, "format": "xlsx"}, 422),
        ("downtime-pareto", {"start": START, "end": END, "by": "colour"}, 422),
        ("downtime-pareto", {"start": START, "end": END, "equipment_id": 999999}, 404),
        ("scrap-pareto", {"start": START}, 422),
        ("lead-times", {"start": START, "end": END, "item_id": 0}, 422),
    ],
)
async def test_bad_report_parameters(
    as_roles: AsRoles, path: str, params: dict[str, Any], status: int
) -> None:
    async with as_roles("supervisor") as client:
        r = await client.get(f"/api/v1/reports/{path}", params=params)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] in {"validation_error", "not_found"}


async def test_operators_do_not_read_reports(as_roles: AsRoles) -> None:
    async with as_roles("operator") as client:
        r = await client.get("/api/v1/reports/production", params={"start": START, "end": END})
    assert r.status_code == 403
