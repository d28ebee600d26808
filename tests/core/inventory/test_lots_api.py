"""Lots API: listing with on-hand, filters, status changes audited, bad input."""

from __future__ import annotations

from tests.core.inventory.helpers import lot_by_code, make_item, make_location, receive
from tests.support.api import AsRoles


async def test_list_lots_with_on_hand_and_filters(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        steel = await make_item(client, "STEEL")
        oil = await make_item(client, "OIL")
        store = await make_location(client, "STORE")
        await receive(client, steel, store, 10, "S-1", expires_on="2030-01-01")
        await receive(client, steel, store, 20, "S-2", supplier_lot="HEAT-77")
        await receive(client, oil, store, 5, "O-1", expires_on="2027-06-30")
        s1 = await lot_by_code(client, steel["id"], "S-1")
        await client.post(
            "/api/v1/inventory/issues",
            json={
                "item_id": steel["id"],
                "quantity": 10,
                "from_location_id": store["id"],
                "lot_id": s1["id"],
            },
        )
        all_lots = (await client.get("/api/v1/inventory/lots", params={"sort": "code"})).json()
        assert [(x["code"], x["item_code"], x["on_hand"]) for x in all_lots["items"]] == [
            ("O-1", "OIL", 5),
            ("S-1", "STEEL", 0),
            ("S-2", "STEEL", 20),
        ]
        empty = (await client.get("/api/v1/inventory/lots", params={"in_stock": False})).json()
        assert [x["code"] for x in empty["items"]] == ["S-1"]
        by_item = (
            await client.get(
                "/api/v1/inventory/lots", params={"item_id": steel["id"], "sort": "-on_hand"}
            )
        ).json()
        assert [x["code"] for x in by_item["items"]] == ["S-2", "S-1"]
        soon = (
            await client.get("/api/v1/inventory/lots", params={"expires_before": "2028-01-01"})
        ).json()
        assert [x["code"] for x in soon["items"]] == ["O-1"]
        heat = (await client.get("/api/v1/inventory/lots", params={"q": "heat-77"})).json()
        assert [x["code"] for x in heat["items"]] == ["S-2"]
        paged = (
            await client.get(
                "/api/v1/inventory/lots", params={"limit": 2, "offset": 2, "sort": "code"}
            )
        ).json()
        assert paged["total"] == 3 and [x["code"] for x in paged["items"]] == ["S-2"]
        assert (
            await client.get("/api/v1/inventory/lots", params={"sort": "weight"})
        ).status_code == 422
        assert (
            await client.get("/api/v1/inventory/lots", params={"status": "lost"})
        ).status_code == 422


async def test_status_change_is_audited_as_a_status_event(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        steel = await make_item(client, "STEEL")
        store = await make_location(client, "STORE")
        await receive(client, steel, store, 10, "S-1")
        lot = await lot_by_code(client, steel["id"], "S-1")
    async with as_roles("quality", username="quinn") as client:
        r = await client.patch(
            f"/api/v1/inventory/lots/{lot['id']}", json={"status": "quarantine", "notes": "burrs"}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["notes"], r.json()["on_hand"]) == (
            "quarantine",
            "burrs",
            10,
        )
        cleared = await client.patch(f"/api/v1/inventory/lots/{lot['id']}", json={"notes": None})
        assert cleared.json()["notes"] is None
        bad = await client.patch(f"/api/v1/inventory/lots/{lot['id']}", json={"status": None})
        assert bad.status_code == 422
        assert (
            await client.patch("/api/v1/inventory/lots/999999", json={"notes": "x"})
        ).status_code == 404
    async with as_roles("supervisor") as auditor:
        events = (await auditor.get("/api/v1/audit", params={"entity": "lot"})).json()["items"]
    assert [e["action"] for e in events] == ["update", "status", "create"]
    assert (events[1]["before"]["status"], events[1]["after"]["status"]) == (
        "released",
        "quarantine",
    )
    assert events[1]["username"] == "Quinn"
    async with as_roles("operator") as client:
        denied = await client.patch(
            f"/api/v1/inventory/lots/{lot['id']}", json={"status": "released"}
        )
        assert denied.status_code == 403
        assert (await client.get(f"/api/v1/inventory/lots/{lot['id']}")).json()[
            "status"
        ] == "quarantine"
