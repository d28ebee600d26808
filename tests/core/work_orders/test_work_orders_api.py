"""Work orders: routing copy, state machine, dispatch, quantity reports, validation, RBAC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.core.equipment.helpers import make_equipment
from tests.core.work_orders.helpers import act, make_order, make_shop
from tests.support.api import AsRoles


async def test_created_order_copies_the_routing(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await make_order(client, shop, due_date="2026-12-04")
        transitions = (await client.get(f"/api/v1/work-orders/{order['id']}/transitions")).json()[
            "items"
        ]
    assert order["code"].startswith("WO-") and order["status"] == "planned"
    assert (order["item_code"], order["line_code"], order["quantity"]) == ("SHAFT", "L1", 20)
    ops = [
        (o["sequence"], o["name"], o["equipment_type"], o["status"]) for o in order["operations"]
    ]
    assert ops == [(10, "Turn", "cnc", "pending"), (20, "Mill", "mill", "pending")]
    assert [(t["from_status"], t["to_status"], t["username"]) for t in transitions] == [
        (None, "planned", "Admin")
    ]


async def test_lifecycle_with_reports_is_timestamped_per_user(as_roles: AsRoles) -> None:
    async with as_roles("admin") as admin, as_roles("operator", username="olivia") as operator:
        shop = await make_shop(admin)
        order = await make_order(admin, shop)
        op10, op20 = (o["id"] for o in order["operations"])
        await act(admin, order, "release")
        started = await act(operator, order, "start")
        assert started["actual_start"] is not None
        for op, good, scrap in [(op10, "12", "1"), (op20, "10", "1"), (op10, "0", "2")]:
            r = await operator.post(
                f"/api/v1/work-orders/{order['id']}/reports",
                json={"operation_id": op, "good_quantity": good, "scrap_quantity": scrap},
            )
            assert r.status_code == 201, r.text
        paused = await operator.post(
            f"/api/v1/work-orders/{order['id']}/pause", json={"comment": "tool change"}
        )
        assert paused.json()["status"] == "paused"
        await act(operator, order, "resume")
        current = (await operator.get(f"/api/v1/work-orders/{order['id']}")).json()
        reports = (await operator.get(f"/api/v1/work-orders/{order['id']}/reports")).json()["items"]
        transitions = (await operator.get(f"/api/v1/work-orders/{order['id']}/transitions")).json()[
            "items"
        ]
    assert (current["good_quantity"], current["scrap_quantity"]) == (10, 4)
    op_totals = [
        (o["good_quantity"], o["scrap_quantity"], o["status"]) for o in current["operations"]
    ]
    assert op_totals == [(12, 3, "in_progress"), (10, 1, "in_progress")]
    assert [r["username"] for r in reports] == ["Olivia"] * 3
    assert [(t["to_status"], t["username"]) for t in transitions] == [
        ("planned", "Admin"),
        ("released", "Admin"),
        ("in_progress", "Olivia"),
        ("paused", "Olivia"),
        ("in_progress", "Olivia"),
    ]
    assert transitions[3]["comment"] == "tool change"
    stamps = [datetime.fromisoformat(t["at"]) for t in transitions]
    assert stamps == sorted(stamps)
    assert current["actual_start"] == transitions[2]["at"]


@pytest.mark.parametrize(
    ("steps", "action"),
    [
        ([], "start"),
        ([], "complete"),
        ([], "resume"),
        (["release"], "pause"),
        (["release", "start"], "cancel"),
        (["release", "start"], "resume"),
        (["release", "start"], "release"),
        (["cancel"], "release"),
    ],
)
async def test_invalid_transitions_are_409_and_change_nothing(
    as_roles: AsRoles, steps: list[str], action: str
) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await make_order(client, shop)
        for step in steps:
            await act(client, order, step)
        before = (await client.get(f"/api/v1/work-orders/{order['id']}")).json()
        body = {"location_id": shop.store["id"]} if action == "complete" else None
        r = await client.post(f"/api/v1/work-orders/{order['id']}/{action}", json=body)
        after = (await client.get(f"/api/v1/work-orders/{order['id']}")).json()
        transitions = (await client.get(f"/api/v1/work-orders/{order['id']}/transitions")).json()[
            "items"
        ]
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "invalid_transition"
    assert f"cannot {action}" in r.json()["error"]["message"]
    assert after == before
    assert len(transitions) == 1 + len(steps)


async def test_dispatch_checks_line_type_and_status(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await make_order(client, shop)
        op10, op20 = (o["id"] for o in order["operations"])
        other_line = await make_equipment(client, "L9", "line", shop.plant["MACH"])
        far = await make_equipment(client, "CNC-9", "machine", other_line, type="cnc")
        url = f"/api/v1/work-orders/{order['id']}/dispatch"
        cnc, mill = shop.plant["CNC-1"]["id"], shop.plant["MILL-1"]["id"]
        outside = await client.post(url, json={"equipment_id": far["id"], "operation_id": op10})
        assert outside.status_code == 422 and "not part of L1" in outside.text
        wrong = await client.post(url, json={"equipment_id": mill, "operation_id": op10})
        assert wrong.status_code == 422 and "needs 'cnc'" in wrong.text
        line = await client.post(url, json={"equipment_id": shop.plant["L1"]["id"]})
        assert line.status_code == 422
        ok = await client.post(url, json={"equipment_id": cnc, "operation_id": op10})
        assert ok.status_code == 200, ok.text
        ok2 = await client.post(url, json={"equipment_id": mill, "operation_id": op20})
        assert [o["equipment_code"] for o in ok2.json()["operations"]] == ["CNC-1", "MILL-1"]
        await client.patch(f"/api/v1/equipment/{cnc}", json={"status": "maintenance"})
        down = await client.post(url, json={"equipment_id": cnc})
        assert down.status_code == 409 and "maintenance" in down.text
        whole = await client.post(url, json={"equipment_id": mill})
        assert whole.json()["equipment_code"] == "MILL-1"
        await act(client, order, "release")
        await act(client, order, "start")
        r = await client.post(
            f"/api/v1/work-orders/{order['id']}/reports",
            json={"operation_id": op20, "good_quantity": 1},
        )
        assert r.json()["equipment_id"] == mill  # defaults to the operation's machine


async def test_report_validation(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await make_order(client, shop)
        url = f"/api/v1/work-orders/{order['id']}/reports"
        op10 = order["operations"][0]["id"]
        early = await client.post(url, json={"operation_id": op10, "good_quantity": 1})
        assert early.status_code == 409
        await act(client, order, "release")
        await act(client, order, "start")
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        cases: list[tuple[dict[str, Any], str]] = [
            ({"good_quantity": 1}, "body.operation_id"),
            ({"operation_id": 999999, "good_quantity": 1}, "body.operation_id"),
            ({"operation_id": op10}, "body"),
            ({"operation_id": op10, "good_quantity": -1}, "body.good_quantity"),
            ({"operation_id": op10, "good_quantity": 1, "reported_at": future}, "body.reported_at"),
            ({"operation_id": op10, "good_quantity": 1, "source": "robot"}, "body.source"),
        ]
        for body, field in cases:
            r = await client.post(url, json=body)
            assert r.status_code == 422, (body, r.text)
            assert field in [d["field"] for d in r.json()["error"]["details"]], (body, r.text)
        assert (await client.get(url)).json()["total"] == 0
        done = await client.get(f"/api/v1/work-orders/{order['id']}")
        assert done.json()["good_quantity"] == 0


async def test_edit_and_delete_rules(as_roles: AsRoles) -> None:
    async with as_roles("planner") as planner, as_roles("admin") as admin:
        shop = await make_shop(admin)
        order = await make_order(planner, shop)
        patched = await planner.patch(
            f"/api/v1/work-orders/{order['id']}", json={"quantity": "30", "priority": 10}
        )
        assert (patched.json()["quantity"], patched.json()["priority"]) == (30, 10)
        bad_window = await planner.patch(
            f"/api/v1/work-orders/{order['id']}",
            json={"planned_start": "2026-12-02T06:00:00Z", "planned_end": "2026-12-01T06:00:00Z"},
        )
        assert bad_window.status_code == 422
        not_line = await planner.patch(
            f"/api/v1/work-orders/{order['id']}", json={"line_id": shop.plant["CNC-1"]["id"]}
        )
        assert not_line.status_code == 422
        await act(planner, order, "release")
        await act(admin, order, "start")
        frozen = await planner.patch(f"/api/v1/work-orders/{order['id']}", json={"priority": 1})
        assert frozen.status_code == 409
        assert (await planner.delete(f"/api/v1/work-orders/{order['id']}")).status_code == 409
        spare = await make_order(planner, shop, code="WO-MANUAL-1")
        assert spare["code"] == "WO-MANUAL-1"
        dup = await planner.post(
            "/api/v1/work-orders",
            json={"item_id": shop.shaft["id"], "quantity": 1, "code": "WO-MANUAL-1"},
        )
        assert dup.status_code == 409
        assert (await planner.delete(f"/api/v1/work-orders/{spare['id']}")).status_code == 204
        assert (await planner.get(f"/api/v1/work-orders/{spare['id']}")).status_code == 404


async def test_roles(as_roles: AsRoles) -> None:
    async with as_roles("admin") as admin:
        shop = await make_shop(admin)
        order = await make_order(admin, shop)
    async with as_roles("operator") as operator:
        assert (
            await operator.post(f"/api/v1/work-orders/{order['id']}/release")
        ).status_code == 403
        assert (
            await operator.post(
                "/api/v1/work-orders", json={"item_id": shop.shaft["id"], "quantity": 1}
            )
        ).status_code == 403
    async with as_roles("planner") as planner:
        await act(planner, order, "release")
        assert (await planner.post(f"/api/v1/work-orders/{order['id']}/start")).status_code == 403
    async with as_roles("quality") as quality:
        assert (await quality.get(f"/api/v1/work-orders/{order['id']}")).status_code == 200


async def test_list_search_filters_and_sort(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        orders = [
            await make_order(client, shop, quantity=str(q), due_date=f"2026-12-0{q}")
            for q in (1, 2, 3)
        ]
        await act(client, orders[0], "release")
        await act(client, orders[1], "cancel")
        many = await client.get(
            "/api/v1/work-orders", params=[("status", "planned"), ("status", "released")]
        )
        assert [o["quantity"] for o in many.json()["items"]] == [3, 1]
        due = await client.get(
            "/api/v1/work-orders", params={"due_from": "2026-12-02", "sort": "due_date"}
        )
        assert [o["quantity"] for o in due.json()["items"]] == [2, 3]
        found = await client.get("/api/v1/work-orders", params={"q": orders[2]["code"]})
        assert found.json()["total"] == 1
        by_item = await client.get("/api/v1/work-orders", params={"q": "shaft"})
        assert by_item.json()["total"] == 3
        assert (await client.get("/api/v1/work-orders", params={"sort": "x"})).status_code == 422
        assert (
            await client.get("/api/v1/work-orders", params={"status": "lost"})
        ).status_code == 422
        assert (await client.get("/api/v1/work-orders/999999")).status_code == 404
        missing = await client.post("/api/v1/work-orders/999999/start")
        assert missing.status_code == 404


async def test_reports_search_filter_sort_and_page(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await make_order(client, shop)
        op10, op20 = (o["id"] for o in order["operations"])
        cnc, mill = shop.plant["CNC-1"]["id"], shop.plant["MILL-1"]["id"]
        await act(client, order, "release")
        await act(client, order, "start")
        url = f"/api/v1/work-orders/{order['id']}/reports"
        now = datetime.now(UTC)
        ids = {}
        for name, minutes_ago, body in [
            ("a", 30, {"operation_id": op10, "good_quantity": 5, "equipment_id": cnc}),
            (
                "b",
                50,
                {
                    "operation_id": op20,
                    "good_quantity": 3,
                    "scrap_quantity": 2,
                    "scrap_reason": "chatter marks",
                    "equipment_id": mill,
                },
            ),
            ("c", 10, {"operation_id": op10, "good_quantity": 7, "comment": "after the chatter"}),
        ]:
            at = (now - timedelta(minutes=minutes_ago)).isoformat()
            r = await client.post(url, json={**body, "reported_at": at})
            assert r.status_code == 201, r.text
            ids[r.json()["id"]] = name

        async def names(**params: Any) -> tuple[list[str], int]:
            r = await client.get(url, params=params)
            assert r.status_code == 200, r.text
            return [ids[x["id"]] for x in r.json()["items"]], r.json()["total"]

        assert await names() == (["b", "a", "c"], 3)  # in time order, as before
        assert await names(q="chatter") == (["b", "c"], 2)  # scrap reason, comment
        assert await names(q="mill") == (["b"], 1)  # operation name and equipment code
        assert await names(q="cnc-1") == (["a"], 1)  # c has no equipment
        assert await names(q="admin") == (["b", "a", "c"], 3)  # username
        assert await names(operation_id=op10) == (["a", "c"], 2)
        assert await names(equipment_id=mill) == (["b"], 1)
        assert await names(source="auto") == ([], 0)
        assert await names(sort="good_quantity") == (["b", "a", "c"], 3)
        assert await names(sort="-good_quantity") == (["c", "a", "b"], 3)
        assert await names(sort="-reported_at", limit=2) == (["c", "a"], 3)
        assert await names(sort="-reported_at", limit=2, offset=2) == (["b"], 3)
        assert await names(q="chatter", limit=1, offset=1) == (["c"], 2)
        bad = await client.get(url, params={"sort": "weight"})
        assert bad.status_code == 422
        assert [d["field"] for d in bad.json()["error"]["details"]] == ["query.sort"]
        assert (await client.get(url, params={"source": "robot"})).status_code == 422
        missing = await client.get("/api/v1/work-orders/999999/reports")
        assert missing.status_code == 404


async def test_transitions_search_filter_sort_and_page(as_roles: AsRoles) -> None:
    async with as_roles("admin") as admin, as_roles("operator", username="olivia") as operator:
        shop = await make_shop(admin)
        order = await make_order(admin, shop)
        await act(admin, order, "release")
        await act(operator, order, "start")
        r = await operator.post(
            f"/api/v1/work-orders/{order['id']}/pause", json={"comment": "tool change"}
        )
        assert r.status_code == 200, r.text
        await act(operator, order, "resume")
        url = f"/api/v1/work-orders/{order['id']}/transitions"

        async def steps(**params: Any) -> tuple[list[str], int]:
            r = await admin.get(url, params=params)
            assert r.status_code == 200, r.text
            return [t["to_status"] for t in r.json()["items"]], r.json()["total"]

        everything = ["planned", "released", "in_progress", "paused", "in_progress"]
        assert await steps() == (everything, 5)  # oldest first, as before
        assert await steps(q="olivia") == (["in_progress", "paused", "in_progress"], 3)
        assert await steps(q="TOOL") == (["paused"], 1)  # comment
        assert await steps(q="paus") == (["paused", "in_progress"], 2)  # from or to status
        assert await steps(to_status="in_progress") == (["in_progress", "in_progress"], 2)
        assert await steps(from_status="released") == (["in_progress"], 1)
        assert await steps(sort="-id") == (everything[::-1], 5)
        assert await steps(sort="to_status,id") == (
            ["in_progress", "in_progress", "paused", "planned", "released"],
            5,
        )
        assert await steps(sort="-at", limit=2) == (["in_progress", "paused"], 5)
        assert await steps(limit=2, offset=4) == (["in_progress"], 5)
        assert await steps(q="olivia", limit=1, offset=1) == (["paused"], 3)
        bad = await admin.get(url, params={"sort": "colour"})
        assert bad.status_code == 422
        assert [d["field"] for d in bad.json()["error"]["details"]] == ["query.sort"]
        assert (await admin.get(url, params={"to_status": "lost"})).status_code == 422
        missing = await admin.get("/api/v1/work-orders/999999/transitions")
        assert missing.status_code == 404
