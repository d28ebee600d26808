"""Items API: CRUD, validation, conflicts, list parameters, audit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.bom.helpers import make_bom
from tests.core.inventory.helpers import make_item, make_location, make_work_order, receive
from tests.support.api import AsRoles

BOLT = {
    "code": "BOLT-M6",
    "name": "Hex bolt M6",
    "type": "raw",
    "unit": "pcs",
    "lot_tracked": True,
    "safety_stock": "100",
}


async def test_create_get_update_delete(as_roles: AsRoles) -> None:
    async with as_roles("planner") as client:
        created = await client.post("/api/v1/items", json=BOLT)
        assert created.status_code == 201, created.text
        item = created.json()
        assert item["code"] == "BOLT-M6" and item["safety_stock"] == 100
        got = await client.get(f"/api/v1/items/{item['id']}")
        assert got.json() == item
        patched = await client.patch(f"/api/v1/items/{item['id']}", json={"name": "Bolt M6x20"})
        assert patched.status_code == 200
        assert patched.json()["name"] == "Bolt M6x20"
        assert (await client.delete(f"/api/v1/items/{item['id']}")).status_code == 204
        assert (await client.get(f"/api/v1/items/{item['id']}")).status_code == 404
    async with as_roles("supervisor") as auditor:
        trail = (await auditor.get("/api/v1/audit", params={"entity": "item"})).json()
    assert [e["action"] for e in trail["items"]] == ["delete", "update", "create"]
    assert trail["items"][1]["before"]["name"] == "Hex bolt M6"
    assert trail["items"][1]["after"]["name"] == "Bolt M6x20"


async def test_duplicate_code_is_409(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        assert (await client.post("/api/v1/items", json=BOLT)).status_code == 201
        again = await client.post("/api/v1/items", json={**BOLT, "name": "other"})
    assert again.status_code == 409
    assert "BOLT-M6" in again.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "gizmo"}, "body.type"),
        ({"safety_stock": "-1"}, "body.safety_stock"),
        ({"code": "has space"}, "body.code"),
        ({"code": ""}, "body.code"),
        ({"unit": ""}, "body.unit"),
        ({"colour": "red"}, "body.colour"),
        ({"lead_time_days": 10**9}, "body.lead_time_days"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_changes_nothing(
    as_roles: AsRoles,
    change: dict[str, Any],
    field: str,
) -> None:
    async with as_roles("planner") as client:
        r = await client.post("/api/v1/items", json={**BOLT, **change})
        assert r.status_code == 422
        assert field in [d["field"] for d in r.json()["error"]["details"]]
        assert (await client.get("/api/v1/items")).json()["total"] == 0


async def test_patch_rejects_null_for_required_field(as_roles: AsRoles) -> None:
    async with as_roles("planner") as client:
        item = (await client.post("/api/v1/items", json=BOLT)).json()
        r = await client.patch(f"/api/v1/items/{item['id']}", json={"name": None})
        assert r.status_code == 422
        assert "name cannot be null" in r.text
        cleared = await client.patch(f"/api/v1/items/{item['id']}", json={"description": None})
        assert cleared.status_code == 200


async def test_list_search_filter_sort_page(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        for i in range(12):
            kind = "finished" if i % 3 == 0 else "raw"
            await client.post(
                "/api/v1/items",
                json={
                    "code": f"P-{i:02d}",
                    "name": f"Part {i} {'gear' if i % 2 else 'shaft'}",
                    "type": kind,
                    "unit": "pcs",
                },
            )
        gears = (await client.get("/api/v1/items", params={"q": "GEAR"})).json()
        assert gears["total"] == 6
        finished = (await client.get("/api/v1/items", params={"type": "finished"})).json()
        assert [i["code"] for i in finished["items"]] == ["P-00", "P-03", "P-06", "P-09"]
        page = (
            await client.get("/api/v1/items", params={"sort": "-code", "limit": 5, "offset": 5})
        ).json()
        assert page["total"] == 12
        assert [i["code"] for i in page["items"]] == ["P-06", "P-05", "P-04", "P-03", "P-02"]
        searched = [
            (
                await client.get("/api/v1/items", params={"q": "gear", "limit": 4, "offset": o})
            ).json()
            for o in (0, 4, 8)
        ]
        assert [(p["total"], len(p["items"])) for p in searched] == [(6, 4), (6, 2), (6, 0)]
        assert [i["code"] for p in searched for i in p["items"]] == [
            f"P-{i:02d}" for i in range(1, 12, 2)
        ]
        bad = await client.get("/api/v1/items", params={"type": "gizmo"})
        assert bad.status_code == 422


async def test_operator_reads_but_cannot_write(as_roles: AsRoles) -> None:
    async with as_roles("operator") as client:
        assert (await client.get("/api/v1/items")).status_code == 200
        r = await client.post("/api/v1/items", json=BOLT)
    assert r.status_code == 403


async def test_unknown_item_is_404(as_roles: AsRoles) -> None:
    async with as_roles("operator") as client:
        r = await client.get("/api/v1/items/999999")
        assert r.status_code == 404
        assert (await client.get("/api/v1/items/0")).status_code == 422


USED_BY = {
    "bom_component": "a bill of materials (as a component)",
    "bom_parent": "a bill of materials (as its product)",
    "work_order": "work orders",
    "stock": "lots",
}


@pytest.mark.parametrize("use", list(USED_BY))
async def test_deleting_an_item_in_use_is_409_and_changes_nothing(
    as_roles: AsRoles, use: str
) -> None:
    async with as_roles("admin") as client:
        item = await make_item(client, "BOLT-M6")
        other = await make_item(client, "BRACKET", lot_tracked=False)
        if use == "bom_component":
            await make_bom(client, other["id"], [(item["id"], "4")])
        elif use == "bom_parent":
            await make_bom(client, item["id"], [(other["id"], "1")])
        elif use == "work_order":
            await make_work_order(client, item)
        else:
            await receive(client, item, await make_location(client, "STORE"), 5, "L-1")
        r = await client.delete(f"/api/v1/items/{item['id']}")
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "conflict"
        assert (
            error["message"]
            == f"item BOLT-M6 is still used by {USED_BY[use]}; deactivate it instead"
        )
        assert (await client.get(f"/api/v1/items/{item['id']}")).json() == item
        trail = await client.get("/api/v1/audit", params={"entity": "item", "action": "delete"})
        assert trail.json()["total"] == 0
        expected = 409 if use.startswith("bom") else 204  # the other item is used by the BOM
        assert (await client.delete(f"/api/v1/items/{other['id']}")).status_code == expected


async def test_unreadable_body_is_422_naming_the_body(as_roles: AsRoles) -> None:
    async with as_roles("planner") as client:
        r = await client.post(
            "/api/v1/items", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["error"]["details"]] == ["body"]
        assert (await client.get("/api/v1/items")).json()["total"] == 0
