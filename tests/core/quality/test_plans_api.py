"""Inspection plans and characteristics: create with validation, change, delete rules, list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.core.inventory.helpers import make_item
from tests.core.quality.helpers import (
    BURR,
    OD,
    NewOrder,
    characteristic,
    make_plan,
    record,
    start,
)
from tests.support.api import AsRoles


async def routing_operation(client: httpx.AsyncClient, item_id: int) -> int:
    """The id of the single operation of a new routing for the item."""
    r = await client.post(
        "/api/v1/routings",
        json={
            "item_id": item_id,
            "name": "Standard",
            "operations": [
                {
                    "sequence": 10,
                    "name": "Turning",
                    "equipment_type": "cnc",
                    "ideal_cycle_time_s": 30,
                }
            ],
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["operations"][0]["id"])


async def test_create_get_update_plan(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plan = await make_plan(client)
        turning = await routing_operation(client, plan["item_id"])
        other_item = await make_item(client, "OTHER")
        elsewhere = await routing_operation(client, other_item["id"])
    assert [c["code"] for c in plan["characteristics"]] == ["OD", "BURR"]
    od = characteristic(plan, "OD")
    assert (od["lsl"], od["usl"], od["target"], od["sample_size"]) == (19.95, 20.05, 20, 3)
    burr = characteristic(plan, "BURR")
    assert (burr["lsl"], burr["sample_size"], burr["kind"]) == (None, 1, "attribute")
    async with as_roles("quality") as client:
        got = await client.get(f"/api/v1/quality/plans/{plan['id']}")
        assert got.json() == plan
        url = f"/api/v1/quality/plans/{plan['id']}"
        patched = await client.patch(url, json={"name": "Final check", "operation_id": turning})
        assert patched.status_code == 200, patched.text
        assert (patched.json()["name"], patched.json()["operation_id"]) == ("Final check", turning)
        foreign = await client.patch(url, json={"operation_id": elsewhere})
        assert foreign.status_code == 422
        assert foreign.json()["error"]["details"][0]["field"] == "body.operation_id"
        missing = await client.patch(url, json={"operation_id": 999999})
        assert missing.status_code == 404
    async with as_roles("supervisor") as auditor:
        trail = (await auditor.get("/api/v1/audit", params={"entity": "inspection_plan"})).json()
    assert [e["action"] for e in trail["items"]] == ["update", "create"]
    assert [c["code"] for c in trail["items"][1]["after"]["characteristics"]] == ["OD", "BURR"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lsl": None, "usl": None}, "needs lsl, usl or both"),
        ({"lsl": "20.1"}, "lsl must be below usl"),
        ({"target": "21"}, "target must lie within"),
        ({"kind": "attribute"}, "attribute characteristic has no lsl"),
        ({"sample_size": 0}, "greater than or equal to 1"),
        ({"sample_size": 101}, "less than or equal to 100"),
        ({"kind": "colour"}, "'numeric' or 'attribute'"),
        ({"lsl": "NaN"}, "finite number"),
    ],
)
async def test_characteristic_validation(
    as_roles: AsRoles, change: dict[str, Any], reason: str
) -> None:
    async with as_roles("admin") as client:
        item = await make_item(client, "SHAFT")
        r = await client.post(
            "/api/v1/quality/plans",
            json={
                "code": "QP",
                "name": "QP",
                "item_id": item["id"],
                "characteristics": [{**OD, **change}],
            },
        )
        assert r.status_code == 422, r.text
        assert reason in r.text
        assert (await client.get("/api/v1/quality/plans")).json()["total"] == 0


async def test_plan_conflicts_and_references(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plan = await make_plan(client)
        again = await client.post(
            "/api/v1/quality/plans",
            json={"code": plan["code"], "name": "x", "item_id": plan["item_id"]},
        )
        assert again.status_code == 409
        missing = await client.post(
            "/api/v1/quality/plans", json={"code": "QP-2", "name": "x", "item_id": 999999}
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["details"][0]["field"] == "body.item_id"
        twice = await client.post(
            "/api/v1/quality/plans",
            json={
                "code": "QP-3",
                "name": "x",
                "item_id": plan["item_id"],
                "characteristics": [OD, OD],
            },
        )
        assert twice.status_code == 422 and "unique: OD" in twice.text
        dup = await client.post(f"/api/v1/quality/plans/{plan['id']}/characteristics", json=BURR)
        assert dup.status_code == 409
        assert (await client.get("/api/v1/quality/plans/999999")).status_code == 404


async def test_characteristic_changes(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plan = await make_plan(client)
        added = await client.post(
            f"/api/v1/quality/plans/{plan['id']}/characteristics",
            json={
                "code": "LEN",
                "name": "Length",
                "kind": "numeric",
                "usl": 120,
                "unit": "mm",
                "position": 3,
            },
        )
        assert added.status_code == 201, added.text
        length = added.json()
        widened = await client.patch(
            f"/api/v1/quality/characteristics/{length['id']}", json={"lsl": 119, "target": 119.5}
        )
        assert widened.status_code == 200 and widened.json()["lsl"] == 119
        crossed = await client.patch(
            f"/api/v1/quality/characteristics/{length['id']}", json={"usl": 100}
        )
        assert crossed.status_code == 422
        assert crossed.json()["error"]["details"] == [
            {"field": "body.usl", "reason": "lsl must be below usl"}
        ]
        burr = characteristic(plan, "BURR")
        limits = await client.patch(
            f"/api/v1/quality/characteristics/{burr['id']}", json={"usl": 1}
        )
        assert limits.status_code == 422
        assert (await client.get(f"/api/v1/quality/characteristics/{length['id']}")).json()[
            "usl"
        ] == 120
        assert (
            await client.delete(f"/api/v1/quality/characteristics/{length['id']}")
        ).status_code == 204
        assert (
            await client.get(f"/api/v1/quality/characteristics/{length['id']}")
        ).status_code == 404


async def test_what_has_results_cannot_be_removed(as_roles: AsRoles, new_order: NewOrder) -> None:
    async with as_roles("admin") as client:
        plan = await make_plan(client)
        od = characteristic(plan, "OD")
        inspection = await start(client, plan, work_order_id=await new_order(plan["item_id"]))
        assert (
            await record(client, inspection, [{"characteristic_id": od["id"], "value": 20}])
        ).status_code == 200
        resize = await client.patch(
            f"/api/v1/quality/characteristics/{od['id']}", json={"sample_size": 5}
        )
        assert resize.status_code == 409
        rename = await client.patch(
            f"/api/v1/quality/characteristics/{od['id']}", json={"name": "OD"}
        )
        assert rename.status_code == 200
        assert (
            await client.delete(f"/api/v1/quality/characteristics/{od['id']}")
        ).status_code == 409
        gone = await client.delete(f"/api/v1/quality/plans/{plan['id']}")
        assert gone.status_code == 409 and "deactivate" in gone.json()["error"]["message"]
        unused = await make_plan(client, {"id": plan["item_id"]}, code="QP-UNUSED")
        assert (await client.delete(f"/api/v1/quality/plans/{unused['id']}")).status_code == 204


async def test_list_plans(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shaft = await make_item(client, "SHAFT")
        pump = await make_item(client, "PUMP")
        await make_plan(client, shaft, code="QP-SHAFT-IN")
        await make_plan(client, shaft, code="QP-SHAFT-OUT")
        last = await make_plan(client, pump, code="QP-PUMP")
        await client.patch(f"/api/v1/quality/plans/{last['id']}", json={"active": False})
        by_item = (
            await client.get("/api/v1/quality/plans", params={"item_id": shaft["id"]})
        ).json()
        assert [p["code"] for p in by_item["items"]] == ["QP-SHAFT-IN", "QP-SHAFT-OUT"]
        assert "characteristics" not in by_item["items"][0]
        inactive = (await client.get("/api/v1/quality/plans", params={"active": False})).json()
        assert [p["code"] for p in inactive["items"]] == ["QP-PUMP"]
        found = (
            await client.get("/api/v1/quality/plans", params={"q": "out", "sort": "-code"})
        ).json()
        assert found["total"] == 1
        assert (
            await client.get("/api/v1/quality/plans", params={"sort": "rank"})
        ).status_code == 422


async def test_only_quality_engineers_plan(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        item = await make_item(client, "SHAFT")
    async with as_roles("operator") as client:
        r = await client.post(
            "/api/v1/quality/plans", json={"code": "QP", "name": "QP", "item_id": item["id"]}
        )
        assert r.status_code == 403
        assert (await client.get("/api/v1/quality/plans")).status_code == 200
