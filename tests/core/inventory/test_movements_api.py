"""Receipts, issues, transfers and adjustments over the API: lot rules, shortfalls, bad input,
the ledger and on-hand views."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.core.inventory.helpers import (
    lot_by_code,
    make_item,
    make_location,
    make_work_order,
    on_hand_rows,
    receive,
)
from tests.support.api import AsRoles


@pytest.fixture
async def stock(as_roles: AsRoles) -> dict[str, Any]:
    async with as_roles("admin") as client:
        steel = await make_item(client, "STEEL")
        washer = await make_item(client, "WASHER", lot_tracked=False)
        other = await make_item(client, "OTHER")
        store = await make_location(client, "STORE")
        line = await make_location(client, "LINE", type="line_side")
        quarantine = await make_location(client, "QA-HOLD", type="quarantine")
        await receive(client, steel, store, 100, "S-1", supplier_lot="MILL-9", reference="PO-1")
        await receive(client, washer, store, 500)
        await receive(client, other, store, 3, "O-1")
        return {
            "steel": steel,
            "washer": washer,
            "other": other,
            "store": store,
            "line": line,
            "quarantine": quarantine,
            "s1": await lot_by_code(client, steel["id"], "S-1"),
            "o1": await lot_by_code(client, other["id"], "O-1"),
        }


async def snapshot(client: httpx.AsyncClient) -> tuple[Any, Any]:
    stock_rows = await on_hand_rows(client, include_empty=True)
    ledger = (await client.get("/api/v1/inventory/transactions")).json()["total"]
    return stock_rows, ledger


async def test_receipt_creates_then_adds_to_a_lot(as_roles: AsRoles, stock: dict[str, Any]) -> None:
    async with as_roles("operator") as client:
        lot = stock["s1"]
        assert (lot["origin"], lot["status"], lot["supplier_lot"]) == (
            "receipt",
            "released",
            "MILL-9",
        )
        tx = await receive(client, stock["steel"], stock["store"], "20.25", "S-1")
        assert tx["type"] == "receipt" and tx["quantity"] == 20.25 and tx["lot_id"] == lot["id"]
        assert tx["to_location_id"] == stock["store"]["id"] and tx["from_location_id"] is None
        again = (await client.get(f"/api/v1/inventory/lots/{lot['id']}")).json()
        assert again["received_quantity"] == 120.25 and again["on_hand"] == 120.25
        by_id = await client.post(
            "/api/v1/inventory/receipts",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": 1,
                "to_location_id": stock["line"]["id"],
                "lot_id": lot["id"],
            },
        )
        assert by_id.status_code == 201
    async with as_roles("supervisor") as auditor:
        events = (
            await auditor.get(
                "/api/v1/audit", params={"entity": "inventory_transaction", "limit": 1}
            )
        ).json()["items"]
    assert events[0]["after"]["quantity"] == "1.000000"
    assert events[0]["username"] == "Operator"


async def test_item_on_hand_and_stock_views(as_roles: AsRoles, stock: dict[str, Any]) -> None:
    async with as_roles("admin") as client:
        await receive(client, stock["steel"], stock["line"], 10, "S-2")
        await client.patch(
            f"/api/v1/inventory/lots/{stock['s1']['id']}", json={"status": "quarantine"}
        )
        view = (await client.get(f"/api/v1/inventory/items/{stock['steel']['id']}/on-hand")).json()
        assert view["total"] == 110 and view["usable"] == 10 and view["unit"] == "pcs"
        assert [(p["code"], p["quantity"]) for p in view["by_location"]] == [
            ("LINE", 10),
            ("STORE", 100),
        ]
        assert [(p["code"], p["quantity"]) for p in view["by_lot"]] == [("S-1", 100), ("S-2", 10)]
        rows = await on_hand_rows(client, q="steel", sort="-quantity")
        assert [(r["lot_code"], r["location_code"], r["lot_status"]) for r in rows] == [
            ("S-1", "STORE", "quarantine"),
            ("S-2", "LINE", "released"),
        ]
        held = await on_hand_rows(client, lot_status="quarantine")
        assert [r["lot_code"] for r in held] == ["S-1"]
        washers = await on_hand_rows(client, item_id=stock["washer"]["id"])
        assert [(r["lot_id"], r["quantity"]) for r in washers] == [(None, 500)]
        assert (await client.get("/api/v1/inventory/items/999999/on-hand")).status_code == 404
        bad = await client.get("/api/v1/inventory/stock", params={"sort": "price"})
        assert bad.status_code == 422


async def test_item_on_hand_leaves_out_expired_lots_and_empty_stock(
    as_roles: AsRoles, stock: dict[str, Any]
) -> None:
    async with as_roles("admin") as client:
        await receive(client, stock["steel"], stock["line"], 10, "S-2")
        s2 = await lot_by_code(client, stock["steel"]["id"], "S-2")
        r = await client.patch(
            f"/api/v1/inventory/lots/{s2['id']}", json={"expires_on": "2020-01-01"}
        )
        assert r.status_code == 200, r.text
        steel = (await client.get(f"/api/v1/inventory/items/{stock['steel']['id']}/on-hand")).json()
        issue = {"item_id": stock["washer"]["id"], "from_location_id": stock["store"]["id"]}
        for quantity in (200, 300):  # the second empties the washers' stock row
            r = await client.post("/api/v1/inventory/issues", json={**issue, "quantity": quantity})
            assert r.status_code == 201, r.text
            washers = (
                await client.get(f"/api/v1/inventory/items/{stock['washer']['id']}/on-hand")
            ).json()
            if quantity == 200:
                assert washers["by_lot"] == [{"id": None, "code": None, "quantity": 300}]
                assert (washers["total"], washers["usable"]) == (300, 300)
        nothing = await make_item(client, "NOTHING")
        none = (await client.get(f"/api/v1/inventory/items/{nothing['id']}/on-hand")).json()
    assert (steel["total"], steel["usable"]) == (110, 100)  # S-2 expired: not usable
    assert [(p["code"], p["quantity"]) for p in steel["by_lot"]] == [("S-1", 100), ("S-2", 10)]
    assert (washers["total"], washers["usable"], washers["by_location"], washers["by_lot"]) == (
        0,
        0,
        [],
        [],
    )
    assert (none["item_code"], none["total"], none["usable"], none["by_lot"]) == (
        "NOTHING",
        0,
        0,
        [],
    )


async def test_issue_takes_stock_and_refuses_a_shortfall(
    as_roles: AsRoles, stock: dict[str, Any]
) -> None:
    async with as_roles("planner") as planner:
        order = await make_work_order(planner, stock["steel"])
    async with as_roles("operator") as client:
        unknown = await client.post(
            "/api/v1/inventory/issues",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": 1,
                "from_location_id": stock["store"]["id"],
                "lot_id": stock["s1"]["id"],
                "work_order_id": 999999,
            },
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"]["details"][0]["field"] == "body.work_order_id"
        ok = await client.post(
            "/api/v1/inventory/issues",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": 40,
                "from_location_id": stock["store"]["id"],
                "lot_id": stock["s1"]["id"],
                "work_order_id": order,
            },
        )
        assert ok.status_code == 201, ok.text
        assert ok.json()["quantity"] == -40 and ok.json()["work_order_id"] == order
        before = await snapshot(client)
        short = await client.post(
            "/api/v1/inventory/issues",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": "60.5",
                "from_location_id": stock["store"]["id"],
                "lot_id": stock["s1"]["id"],
            },
        )
        assert short.status_code == 409
        assert short.json()["error"]["message"] == (
            "not enough 'STEEL' at 'STORE' in lot 'S-1': on hand 60 pcs, requested 60.5, short 0.5"
        )
        nowhere = await client.post(
            "/api/v1/inventory/issues",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": 1,
                "from_location_id": stock["line"]["id"],
                "lot_id": stock["s1"]["id"],
            },
        )
        assert nowhere.status_code == 409 and "on hand 0" in nowhere.json()["error"]["message"]
        assert await snapshot(client) == before


async def test_issue_refuses_held_and_expired_lots(
    as_roles: AsRoles, stock: dict[str, Any]
) -> None:
    async with as_roles("admin") as client:
        await receive(client, stock["steel"], stock["store"], 5, "S-OLD", expires_on="2021-03-01")
        old = await lot_by_code(client, stock["steel"]["id"], "S-OLD")
        await client.patch(
            f"/api/v1/inventory/lots/{stock['s1']['id']}", json={"status": "blocked"}
        )
        for lot, reason in ((stock["s1"], "is blocked"), (old, "expired on 2021-03-01")):
            r = await client.post(
                "/api/v1/inventory/issues",
                json={
                    "item_id": stock["steel"]["id"],
                    "quantity": 1,
                    "from_location_id": stock["store"]["id"],
                    "lot_id": lot["id"],
                },
            )
            assert r.status_code == 409 and reason in r.json()["error"]["message"]
            assert r.json()["error"]["details"][0]["field"] == "body.lot_id"


async def test_lot_rules(as_roles: AsRoles, stock: dict[str, Any]) -> None:
    async with as_roles("admin") as client:
        before = await snapshot(client)
        no_lot = await client.post(
            "/api/v1/inventory/receipts",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": 1,
                "to_location_id": stock["store"]["id"],
            },
        )
        assert no_lot.status_code == 422
        assert no_lot.json()["error"]["details"] == [
            {"field": "body.lot_code", "reason": "item 'STEEL' is lot-tracked: a lot is required"}
        ]
        issue_no_lot = await client.post(
            "/api/v1/inventory/issues",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": 1,
                "from_location_id": stock["store"]["id"],
            },
        )
        assert issue_no_lot.status_code == 422
        assert issue_no_lot.json()["error"]["details"][0]["field"] == "body.lot_id"
        wrong_item = await client.post(
            "/api/v1/inventory/issues",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": 1,
                "from_location_id": stock["store"]["id"],
                "lot_id": stock["o1"]["id"],
            },
        )
        assert wrong_item.status_code == 422
        assert "not a lot of item 'STEEL'" in wrong_item.json()["error"]["message"]
        both = await client.post(
            "/api/v1/inventory/receipts",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": 1,
                "to_location_id": stock["store"]["id"],
                "lot_id": stock["s1"]["id"],
                "lot_code": "S-1",
            },
        )
        assert both.status_code == 422
        assert await snapshot(client) == before


async def test_transfer_moves_stock_whatever_the_status(
    as_roles: AsRoles, stock: dict[str, Any]
) -> None:
    async with as_roles("admin") as client:
        await client.patch(
            f"/api/v1/inventory/lots/{stock['s1']['id']}", json={"status": "quarantine"}
        )
    async with as_roles("planner") as client:
        r = await client.post(
            "/api/v1/inventory/transfers",
            json={
                "item_id": stock["steel"]["id"],
                "quantity": 30,
                "from_location_id": stock["store"]["id"],
                "to_location_id": stock["quarantine"]["id"],
                "lot_id": stock["s1"]["id"],
                "reason": "suspect hardness",
            },
        )
        assert r.status_code == 201, r.text
        assert (r.json()["quantity"], r.json()["reason"]) == (30, "suspect hardness")
        rows = await on_hand_rows(client, lot_id=stock["s1"]["id"])
        assert {x["location_code"]: x["quantity"] for x in rows} == {"QA-HOLD": 30, "STORE": 70}
        same = await client.post(
            "/api/v1/inventory/transfers",
            json={
                "item_id": stock["washer"]["id"],
                "quantity": 1,
                "from_location_id": stock["store"]["id"],
                "to_location_id": stock["store"]["id"],
            },
        )
        assert same.status_code == 422
    async with as_roles("admin") as client:
        await client.patch(
            f"/api/v1/inventory/locations/{stock['line']['id']}", json={"active": False}
        )
        closed = await client.post(
            "/api/v1/inventory/transfers",
            json={
                "item_id": stock["washer"]["id"],
                "quantity": 1,
                "from_location_id": stock["store"]["id"],
                "to_location_id": stock["line"]["id"],
            },
        )
        assert closed.status_code == 409
        assert closed.json()["error"]["details"][0]["field"] == "body.to_location_id"
        assert [
            r["quantity"] for r in await on_hand_rows(client, item_id=stock["washer"]["id"])
        ] == [500]


async def test_adjustments_by_delta_and_by_count(as_roles: AsRoles, stock: dict[str, Any]) -> None:
    async with as_roles("supervisor") as client:
        base = {"item_id": stock["washer"]["id"], "location_id": stock["store"]["id"]}
        counted = await client.post(
            "/api/v1/inventory/adjustments",
            json={**base, "counted_quantity": 488, "reason": "cycle count"},
        )
        assert counted.status_code == 201, counted.text
        assert counted.json()["quantity"] == -12
        assert counted.json()["from_location_id"] == stock["store"]["id"]
        plus = await client.post(
            "/api/v1/inventory/adjustments", json={**base, "quantity": "2.5", "reason": "found"}
        )
        assert (
            plus.json()["quantity"] == 2.5 and plus.json()["to_location_id"] == stock["store"]["id"]
        )
        same = await client.post(
            "/api/v1/inventory/adjustments",
            json={**base, "counted_quantity": "490.5", "reason": "count"},
        )
        assert same.status_code == 409
        too_much = await client.post(
            "/api/v1/inventory/adjustments", json={**base, "quantity": -1000, "reason": "lost"}
        )
        assert too_much.status_code == 409
        for body in (
            {**base, "quantity": 1},
            {**base, "quantity": 0, "reason": "x"},
            {**base, "reason": "x"},
            {**base, "quantity": 1, "counted_quantity": 3, "reason": "x"},
            {**base, "counted_quantity": -1, "reason": "x"},
        ):
            assert (
                await client.post("/api/v1/inventory/adjustments", json=body)
            ).status_code == 422
        view = (await client.get(f"/api/v1/inventory/items/{stock['washer']['id']}/on-hand")).json()
        assert view["total"] == 490.5
    async with as_roles("operator") as client:
        denied = await client.post(
            "/api/v1/inventory/adjustments", json={**base, "quantity": 1, "reason": "x"}
        )
        assert denied.status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "body.quantity"),
        ({"quantity": -5}, "body.quantity"),
        ({"quantity": "abc"}, "body.quantity"),
        ({"quantity": "NaN"}, "body.quantity"),
        ({"quantity": "Infinity"}, "body.quantity"),
        ({"quantity": 1e30}, "body.quantity"),
        ({"quantity": "0.0000001"}, "body.quantity"),
        ({"item_id": 0}, "body.item_id"),
        ({"item_id": 2**40}, "body.item_id"),
        ({"to_location_id": "x"}, "body.to_location_id"),
        ({"lot_code": "two words"}, "body.lot_code"),
        ({"lot_status": "lost"}, "body.lot_status"),
        ({"expires_on": "2026-13-01"}, "body.expires_on"),
        ({"surprise": True}, "body.surprise"),
    ],
)
async def test_bad_receipts_are_422_naming_the_field_and_change_nothing(
    as_roles: AsRoles, stock: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    async with as_roles("admin") as client:
        before = await snapshot(client)
        body = {
            "item_id": stock["steel"]["id"],
            "quantity": 1,
            "to_location_id": stock["store"]["id"],
            "lot_code": "S-9",
            **change,
        }
        r = await client.post("/api/v1/inventory/receipts", json=body)
        assert r.status_code == 422, r.text
        assert field in [d["field"] for d in r.json()["error"]["details"]]
        assert await snapshot(client) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/inventory/receipts",
            {"item_id": 999999, "quantity": 1, "to_location_id": 1},
            "body.item_id",
        ),
        (
            "/api/v1/inventory/issues",
            {"item_id": 1, "quantity": 1, "from_location_id": 999999},
            "body.from_location_id",
        ),
        (
            "/api/v1/inventory/issues",
            {"item_id": 1, "quantity": 1, "from_location_id": 1, "lot_id": 999999},
            "body.lot_id",
        ),
    ],
)
async def test_unknown_references_are_404_naming_the_field(
    as_roles: AsRoles, stock: dict[str, Any], path: str, body: dict[str, Any], field: str
) -> None:
    async with as_roles("admin") as client:
        r = await client.post(path, json=body)
    assert r.status_code == 404
    assert r.json()["error"]["details"][0]["field"] == field


async def kanban_transfer(client: httpx.AsyncClient, stock: dict[str, Any]) -> None:
    """50 washers from the store to the line, reference KANBAN-7."""
    r = await client.post(
        "/api/v1/inventory/transfers",
        json={
            "item_id": stock["washer"]["id"],
            "quantity": 50,
            "from_location_id": stock["store"]["id"],
            "to_location_id": stock["line"]["id"],
            "reference": "KANBAN-7",
        },
    )
    assert r.status_code == 201, r.text


async def test_ledger_filters_and_search(as_roles: AsRoles, stock: dict[str, Any]) -> None:
    async with as_roles("admin") as client:
        await kanban_transfer(client, stock)
        ledger = (await client.get("/api/v1/inventory/transactions")).json()
        assert ledger["total"] == 4 and ledger["items"][0]["type"] == "transfer"
        at_line = (
            await client.get(
                "/api/v1/inventory/transactions", params={"location_id": stock["line"]["id"]}
            )
        ).json()
        assert [t["reference"] for t in at_line["items"]] == ["KANBAN-7"]
        receipts = (
            await client.get(
                "/api/v1/inventory/transactions", params={"type": "receipt", "sort": "id"}
            )
        ).json()
        assert [t["item_id"] for t in receipts["items"]] == [
            stock["steel"]["id"],
            stock["washer"]["id"],
            stock["other"]["id"],
        ]
        searched = (await client.get("/api/v1/inventory/transactions", params={"q": "po-1"})).json()
        assert searched["total"] == 1
        one = await client.get(f"/api/v1/inventory/transactions/{searched['items'][0]['id']}")
        assert one.json() == searched["items"][0]
        assert (await client.get("/api/v1/inventory/transactions/999999")).status_code == 404
        future = (
            await client.get(
                "/api/v1/inventory/transactions", params={"since": "2999-01-01T00:00:00Z"}
            )
        ).json()
        assert future["total"] == 0
        assert (
            await client.get("/api/v1/inventory/transactions", params={"type": "theft"})
        ).status_code == 422


async def test_ledger_search_covers_item_and_lot_codes(
    as_roles: AsRoles, stock: dict[str, Any]
) -> None:
    async with as_roles("admin") as client:
        await kanban_transfer(client, stock)

        async def found(**params: Any) -> tuple[list[tuple[str, str]], int]:
            r = await client.get("/api/v1/inventory/transactions", params=params)
            assert r.status_code == 200, r.text
            codes = {stock[k]["id"]: stock[k]["code"] for k in ("steel", "washer", "other")}
            page = r.json()
            return [(codes[t["item_id"]], t["type"]) for t in page["items"]], page["total"]

        # the item's code, newest first
        assert await found(q="washer") == ([("WASHER", "transfer"), ("WASHER", "receipt")], 2)
        assert await found(q="item steel") == ([("STEEL", "receipt")], 1)  # the item's name
        assert await found(q="s-1") == ([("STEEL", "receipt")], 1)  # the lot's code
        # lot O-1 and reference PO-1
        assert await found(q="O-1") == ([("OTHER", "receipt"), ("STEEL", "receipt")], 2)
        assert await found(q="kanban") == ([("WASHER", "transfer")], 1)  # reference, as before
        assert await found(q="nothing like it") == ([], 0)
        assert await found(q="washer", type="receipt") == ([("WASHER", "receipt")], 1)
        by_quantity = ["OTHER", "WASHER", "STEEL", "WASHER"]  # 3, 50, 100, 500
        ascending, total = await found(q="item", sort="quantity")
        assert ([code for code, _ in ascending], total) == (by_quantity, 4)
        descending, total = await found(q="item", sort="-quantity")
        assert ([code for code, _ in descending], total) == (by_quantity[::-1], 4)
        assert await found(q="item", sort="id", limit=2, offset=2) == (
            [("OTHER", "receipt"), ("WASHER", "transfer")],
            4,
        )
        assert await found(q="item", offset=10) == ([], 4)
        bad = await client.get("/api/v1/inventory/transactions", params={"q": "x", "sort": "lot"})
        assert bad.status_code == 422
        assert [d["field"] for d in bad.json()["error"]["details"]] == ["query.sort"]
