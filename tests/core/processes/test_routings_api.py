"""Routings API: one routing per item, operations checked against the equipment master."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.bom.helpers import make_item
from tests.core.equipment.helpers import make_plant
from tests.support.api import AsRoles


async def _routing(client: Any, item_id: int, line_id: int) -> dict[str, Any]:
    body = {
        "item_id": item_id,
        "name": "Shaft routing",
        "operations": [
            {
                "sequence": 20,
                "name": "Mill flats",
                "equipment_type": "mill",
                "ideal_cycle_time_s": "45",
            },
            {
                "sequence": 10,
                "name": "Turn",
                "work_center_id": line_id,
                "equipment_type": "cnc",
                "setup_time_s": "600",
                "ideal_cycle_time_s": "30",
            },
        ],
    }
    r = await client.post("/api/v1/routings", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_create_routing_with_operations_in_sequence(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        shaft = await make_item(client, "SHAFT", type="finished")
        routing = await _routing(client, shaft["id"], plant["L1"]["id"])
        again = await client.post(
            "/api/v1/routings", json={"item_id": shaft["id"], "name": "second"}
        )
    assert routing["item_code"] == "SHAFT"
    ops = [(o["sequence"], o["name"], o["work_center_code"]) for o in routing["operations"]]
    assert ops == [(10, "Turn", "L1"), (20, "Mill flats", None)]
    assert routing["operations"][0]["setup_time_s"] == 600
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("operation", "field", "reason"),
    [
        ({"work_center": "KNU"}, "body.operations.0.work_center_id", "line, cell or machine"),
        (
            {"work_center": "CNC-1", "equipment_type": "mill"},
            "body.operations.0.equipment_type",
            "of type 'cnc'",
        ),
        ({}, "body.operations.0", "work_center_id, an equipment_type"),
        (
            {"equipment_type": "cnc", "ideal_cycle_time_s": "0"},
            "body.operations.0.ideal_cycle_time_s",
            "greater than 0",
        ),
        (
            {"equipment_type": "cnc", "setup_time_s": "-1"},
            "body.operations.0.setup_time_s",
            "greater than or equal to 0",
        ),
    ],
)
async def test_bad_operations_are_422_and_change_nothing(
    as_roles: AsRoles, operation: dict[str, Any], field: str, reason: str
) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        shaft = await make_item(client, "SHAFT", type="finished")
        op: dict[str, Any] = {"sequence": 10, "name": "Turn", "ideal_cycle_time_s": "30"}
        center = operation.pop("work_center", None)
        if center:
            op["work_center_id"] = plant[center]["id"]
        op.update(operation)
        r = await client.post(
            "/api/v1/routings", json={"item_id": shaft["id"], "name": "r", "operations": [op]}
        )
        assert r.status_code == 422, r.text
        [detail] = r.json()["error"]["details"]
        assert detail["field"] == field and reason in detail["reason"]
        assert (await client.get("/api/v1/routings")).json()["total"] == 0


async def test_operations_edit_and_sequence_conflicts(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        shaft = await make_item(client, "SHAFT", type="finished")
        routing = await _routing(client, shaft["id"], plant["L1"]["id"])
        rid = routing["id"]
        dup = await client.post(
            f"/api/v1/routings/{rid}/operations",
            json={
                "sequence": 10,
                "name": "Again",
                "equipment_type": "cnc",
                "ideal_cycle_time_s": 5,
            },
        )
        assert dup.status_code == 409
        added = await client.post(
            f"/api/v1/routings/{rid}/operations",
            json={
                "sequence": 30,
                "name": "Wash",
                "equipment_type": "washer",
                "ideal_cycle_time_s": 15,
            },
        )
        assert added.status_code == 201
        op_id = added.json()["id"]
        moved = await client.patch(
            f"/api/v1/routings/{rid}/operations/{op_id}", json={"sequence": 20}
        )
        assert moved.status_code == 409
        changed = await client.patch(
            f"/api/v1/routings/{rid}/operations/{op_id}",
            json={"ideal_cycle_time_s": "12.5", "work_center_id": plant["L1"]["id"]},
        )
        assert changed.status_code == 200
        assert (changed.json()["ideal_cycle_time_s"], changed.json()["work_center_code"]) == (
            12.5,
            "L1",
        )
        cleared = await client.patch(
            f"/api/v1/routings/{rid}/operations/{op_id}",
            json={"work_center_id": None, "equipment_type": None},
        )
        assert cleared.status_code == 422
        assert (
            await client.delete(f"/api/v1/routings/{rid}/operations/{op_id}")
        ).status_code == 204
        assert (
            await client.delete(f"/api/v1/routings/{rid}/operations/{op_id}")
        ).status_code == 404
        final = (await client.get(f"/api/v1/routings/{rid}")).json()
        assert [o["sequence"] for o in final["operations"]] == [10, 20]
    async with as_roles("supervisor") as auditor:
        trail = (await auditor.get("/api/v1/audit", params={"entity": "routing_operation"})).json()
    assert [e["action"] for e in trail["items"]][:3] == ["delete", "update", "create"]


async def test_list_filters_and_permissions(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        shaft = await make_item(client, "SHAFT", type="finished")
        gear = await make_item(client, "GEAR", type="finished")
        await _routing(client, shaft["id"], plant["L1"]["id"])
        await client.post("/api/v1/routings", json={"item_id": gear["id"], "name": "Gear"})
    async with as_roles("operator") as reader:
        everything = (await reader.get("/api/v1/routings")).json()
        assert [r["item_code"] for r in everything["items"]] == ["GEAR", "SHAFT"]
        at_line = (
            await reader.get("/api/v1/routings", params={"work_center_id": plant["L1"]["id"]})
        ).json()
        assert [r["item_code"] for r in at_line["items"]] == ["SHAFT"]
        assert (await reader.get("/api/v1/routings", params={"q": "gear"})).json()["total"] == 1
        assert (await reader.get("/api/v1/routings", params={"sort": "cost"})).status_code == 422
        assert (await reader.get("/api/v1/routings/999999")).status_code == 404
        denied = await reader.post("/api/v1/routings", json={"item_id": gear["id"], "name": "x"})
        assert denied.status_code == 403
    async with as_roles("planner") as planner:
        assert (
            await planner.patch(
                f"/api/v1/routings/{everything['items'][0]['id']}", json={"active": False}
            )
        ).status_code == 403
