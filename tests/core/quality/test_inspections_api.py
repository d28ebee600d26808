"""Inspections: subjects, results with automatic pass/fail, verdicts, all-or-nothing batches,
concurrent recording."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from tests.core.inventory.helpers import lot_by_code, make_item, make_location, receive
from tests.core.quality.helpers import NewOrder, characteristic, make_plan, record, start
from tests.support.api import AsRoles


@pytest.fixture
async def plan(as_roles: AsRoles) -> dict[str, Any]:
    async with as_roles("admin") as client:
        return await make_plan(client)


async def test_results_pass_or_fail_and_decide_the_inspection(
    as_roles: AsRoles, plan: dict[str, Any], new_order: NewOrder
) -> None:
    od, burr = characteristic(plan, "OD"), characteristic(plan, "BURR")
    first_order, second_order = await new_order(plan["item_id"]), await new_order(plan["item_id"])
    async with as_roles("operator", username="otto") as client:
        inspection = await start(client, plan, work_order_id=first_order)
        assert (inspection["status"], inspection["samples_required"], inspection["inspector"]) == (
            "open",
            4,
            "Otto",
        )
        first = await record(
            client,
            inspection,
            [
                {"characteristic_id": od["id"], "value": "19.95"},
                {"characteristic_id": od["id"], "value": "20.05"},
                {"characteristic_id": burr["id"], "passed": True},
            ],
        )
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["status"] == "open" and body["samples_recorded"] == 3
        assert [
            (r["sample_no"], r["passed"])
            for r in body["results"]
            if r["characteristic_id"] == od["id"]
        ] == [(1, True), (2, True)]
        last = await record(
            client, inspection, [{"characteristic_id": od["id"], "value": "20.051"}]
        )
        assert last.status_code == 200, last.text
        done = last.json()
        assert done["status"] == "failed" and done["completed_at"] is not None
        assert done["failed_results"] == 1 and done["results"][2]["sample_no"] == 3
        late = await record(client, inspection, [{"characteristic_id": burr["id"], "passed": True}])
        assert late.status_code == 409 and "failed" in late.json()["error"]["message"]
        passing = await start(client, plan, work_order_id=second_order)
        ok = await record(
            client,
            passing,
            [{"characteristic_id": od["id"], "value": v} for v in (20, "19.99", "20.01")]
            + [{"characteristic_id": burr["id"], "passed": True}],
        )
        assert ok.json()["status"] == "passed"
    async with as_roles("supervisor") as auditor:
        events = (
            await auditor.get(
                "/api/v1/audit", params={"entity": "inspection", "entity_id": inspection["id"]}
            )
        ).json()["items"]
    assert [e["action"] for e in events] == ["transition", "results", "results", "create"]
    assert (events[0]["before"]["status"], events[0]["after"]["status"]) == ("open", "failed")


@pytest.mark.parametrize(
    ("result", "status", "field"),
    [
        ({"value": 20}, 422, "body.results.1.characteristic_id"),  # characteristic of another plan
        ({"code": "OD"}, 422, "body.results.1.value"),
        ({"code": "OD", "value": 20, "passed": True}, 422, "body.results.1.passed"),
        ({"code": "BURR"}, 422, "body.results.1.passed"),
        ({"code": "BURR", "passed": False, "value": 1}, 422, "body.results.1.value"),
        ({"code": "OD", "value": 20, "sample_no": 4}, 422, "body.results.1.sample_no"),
        ({"code": "OD", "value": 20, "sample_no": 1}, 409, "body.results.1.sample_no"),
    ],
)
async def test_a_bad_result_rejects_the_whole_batch(
    as_roles: AsRoles,
    plan: dict[str, Any],
    new_order: NewOrder,
    result: dict[str, Any],
    status: int,
    field: str,
) -> None:
    order = await new_order(plan["item_id"])
    async with as_roles("admin") as client:
        other = await make_plan(client, {"id": plan["item_id"]}, code="QP-OTHER")
        inspection = await start(client, plan, work_order_id=order)
        ids = {c["code"]: c["id"] for c in plan["characteristics"]}
        code = result.pop("code", None)
        second = {
            "characteristic_id": ids[code] if code else characteristic(other, "OD")["id"],
            **result,
        }
        first = {"characteristic_id": ids["OD"], "value": 20, "sample_no": 1}
        r = await record(client, inspection, [first, second])
        assert r.status_code == status, r.text
        assert r.json()["error"]["details"][0]["field"] == field
        after = (await client.get(f"/api/v1/quality/inspections/{inspection['id']}")).json()
        assert after["results"] == [] and after["status"] == "open"


async def test_inspection_subjects(as_roles: AsRoles, plan: dict[str, Any]) -> None:
    async with as_roles("admin") as client:
        store = await make_location(client, "STORE")
        await receive(client, {"id": plan["item_id"]}, store, 10, "SH-1")
        lot = await lot_by_code(client, plan["item_id"], "SH-1")
        other = await make_item(client, "OTHER")
        await receive(client, other, store, 1, "OT-1")
        other_lot = await lot_by_code(client, other["id"], "OT-1")
        by_lot = await start(client, plan, lot_id=lot["id"])
        assert by_lot["lot_id"] == lot["id"] and by_lot["work_order_id"] is None
        cases = [
            ({}, 422),
            ({"lot_id": other_lot["id"]}, 422),
            ({"lot_id": 999999}, 404),
            ({"plan_id": 999999, "work_order_id": 1}, 404),
            ({"work_order_id": 999999}, 404),
        ]
        for body, status in cases:
            r = await client.post(
                "/api/v1/quality/inspections", json={"plan_id": plan["id"], **body}
            )
            assert r.status_code == status, (body, r.text)
        empty = await make_plan(
            client, {"id": plan["item_id"]}, code="QP-EMPTY", characteristics=[]
        )
        r = await client.post(
            "/api/v1/quality/inspections", json={"plan_id": empty["id"], "work_order_id": 1}
        )
        assert r.status_code == 409
        await client.patch(f"/api/v1/quality/plans/{plan['id']}", json={"active": False})
        r = await client.post(
            "/api/v1/quality/inspections", json={"plan_id": plan["id"], "work_order_id": 1}
        )
        assert r.status_code == 409 and "inactive" in r.json()["error"]["message"]
        listed = (
            await client.get("/api/v1/quality/inspections", params={"lot_id": lot["id"]})
        ).json()
        assert [i["id"] for i in listed["items"]] == [by_lot["id"]]
        assert (await client.get("/api/v1/quality/inspections/999999")).status_code == 404


async def test_list_inspections_by_status(
    as_roles: AsRoles, plan: dict[str, Any], new_order: NewOrder
) -> None:
    burr = characteristic(plan, "BURR")
    five, six = await new_order(plan["item_id"]), await new_order(plan["item_id"])
    single = {"id": plan["item_id"]}
    async with as_roles("admin") as client:
        quick = await make_plan(
            client,
            single,
            code="QP-QUICK",
            characteristics=[{**{k: v for k, v in burr.items() if k in ("code", "name", "kind")}}],
        )
        first = await start(client, quick, work_order_id=five)
        second = await start(client, quick, work_order_id=six)
        await start(client, plan, work_order_id=six)
        quick_burr = characteristic(quick, "BURR")
        await record(client, first, [{"characteristic_id": quick_burr["id"], "passed": True}])
        await record(client, second, [{"characteristic_id": quick_burr["id"], "passed": False}])
        for status, expected in (("passed", [first["id"]]), ("failed", [second["id"]])):
            page = (
                await client.get("/api/v1/quality/inspections", params={"status": status})
            ).json()
            assert [i["id"] for i in page["items"]] == expected
        wo6 = (
            await client.get(
                "/api/v1/quality/inspections", params={"work_order_id": six, "sort": "id"}
            )
        ).json()
        assert wo6["total"] == 2
        assert (
            await client.get("/api/v1/quality/inspections", params={"status": "maybe"})
        ).status_code == 422


async def test_parallel_recording_of_one_sample_keeps_one(
    as_roles: AsRoles, plan: dict[str, Any], new_order: NewOrder
) -> None:
    od = characteristic(plan, "OD")
    order = await new_order(plan["item_id"])
    async with as_roles("quality") as client:
        inspection = await start(client, plan, work_order_id=order)
        responses = await asyncio.gather(
            *(
                record(
                    client,
                    inspection,
                    [{"characteristic_id": od["id"], "value": 20, "sample_no": 2}],
                )
                for _ in range(10)
            )
        )
        assert Counter(r.status_code for r in responses) == {200: 1, 409: 9}
        auto = await asyncio.gather(
            *(
                record(client, inspection, [{"characteristic_id": od["id"], "value": 20}])
                for _ in range(6)
            )
        )
        assert Counter(r.status_code for r in auto) == {200: 2, 422: 4}
        final = (await client.get(f"/api/v1/quality/inspections/{inspection['id']}")).json()
        assert sorted(r["sample_no"] for r in final["results"]) == [1, 2, 3]


async def test_list_inspections_search_sort_and_page(
    as_roles: AsRoles, plan: dict[str, Any], new_order: NewOrder
) -> None:
    five, six = await new_order(plan["item_id"]), await new_order(plan["item_id"])
    burr = {k: v for k, v in characteristic(plan, "BURR").items() if k in ("code", "name", "kind")}
    async with as_roles("admin") as client:
        gauge = await make_plan(
            client, {"id": plan["item_id"]}, code="QP-GAUGE", characteristics=[burr]
        )
        store = await make_location(client, "STORE")
        await receive(client, {"id": plan["item_id"]}, store, 10, "SH-77")
        lot = await lot_by_code(client, plan["item_id"], "SH-77")
        five_code = (await client.get(f"/api/v1/work-orders/{five}")).json()["code"]
        made = [
            await start(client, plan, work_order_id=five),
            await start(client, gauge, lot_id=lot["id"]),
            await start(client, gauge, work_order_id=six),
        ]
        names = {m["id"]: name for m, name in zip(made, "abc", strict=True)}

        async def found(**params: Any) -> tuple[list[str], int]:
            r = await client.get("/api/v1/quality/inspections", params=params)
            assert r.status_code == 200, r.text
            return [names[i["id"]] for i in r.json()["items"]], r.json()["total"]

        assert await found() == (["c", "b", "a"], 3)  # newest first
        assert await found(q=five_code.lower()) == (["a"], 1)  # the work order's code
        assert await found(q="sh-77") == (["b"], 1)  # the lot's code
        assert await found(q="qp-gauge", sort="id") == (["b", "c"], 2)  # the plan's code
        assert await found(q="Plan QP-SHAFT") == (["a"], 1)  # the plan's name
        assert await found(q="admin") == (["c", "b", "a"], 3)  # the inspector, as before
        assert await found(q="nothing like it") == ([], 0)
        assert await found(q="gauge", plan_id=gauge["id"], work_order_id=six) == (["c"], 1)
        assert await found(sort="id", limit=2) == (["a", "b"], 3)
        assert await found(sort="-id", limit=2, offset=2) == (["a"], 3)
        assert await found(q="qp-", sort="id", limit=1, offset=1) == (["b"], 3)
        bad = await client.get("/api/v1/quality/inspections", params={"sort": "plan"})
        assert bad.status_code == 422
        assert [d["field"] for d in bad.json()["error"]["details"]] == ["query.sort"]
