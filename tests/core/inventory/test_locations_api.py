"""Locations API: CRUD, hierarchy without cycles, deletion only when unused, list, RBAC."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.inventory.helpers import make_item, make_location, receive
from tests.support.api import AsRoles


async def test_create_get_update_delete_audited(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        hall = await make_location(client, "HALL-1")
        side = await make_location(client, "L1-SIDE", type="line_side", parent_id=hall["id"])
        assert side["parent_id"] == hall["id"] and side["active"] is True
        got = await client.get(f"/api/v1/inventory/locations/{side['id']}")
        assert got.json() == side
        patched = await client.patch(
            f"/api/v1/inventory/locations/{side['id']}", json={"active": False, "parent_id": None}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["active"] is False and patched.json()["parent_id"] is None
        assert (await client.delete(f"/api/v1/inventory/locations/{side['id']}")).status_code == 204
        assert (await client.get(f"/api/v1/inventory/locations/{side['id']}")).status_code == 404
    async with as_roles("supervisor") as auditor:
        trail = (await auditor.get("/api/v1/audit", params={"entity": "location"})).json()
    assert [e["action"] for e in trail["items"]] == ["delete", "update", "create", "create"]
    assert trail["items"][1]["before"]["active"] is True
    assert trail["items"][1]["after"]["active"] is False


async def test_duplicate_code_is_409(as_roles: AsRoles) -> None:
    async with as_roles("planner") as client:
        await make_location(client, "WH-01")
        r = await client.post(
            "/api/v1/inventory/locations",
            json={"code": "WH-01", "name": "Again", "type": "shipping"},
        )
    assert r.status_code == 409
    assert "WH-01" in r.json()["error"]["message"]


async def test_parent_cycle_is_refused(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        a = await make_location(client, "A")
        b = await make_location(client, "B", parent_id=a["id"])
        c = await make_location(client, "C", parent_id=b["id"])
        r = await client.patch(
            f"/api/v1/inventory/locations/{a['id']}", json={"parent_id": c["id"]}
        )
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "body.parent_id"
        assert "cycle" in r.json()["error"]["message"]
        own = await client.patch(
            f"/api/v1/inventory/locations/{a['id']}", json={"parent_id": a["id"]}
        )
        assert own.status_code == 422
        missing = await client.post(
            "/api/v1/inventory/locations",
            json={"code": "D", "name": "D", "type": "warehouse", "parent_id": 999999},
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["details"][0]["field"] == "body.parent_id"
        assert (await client.get(f"/api/v1/inventory/locations/{a['id']}")).json()[
            "parent_id"
        ] is None


async def test_location_in_use_cannot_be_deleted(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        item = await make_item(client, "BOLT")
        hall = await make_location(client, "HALL")
        store = await make_location(client, "STORE", parent_id=hall["id"])
        await receive(client, item, store, 5, "B-1")
        for location in (hall, store):
            r = await client.delete(f"/api/v1/inventory/locations/{location['id']}")
            assert r.status_code == 409
            assert "deactivate" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "garage"}, "body.type"),
        ({"code": "has space"}, "body.code"),
        ({"name": ""}, "body.name"),
        ({"parent_id": 0}, "body.parent_id"),
        ({"extra": 1}, "body.extra"),
    ],
)
async def test_bad_input_is_422_naming_the_field(
    as_roles: AsRoles, change: dict[str, Any], field: str
) -> None:
    async with as_roles("admin") as client:
        r = await client.post(
            "/api/v1/inventory/locations",
            json={"code": "WH", "name": "Warehouse", "type": "warehouse", **change},
        )
        assert r.status_code == 422
        assert field in [d["field"] for d in r.json()["error"]["details"]]
        assert (await client.get("/api/v1/inventory/locations")).json()["total"] == 0


async def test_list_search_filter_sort(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        hall = await make_location(client, "HALL")
        for n, kind in enumerate(["line_side", "line_side", "quarantine", "shipping"]):
            await make_location(client, f"LOC-{n}", type=kind, parent_id=hall["id"])
        sides = (
            await client.get("/api/v1/inventory/locations", params={"type": "line_side"})
        ).json()
        assert [loc["code"] for loc in sides["items"]] == ["LOC-0", "LOC-1"]
        children = (
            await client.get(
                "/api/v1/inventory/locations", params={"parent_id": hall["id"], "sort": "-code"}
            )
        ).json()
        assert children["total"] == 4 and children["items"][0]["code"] == "LOC-3"
        found = (await client.get("/api/v1/inventory/locations", params={"q": "loc-2"})).json()
        assert [loc["code"] for loc in found["items"]] == ["LOC-2"]
        bad = await client.get("/api/v1/inventory/locations", params={"sort": "colour"})
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["field"] == "query.sort"


async def test_operator_reads_but_cannot_configure(as_roles: AsRoles) -> None:
    async with as_roles("operator") as client:
        assert (await client.get("/api/v1/inventory/locations")).status_code == 200
        r = await client.post(
            "/api/v1/inventory/locations", json={"code": "X", "name": "X", "type": "warehouse"}
        )
    assert r.status_code == 403


async def test_text_the_database_cannot_store_is_422(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        listed = await client.get("/api/v1/inventory/locations", params={"q": "a\x00b"})
        assert listed.status_code == 422
        created = await client.post(
            "/api/v1/inventory/locations", json={"code": "X", "name": "a\x00b", "type": "warehouse"}
        )
        assert created.status_code == 422 and "NUL" in created.json()["error"]["message"]
        malformed = await client.post(
            "/api/v1/inventory/locations",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert malformed.status_code in (400, 422)
        assert (await client.get("/api/v1/inventory/locations")).json()["total"] == 0
