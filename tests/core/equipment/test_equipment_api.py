"""Equipment API: hierarchy rules, tree and path, cycle times, bound signals, validation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI

from core.equipment import service
from tests.core.bom.helpers import make_item
from tests.core.equipment.helpers import make_equipment, make_plant
from tests.support.api import AsRoles
from tests.support.databases import TestDb


async def test_hierarchy_tree_and_path(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        tree = (await client.get("/api/v1/equipment/tree")).json()
        sub = (
            await client.get("/api/v1/equipment/tree", params={"root_id": plant["L1"]["id"]})
        ).json()
        cnc = (await client.get(f"/api/v1/equipment/{plant['CNC-1']['id']}")).json()
    [site] = tree
    assert site["code"] == "KNU"
    assert [c["code"] for c in site["children"][0]["children"][0]["children"]] == [
        "CNC-1",
        "MILL-1",
    ]
    assert [n["code"] for n in sub] == ["L1"] and len(sub[0]["children"]) == 2
    assert [p["code"] for p in cnc["path"]] == ["KNU", "MACH", "L1"]
    assert cnc["capabilities"] == ["turning", "threading"] and cnc["ideal_cycle_time_s"] == 30


@pytest.mark.parametrize(
    ("level", "parent", "reason"),
    [
        ("machine", "MACH", "belongs to a cell or line"),
        ("line", None, "needs a parent"),
        ("site", "KNU", "a site has no parent"),
        ("area", "L1", "belongs to a site"),
    ],
)
async def test_parent_must_be_one_level_up(
    as_roles: AsRoles, level: str, parent: str | None, reason: str
) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        body = {
            "code": "X-1",
            "name": "x",
            "level": level,
            "parent_id": plant[parent]["id"] if parent else None,
        }
        r = await client.post("/api/v1/equipment", json=body)
        assert r.status_code == 422, r.text
        detail = r.json()["error"]["details"][0]
        assert detail["field"] == "body.parent_id" and reason in detail["reason"]
        assert (await client.get("/api/v1/equipment")).json()["total"] == 5


async def test_reparent_and_update_are_audited(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        line2 = await make_equipment(client, "L2", "line", plant["MACH"])
        moved = await client.patch(
            f"/api/v1/equipment/{plant['MILL-1']['id']}",
            json={"parent_id": line2["id"], "status": "maintenance"},
        )
        assert moved.status_code == 200, moved.text
        assert [p["code"] for p in moved.json()["path"]] == ["KNU", "MACH", "L2"]
        wrong = await client.patch(
            f"/api/v1/equipment/{plant['MILL-1']['id']}", json={"parent_id": plant["KNU"]["id"]}
        )
        assert wrong.status_code == 422
        frozen = await client.patch(
            f"/api/v1/equipment/{plant['MILL-1']['id']}", json={"code": "NEW"}
        )
        assert frozen.status_code == 422
    async with as_roles("supervisor") as auditor:
        trail = (
            await auditor.get(
                "/api/v1/audit",
                params={"entity": "equipment", "entity_id": str(plant["MILL-1"]["id"])},
            )
        ).json()
    assert [e["action"] for e in trail["items"]] == ["update", "create"]
    assert trail["items"][0]["before"]["status"] == "in_service"
    assert trail["items"][0]["after"]["status"] == "maintenance"


async def test_list_filters_search_and_sort(as_roles: AsRoles) -> None:
    async with as_roles("operator") as reader, as_roles("engineer") as client:
        await make_plant(client)
        machines = (await reader.get("/api/v1/equipment", params={"level": "machine"})).json()
        assert [m["code"] for m in machines["items"]] == ["CNC-1", "MILL-1"]
        turning = (await reader.get("/api/v1/equipment", params={"capability": "turning"})).json()
        assert [m["code"] for m in turning["items"]] == ["CNC-1"]
        found = (await reader.get("/api/v1/equipment", params={"q": "mill"})).json()
        assert [m["code"] for m in found["items"]] == ["MILL-1"]
        by_level = (await reader.get("/api/v1/equipment", params={"sort": "-level,code"})).json()
        assert by_level["items"][0]["level"] == "site"
        assert (await reader.get("/api/v1/equipment", params={"sort": "size"})).status_code == 422
        assert (await reader.get("/api/v1/equipment", params={"level": "x"})).status_code == 422
        assert (
            await reader.post("/api/v1/equipment", json={"code": "A", "name": "a", "level": "site"})
        ).status_code == 403


async def test_duplicate_code_and_bad_fields(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        await make_equipment(client, "KNU", "site", None)
        dup = await client.post(
            "/api/v1/equipment", json={"code": "KNU", "name": "again", "level": "site"}
        )
        assert dup.status_code == 409 and "KNU" in dup.json()["error"]["message"]
        cases: list[tuple[dict[str, Any], str]] = [
            ({"capabilities": ["a", "a"]}, "body.capabilities"),
            ({"capabilities": ["Has Space"]}, "body.capabilities.0"),
            ({"ideal_cycle_time_s": "0"}, "body.ideal_cycle_time_s"),
            ({"status": "broken"}, "body.status"),
            ({"type": "CNC!"}, "body.type"),
        ]
        for body, field in cases:
            r = await client.post(
                "/api/v1/equipment", json={"code": "S2", "name": "s", "level": "site", **body}
            )
            assert r.status_code == 422, (body, r.text)
            assert field in [d["field"] for d in r.json()["error"]["details"]], r.text


async def test_cycle_times_per_item_fall_back_to_the_default(
    app: FastAPI, as_roles: AsRoles
) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        shaft = await make_item(client, "SHAFT", type="finished")
        other = await make_item(client, "OTHER", type="finished")
        cnc = plant["CNC-1"]["id"]
        put = await client.put(
            f"/api/v1/equipment/{cnc}/cycle-times/{shaft['id']}", json={"ideal_cycle_time_s": 28}
        )
        assert put.status_code == 200
        assert (put.json()["item_code"], put.json()["item_name"]) == ("SHAFT", "SHAFT name")
        again = await client.put(
            f"/api/v1/equipment/{cnc}/cycle-times/{shaft['id']}",
            json={"ideal_cycle_time_s": "27.5"},
        )
        assert again.json()["ideal_cycle_time_s"] == 27.5
        listed = (await client.get(f"/api/v1/equipment/{cnc}/cycle-times")).json()
        assert listed["total"] == 1
        assert [
            (c["item_code"], c["item_name"], c["ideal_cycle_time_s"]) for c in listed["items"]
        ] == [("SHAFT", "SHAFT name", 27.5)]
        assert (
            await client.put(
                f"/api/v1/equipment/{cnc}/cycle-times/999999", json={"ideal_cycle_time_s": 1}
            )
        ).status_code == 404
        async with app.state.db.sessions() as session:
            own = await service.ideal_cycle_time(
                session=session, equipment_id=cnc, item_id=shaft["id"]
            )
            fallback = await service.ideal_cycle_time(
                session=session, equipment_id=cnc, item_id=other["id"]
            )
        assert (own, fallback) == (Decimal("27.5"), Decimal(30))
        gone = await client.delete(f"/api/v1/equipment/{cnc}/cycle-times/{shaft['id']}")
        assert gone.status_code == 204
        empty = (await client.get(f"/api/v1/equipment/{cnc}/cycle-times")).json()
        assert (empty["items"], empty["total"]) == ([], 0)


async def test_cycle_times_search_filter_sort_and_page(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        cnc = plant["CNC-1"]["id"]
        url = f"/api/v1/equipment/{cnc}/cycle-times"
        items = {}
        for code, seconds, name in [
            ("GEAR-B", 40, "spur gear"),
            ("AXLE", 20, "front axle"),
            ("GEAR-A", 30, "bevel gear"),
        ]:
            items[code] = await make_item(client, code, type="finished", name=name)
            r = await client.put(f"{url}/{items[code]['id']}", json={"ideal_cycle_time_s": seconds})
            assert r.status_code == 200, r.text

        async def codes(**params: Any) -> tuple[list[str], int]:
            r = await client.get(url, params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            return [c["item_code"] for c in page["items"]], page["total"]

        assert await codes() == (["AXLE", "GEAR-A", "GEAR-B"], 3)
        assert await codes(q="gear") == (["GEAR-A", "GEAR-B"], 2)
        assert await codes(q="axle") == (["AXLE"], 1)  # by name as well as code
        assert await codes(q="BEVEL") == (["GEAR-A"], 1)
        assert await codes(item_id=items["GEAR-B"]["id"]) == (["GEAR-B"], 1)
        assert await codes(sort="ideal_cycle_time_s") == (["AXLE", "GEAR-A", "GEAR-B"], 3)
        assert await codes(sort="-ideal_cycle_time_s") == (["GEAR-B", "GEAR-A", "AXLE"], 3)
        assert await codes(sort="-item_code", limit=2) == (["GEAR-B", "GEAR-A"], 3)
        assert await codes(sort="-item_code", limit=2, offset=2) == (["AXLE"], 3)
        assert await codes(q="gear", limit=1, offset=1) == (["GEAR-B"], 2)
        assert await codes(q="gear", offset=5) == ([], 2)
        bad = await client.get(url, params={"sort": "colour"})
        assert bad.status_code == 422
        assert [d["field"] for d in bad.json()["error"]["details"]] == ["query.sort"]
        assert (await client.get("/api/v1/equipment/999999/cycle-times")).status_code == 404


def _add_signals(db: TestDb, rows: list[tuple[str, str, str]]) -> None:
    with psycopg.connect(db.conninfo) as conn:
        for key, equipment_code, unit in rows:
            conn.execute(
                "INSERT INTO signal (key, equipment_code, name, unit, data_type, protocol)"
                " VALUES (%s, %s, %s, %s, 'float', 'opcua')",
                (key, equipment_code, key.split(".")[1], unit),
            )


async def test_signals_bound_by_code_and_delete_rules(db: TestDb, as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
        _add_signals(
            db,
            [
                ("CNC-1.good_count", "CNC-1", "pcs"),
                ("CNC-1.spindle_speed", "CNC-1", "rpm"),
                ("MILL-1.good_count", "MILL-1", "pcs"),
            ],
        )
        cnc = plant["CNC-1"]["id"]
        signals = (await client.get(f"/api/v1/equipment/{cnc}/signals")).json()
        assert [s["key"] for s in signals["items"]] == ["CNC-1.good_count", "CNC-1.spindle_speed"]
        found = await client.get(f"/api/v1/equipment/{cnc}/signals", params={"q": "spindle"})
        assert [s["unit"] for s in found.json()["items"]] == ["rpm"]
        assert (
            await client.get(f"/api/v1/equipment/{cnc}/signals", params={"sort": "x"})
        ).status_code == 422
        bound = await client.delete(f"/api/v1/equipment/{cnc}")
        assert bound.status_code == 409 and "signals" in bound.json()["error"]["message"]
        parent = await client.delete(f"/api/v1/equipment/{plant['L1']['id']}")
        assert parent.status_code == 409 and "children" in parent.json()["error"]["message"]
        leaf = await make_equipment(client, "SPARE", "machine", plant["L1"])
        assert (await client.delete(f"/api/v1/equipment/{leaf['id']}")).status_code == 204
        assert (await client.get(f"/api/v1/equipment/{leaf['id']}")).status_code == 404
        assert (await client.get("/api/v1/equipment/999999/signals")).status_code == 404


async def test_ancestors_and_descendants(app: FastAPI, as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        plant = await make_plant(client)
    async with app.state.db.sessions() as session:
        up = await service.ancestor_ids(session, plant["CNC-1"]["id"])
        down = await service.descendant_ids(session, plant["MACH"]["id"])
    ids: dict[str, Any] = {k: v["id"] for k, v in plant.items()}
    assert up == [ids["CNC-1"], ids["L1"], ids["MACH"], ids["KNU"]]
    assert sorted(down) == sorted([ids["MACH"], ids["L1"], ids["CNC-1"], ids["MILL-1"]])
