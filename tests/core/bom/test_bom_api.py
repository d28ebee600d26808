"""BOM API: versions, lines, explosion and where-used, cycles, validation, audit, concurrency."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event

from core.bom import service
from tests.core.bom.helpers import make_bom, make_item, make_pump
from tests.support.api import AsRoles


async def test_explosion_rolls_quantities_up_through_levels(as_roles: AsRoles) -> None:
    async with as_roles("planner") as client:
        items = (await make_pump(client))["items"]
        r = await client.get(
            f"/api/v1/bom/items/{items['PUMP']['id']}/explosion", params={"quantity": "10"}
        )
        assert r.status_code == 200, r.text
        tree = r.json()
        flat = (
            await client.get(
                f"/api/v1/bom/items/{items['PUMP']['id']}/explosion/flat",
                params={"quantity": "10"},
            )
        ).json()
    top = {n["item_code"]: n for n in tree["nodes"]}
    assert list(top) == ["SHAFT", "HOUSING"]  # line order
    assert top["SHAFT"]["quantity"] == 22  # 10 x 2 x 1.1
    assert top["SHAFT"]["has_bom"] is True
    assert [(c["item_code"], c["quantity"], c["level"]) for c in top["SHAFT"]["children"]] == [
        ("BAR", 11, 2)
    ]
    assert [(c["item_code"], c["quantity"]) for c in top["HOUSING"]["children"]] == [("BOLT", 40)]
    summed = {c["item_code"]: (c["quantity"], c["max_level"]) for c in flat["components"]}
    assert summed == {"SHAFT": (22, 1), "HOUSING": (10, 1), "BAR": (11, 2), "BOLT": (40, 2)}


async def test_base_quantity_and_shared_components_are_summed(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        kit = await make_item(client, "KIT", type="finished")
        sub = await make_item(client, "SUB", type="semi_finished")
        screw = await make_item(client, "SCREW")
        await make_bom(client, sub["id"], [(screw["id"], "6")], quantity="2")  # 3 per SUB
        await make_bom(client, kit["id"], [(sub["id"], "1"), (screw["id"], "5")])
        flat = (
            await client.get(
                f"/api/v1/bom/items/{kit['id']}/explosion/flat", params={"quantity": "4"}
            )
        ).json()
    screws = next(c for c in flat["components"] if c["item_code"] == "SCREW")
    assert screws["quantity"] == 4 * 3 + 4 * 5
    assert screws["occurrences"] == 2
    assert (screws["min_level"], screws["max_level"]) == (1, 2)


async def test_where_used_walks_every_level(as_roles: AsRoles) -> None:
    async with as_roles("planner") as client:
        items = (await make_pump(client))["items"]
        tree = (await client.get(f"/api/v1/bom/items/{items['BAR']['id']}/where-used")).json()
        flat = (await client.get(f"/api/v1/bom/items/{items['BAR']['id']}/where-used/flat")).json()
        unused = (await client.get(f"/api/v1/bom/items/{items['PUMP']['id']}/where-used")).json()
    [shaft] = tree["nodes"]
    assert (shaft["item_code"], shaft["level"], shaft["quantity"]) == ("SHAFT", 1, 0.5)
    [pump] = shaft["parents"]
    assert (pump["item_code"], pump["level"], pump["quantity"]) == ("PUMP", 2, 1.1)
    rows = {r["item_code"]: r for r in flat["assemblies"]}
    assert rows["PUMP"]["is_top"] is True and rows["SHAFT"]["is_top"] is False
    assert unused["nodes"] == []


async def test_line_closing_a_cycle_is_409_naming_the_path(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        a, b, c = [await make_item(client, code, type="semi_finished") for code in "ABC"]
        await make_bom(client, a["id"], [(b["id"], "1")])
        await make_bom(client, b["id"], [(c["id"], "1")])
        draft = await make_bom(client, c["id"], [], activate=False)
        r = await client.post(
            f"/api/v1/bom/{draft['id']}/lines", json={"component_item_id": a["id"], "quantity": 1}
        )
        assert r.status_code == 409
        assert "C -> A -> B -> C" in r.json()["error"]["message"]
        itself = await client.post(
            f"/api/v1/bom/{draft['id']}/lines", json={"component_item_id": c["id"], "quantity": 1}
        )
        assert itself.status_code == 409
        assert "C -> C" in itself.json()["error"]["message"]
        after = (await client.get(f"/api/v1/bom/{draft['id']}")).json()
    assert after["lines"] == []


async def test_cycle_through_a_draft_is_rejected_too(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        a, b = [await make_item(client, code, type="semi_finished") for code in "AB"]
        await make_bom(client, a["id"], [(b["id"], "1")], activate=False)
        r = await client.post(
            "/api/v1/bom",
            json={"item_id": b["id"], "lines": [{"component_item_id": a["id"], "quantity": "1"}]},
        )
    assert r.status_code == 409
    assert "B -> A -> B" in r.json()["error"]["message"]


async def test_concurrent_lines_cannot_create_a_cycle_together(
    app: FastAPI, as_roles: AsRoles
) -> None:
    async with as_roles("engineer") as client:
        a, b = [await make_item(client, code, type="semi_finished") for code in "XY"]
        bom_a = await make_bom(client, a["id"], [], activate=False)
        bom_b = await make_bom(client, b["id"], [], activate=False)

        async def add(bom_id: int, component: int) -> int:
            async with as_roles("engineer") as own:
                r = await own.post(
                    f"/api/v1/bom/{bom_id}/lines",
                    json={"component_item_id": component, "quantity": "1"},
                )
                return r.status_code

        codes = await asyncio.gather(
            *[add(bom_a["id"], b["id"]) for _ in range(5)],
            *[add(bom_b["id"], a["id"]) for _ in range(5)],
        )
        lines_a = (await client.get(f"/api/v1/bom/{bom_a['id']}")).json()["lines"]
        lines_b = (await client.get(f"/api/v1/bom/{bom_b['id']}")).json()["lines"]
    assert sorted(set(codes)) == [201, 409]
    assert (len(lines_a) == 0) != (len(lines_b) == 0)  # only one direction was accepted


async def test_versions_one_active_and_effective_dates(as_roles: AsRoles) -> None:
    async with as_roles("planner") as client:
        top = await make_item(client, "TOP", type="finished")
        old_part, new_part = await make_item(client, "OLD"), await make_item(client, "NEW")
        v1 = await make_bom(client, top["id"], [(old_part["id"], "1")], effective_from="2026-01-01")
        v2 = await make_bom(client, top["id"], [(new_part["id"], "2")], effective_from="2026-06-01")
        assert v2["version"] == 2 and v2["status"] == "active"
        v1 = (await client.get(f"/api/v1/bom/{v1['id']}")).json()
        assert (v1["status"], v1["effective_to"]) == ("archived", "2026-06-01")
        active = (
            await client.get("/api/v1/bom", params={"item_id": top["id"], "status": "active"})
        ).json()
        assert [b["version"] for b in active["items"]] == [2]

        async def components(at: str) -> list[str]:
            r = await client.get(f"/api/v1/bom/items/{top['id']}/explosion", params={"at": at})
            return [n["item_code"] for n in r.json()["nodes"]]

        assert await components("2026-03-01") == ["OLD"]
        assert await components("2026-07-01") == ["NEW"]
        before = await client.get(
            f"/api/v1/bom/items/{top['id']}/explosion", params={"at": "2025-12-31"}
        )
        assert before.status_code == 404
        draft = await make_bom(client, top["id"], [(old_part["id"], "1")], activate=False)
        early = await client.post(
            f"/api/v1/bom/{draft['id']}/activate", json={"effective_from": "2026-05-01"}
        )
        assert early.status_code == 422
        assert early.json()["error"]["details"][0]["field"] == "body.effective_from"


async def test_only_drafts_are_edited_and_copy_starts_a_new_draft(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        top = await make_item(client, "T", type="finished")
        part = await make_item(client, "P")
        active = await make_bom(client, top["id"], [(part["id"], "3")])
        line_id = active["lines"][0]["id"]
        assert (
            await client.patch(f"/api/v1/bom/{active['id']}/lines/{line_id}", json={"quantity": 4})
        ).status_code == 409
        assert (await client.delete(f"/api/v1/bom/{active['id']}")).status_code == 409
        copied = await client.post(f"/api/v1/bom/{active['id']}/copy")
        assert copied.status_code == 201
        draft = copied.json()
        assert (draft["version"], draft["status"]) == (2, "draft")
        assert [(ln["component_code"], ln["quantity"]) for ln in draft["lines"]] == [("P", 3)]
        new_line = draft["lines"][0]["id"]
        patched = await client.patch(
            f"/api/v1/bom/{draft['id']}/lines/{new_line}", json={"quantity": "4.5"}
        )
        assert patched.status_code == 200 and patched.json()["quantity"] == 4.5
        assert (
            await client.delete(f"/api/v1/bom/{draft['id']}/lines/{new_line}")
        ).status_code == 204
        empty = await client.post(f"/api/v1/bom/{draft['id']}/activate", json={})
        assert empty.status_code == 409
        assert (await client.delete(f"/api/v1/bom/{draft['id']}")).status_code == 204
        archived = await client.post(f"/api/v1/bom/{active['id']}/archive")
        assert archived.json()["status"] == "archived"
    async with as_roles("supervisor") as auditor:
        trail = (await auditor.get("/api/v1/audit", params={"entity": "bom"})).json()
    actions = [e["action"] for e in trail["items"]]
    assert actions[:2] == ["archive", "delete"]
    assert {"create", "activate"} <= set(actions)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": "0"}, "body.lines.0.quantity"),
        ({"quantity": "1", "scrap_factor": "1"}, "body.lines.0.scrap_factor"),
        ({"quantity": "1", "operation_seq": 0}, "body.lines.0.operation_seq"),
        ({"quantity": "1", "unit": "kg"}, "body.lines.0.unit"),
        ({"quantity": "1", "component_item_id": 999999}, "body.lines.0.component_item_id"),
        ({"quantity": "1", "colour": "red"}, "body.lines.0.colour"),
    ],
)
async def test_bad_lines_are_422_naming_the_field_and_change_nothing(
    as_roles: AsRoles, line: dict[str, Any], field: str
) -> None:
    async with as_roles("engineer") as client:
        top = await make_item(client, "TOP", type="finished")
        part = await make_item(client, "PART")
        body = {"item_id": top["id"], "lines": [{"component_item_id": part["id"], **line}]}
        r = await client.post("/api/v1/bom", json=body)
        assert r.status_code == 422, r.text
        assert field in [d["field"] for d in r.json()["error"]["details"]]
        assert (await client.get("/api/v1/bom")).json()["total"] == 0


async def test_list_search_sort_and_errors(as_roles: AsRoles) -> None:
    async with as_roles("planner") as client:
        items = (await make_pump(client))["items"]
        found = (await client.get("/api/v1/bom", params={"q": "hous"})).json()
        assert [b["item_code"] for b in found["items"]] == ["HOUSING"]
        ordered = (await client.get("/api/v1/bom", params={"sort": "-item_code"})).json()
        assert [b["item_code"] for b in ordered["items"]] == ["SHAFT", "PUMP", "HOUSING"]
        assert (await client.get("/api/v1/bom", params={"sort": "colour"})).status_code == 422
        assert (await client.get("/api/v1/bom", params={"status": "gone"})).status_code == 422
        assert (await client.get("/api/v1/bom/999999")).status_code == 404
        assert (await client.get("/api/v1/bom/items/999999/explosion")).status_code == 404
        no_bom = await client.get(f"/api/v1/bom/items/{items['BAR']['id']}/explosion")
        assert no_bom.status_code == 404
        bad_qty = await client.get(
            f"/api/v1/bom/items/{items['PUMP']['id']}/explosion", params={"quantity": "-1"}
        )
        assert bad_qty.status_code == 422
    async with as_roles("operator") as reader:
        assert (await reader.get("/api/v1/bom")).status_code == 200
        denied = await reader.post("/api/v1/bom", json={"item_id": items["PUMP"]["id"]})
        assert denied.status_code == 403


async def test_explosion_is_one_query_whatever_the_depth(app: FastAPI, as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        chain = [await make_item(client, f"L{i}", type="semi_finished") for i in range(8)]
        for parent, child in itertools.pairwise(chain):
            await make_bom(client, parent["id"], [(child["id"], "2")])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with app.state.db.sessions() as session:
            shallow = await service.explode(
                session=session, item_id=chain[6]["id"], quantity=Decimal(1)
            )
            n_shallow = len(statements)
            deep = await service.explode(
                session=session, item_id=chain[0]["id"], quantity=Decimal(1)
            )
            n_deep = len(statements) - n_shallow
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(shallow.nodes) == 1 and shallow.nodes[0].children == []
    node = deep.nodes[0]
    while node.children:
        node = node.children[0]
    assert (node.item_code, node.level, node.quantity) == ("L7", 7, Decimal(2**7))
    assert n_deep == n_shallow
