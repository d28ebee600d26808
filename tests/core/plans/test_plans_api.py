"""Production plans: lines, release into work orders, life cycle, MRP-lite material check."""

from __future__ import annotations

from typing import Any

import httpx

from tests.core.bom.helpers import make_bom, make_item
from tests.core.equipment.helpers import make_plant
from tests.core.work_orders.helpers import receive
from tests.support.api import AsRoles


async def _plan(
    client: httpx.AsyncClient, lines: list[dict[str, Any]], code: str = "MPS-W49"
) -> dict[str, Any]:
    body = {
        "code": code,
        "name": "Week 49",
        "period_start": "2026-11-30",
        "period_end": "2026-12-06",
        "lines": lines,
    }
    r = await client.post("/api/v1/plans", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_create_validates_lines(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        shaft = await make_item(client, "SHAFT", type="finished")
        plan = await _plan(
            client,
            [
                {
                    "item_id": shaft["id"],
                    "line_id": plant["L1"]["id"],
                    "quantity": "1200",
                    "due_date": "2026-12-04",
                }
            ],
        )
        assert plan["status"] == "draft"
        assert [
            (ln["item_code"], ln["line_code"], ln["quantity"], ln["released_quantity"])
            for ln in plan["lines"]
        ] == [("SHAFT", "L1", 1200, 0)]
        base = {"code": "X", "name": "x", "period_start": "2026-11-30", "period_end": "2026-12-06"}
        cases: list[tuple[dict[str, Any], str]] = [
            (
                {"lines": [{"item_id": shaft["id"], "quantity": 1, "due_date": "2026-12-07"}]},
                "body.lines.0.due_date",
            ),
            (
                {
                    "lines": [
                        {"item_id": shaft["id"], "quantity": 1, "line_id": plant["CNC-1"]["id"]}
                    ]
                },
                "body.lines.0.line_id",
            ),
            ({"lines": [{"item_id": 999999, "quantity": 1}]}, "body.lines.0.item_id"),
            ({"lines": [{"item_id": shaft["id"], "quantity": 0}]}, "body.lines.0.quantity"),
            ({"period_end": "2026-11-01"}, "body"),
        ]
        for change, field in cases:
            r = await client.post("/api/v1/plans", json={**base, **change})
            assert r.status_code == 422, (change, r.text)
            assert field in [d["field"] for d in r.json()["error"]["details"]], r.text
        dup = await client.post("/api/v1/plans", json={**base, "code": "MPS-W49"})
        assert dup.status_code == 409
        assert (await client.get("/api/v1/plans")).json()["total"] == 1


async def test_release_splits_lines_into_work_orders(as_roles: AsRoles) -> None:
    async with as_roles("planner") as planner, as_roles("admin") as admin:
        plant = await make_plant(admin)
        shaft = await make_item(admin, "SHAFT", type="finished")
        plan = await _plan(
            planner,
            [
                {
                    "item_id": shaft["id"],
                    "line_id": plant["L1"]["id"],
                    "quantity": "1200",
                    "due_date": "2026-12-04",
                }
            ],
        )
        r = await planner.post(
            f"/api/v1/plans/{plan['id']}/release",
            json={"batch_size": "500", "release_orders": True},
        )
        assert r.status_code == 200, r.text
        released = r.json()
        again = await planner.post(f"/api/v1/plans/{plan['id']}/release", json={})
        by_plan = (
            await planner.get("/api/v1/work-orders", params={"plan_id": plan["id"], "sort": "id"})
        ).json()
        line_id = plan["lines"][0]["id"]
        lower = await planner.patch(
            f"/api/v1/plans/{plan['id']}/lines/{line_id}", json={"quantity": "1000"}
        )
        gone = await planner.delete(f"/api/v1/plans/{plan['id']}/lines/{line_id}")
        more = await planner.patch(
            f"/api/v1/plans/{plan['id']}/lines/{line_id}", json={"quantity": "1300"}
        )
        extra = await planner.post(f"/api/v1/plans/{plan['id']}/release", json={})
    assert released["plan"]["status"] == "released"
    assert released["plan"]["lines"][0]["released_quantity"] == 1200
    orders = released["work_orders"]
    assert [(o["quantity"], o["status"], o["due_date"], o["line_code"]) for o in orders] == [
        (500, "released", "2026-12-04", "L1"),
        (500, "released", "2026-12-04", "L1"),
        (200, "released", "2026-12-04", "L1"),
    ]
    assert by_plan["total"] == 3
    assert again.status_code == 409
    assert lower.status_code == 422 and gone.status_code == 409
    assert more.status_code == 200
    assert [(o["quantity"], o["status"]) for o in extra.json()["work_orders"]] == [(100, "planned")]


async def test_plan_life_cycle(as_roles: AsRoles) -> None:
    async with as_roles("planner") as client, as_roles("admin") as admin:
        shaft = await make_item(admin, "SHAFT", type="finished")
        draft = await _plan(client, [{"item_id": shaft["id"], "quantity": "5"}])
        renamed = await client.patch(f"/api/v1/plans/{draft['id']}", json={"name": "W49b"})
        assert renamed.json()["name"] == "W49b"
        assert (await client.post(f"/api/v1/plans/{draft['id']}/close")).status_code == 409
        cancelled = await client.post(f"/api/v1/plans/{draft['id']}/cancel")
        assert cancelled.json()["status"] == "cancelled"
        frozen = await client.post(
            f"/api/v1/plans/{draft['id']}/lines", json={"item_id": shaft["id"], "quantity": 1}
        )
        assert frozen.status_code == 409
        other = await _plan(client, [{"item_id": shaft["id"], "quantity": "5"}], code="MPS-W50")
        await client.post(f"/api/v1/plans/{other['id']}/release", json={})
        assert (await client.delete(f"/api/v1/plans/{other['id']}")).status_code == 409
        closed = await client.post(f"/api/v1/plans/{other['id']}/close")
        assert closed.json()["status"] == "closed"
        third = await _plan(client, [], code="MPS-W51")
        assert (await client.delete(f"/api/v1/plans/{third['id']}")).status_code == 204
        listed = (await client.get("/api/v1/plans", params={"status": "closed"})).json()
        assert [p["code"] for p in listed["items"]] == ["MPS-W50"]
        active = (await client.get("/api/v1/plans", params={"active_on": "2026-12-01"})).json()
        assert active["total"] == 2
        assert (await client.get("/api/v1/plans", params={"sort": "x"})).status_code == 422
    async with as_roles("operator") as reader:
        assert (await reader.get(f"/api/v1/plans/{other['id']}")).status_code == 200
        assert (await reader.post(f"/api/v1/plans/{other['id']}/close")).status_code == 403


async def test_material_check_nets_level_by_level(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        pump = await make_item(client, "PUMP", type="finished")
        shaft = await make_item(client, "SHAFT", type="semi_finished")
        housing = await make_item(client, "HOUSING", type="semi_finished")
        bar = await make_item(client, "BAR", unit="m")
        bolt = await make_item(client, "BOLT")
        await make_bom(client, shaft["id"], [(bar["id"], "0.5")])
        await make_bom(client, housing["id"], [(bolt["id"], "4")])
        await make_bom(client, pump["id"], [(shaft["id"], "2", "0.1"), (housing["id"], "1")])
        store = (
            await client.post(
                "/api/v1/inventory/locations",
                json={"code": "WH", "name": "Warehouse", "type": "warehouse"},
            )
        ).json()
        for item, quantity in [(shaft, "5"), (bar, "3"), (bolt, "100")]:
            await receive(client, item, store, quantity)
        other = await client.post(
            "/api/v1/work-orders", json={"item_id": housing["id"], "quantity": "4"}
        )
        assert other.status_code == 201
        plan = await _plan(
            client, [{"item_id": pump["id"], "line_id": plant["L1"]["id"], "quantity": "10"}]
        )
        check = await client.get(f"/api/v1/plans/{plan['id']}/material-check")
        assert check.status_code == 200, check.text
        await client.post(f"/api/v1/plans/{plan['id']}/release", json={})
        after_release = (await client.get(f"/api/v1/plans/{plan['id']}/material-check")).json()
    rows = {
        r["item_code"]: (
            r["level"],
            r["source"],
            r["dependent_demand"],
            r["on_hand"],
            r["open_orders"],
            r["net_requirement"],
            r["shortage"],
        )
        for r in check.json()["rows"]
    }
    assert rows == {
        "PUMP": (0, "make", 0, 0, 0, 10, 0),
        "SHAFT": (1, "make", 22, 5, 0, 17, 0),  # 10 x 2 x 1.1, 5 on hand
        "HOUSING": (1, "make", 10, 0, 4, 6, 0),  # 4 coming from an open order
        "BAR": (2, "buy", 8.5, 3, 0, 5.5, 5.5),  # 17 shafts x 0.5 m
        "BOLT": (2, "buy", 24, 100, 0, 0, 0),  # 6 housings x 4
    }
    assert [s["item_code"] for s in check.json()["shortages"]] == ["BAR"]
    # the plan's own work orders are not counted as supply against the plan
    assert after_release["rows"] == check.json()["rows"]
