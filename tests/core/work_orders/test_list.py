"""The work-order list: search through order and item, escaped wildcards, sort and pages, rows
that carry the same fields as the order itself."""

from __future__ import annotations

from typing import Any

import httpx

from tests.core.bom.helpers import make_item
from tests.core.work_orders.helpers import make_order, make_shop
from tests.support.api import AsRoles


async def _all(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/work-orders", params=params)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


async def test_search_matches_order_code_item_code_and_item_name(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        gear = await make_item(client, "GEAR-2", type="finished")
        shafts = [await make_order(client, shop) for _ in range(2)]
        gears = [await make_order(client, shop, item_id=gear["id"]) for _ in range(3)]
        by_name = await _all(client, q="gear-2 NAME")
        by_code = await _all(client, q="ear-")
        by_order = await _all(client, q=shafts[1]["code"].lower())
        wildcard = await _all(client, q="%")
        underscore = await _all(client, q="_")
    assert by_name["total"] == 3
    assert [o["id"] for o in by_name["items"]] == [o["id"] for o in reversed(gears)]
    assert {o["item_code"] for o in by_code["items"]} == {"GEAR-2"}
    assert [o["id"] for o in by_order["items"]] == [shafts[1]["id"]]
    assert (wildcard["total"], underscore["total"]) == (0, 0)


async def test_pages_by_item_code_cover_every_order_once(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        gear = await make_item(client, "GEAR-2", type="finished")
        made = [await make_order(client, shop, item_id=gear["id"]) for _ in range(3)]
        made += [await make_order(client, shop) for _ in range(2)]
        pages = [
            await _all(client, sort="item_code", limit=2, offset=offset) for offset in (0, 2, 4)
        ]
        descending = await _all(client, sort="-item_code,id")
    assert [p["total"] for p in pages] == [5, 5, 5]
    seen = [(o["item_code"], o["id"]) for p in pages for o in p["items"]]
    # ties on the item code come newest first (the id is the last sort key)
    gears = sorted((o["id"] for o in made[:3]), reverse=True)
    shafts = sorted((o["id"] for o in made[3:]), reverse=True)
    assert seen == [("GEAR-2", i) for i in gears] + [("SHAFT", i) for i in shafts]
    assert [o["id"] for o in descending["items"]] == sorted(shafts) + sorted(gears)


async def test_list_rows_equal_the_order_without_operations(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await make_order(client, shop, due_date="2026-12-04", note="rush")
        machine = shop.plant["L1"]
        listed = await _all(client, line_id=machine["id"], q=order["code"])
        detail = (await client.get(f"/api/v1/work-orders/{order['id']}")).json()
    assert listed["total"] == 1
    row = listed["items"][0]
    assert row == {k: v for k, v in detail.items() if k != "operations"}
    assert (row["item_name"], row["unit"], row["line_code"]) == ("SHAFT name", "pcs", "L1")


async def test_search_pages_carry_the_total_and_a_page_past_the_end_too(
    as_roles: AsRoles,
) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        gear = await make_item(client, "GEAR-2", type="finished")
        made = [await make_order(client, shop, item_id=gear["id"]) for _ in range(5)]
        await make_order(client, shop)  # a shaft: not found by the search
        pages = [
            await _all(client, q="gear", sort="item_code", limit=2, offset=offset)
            for offset in (0, 2, 4, 6)
        ]
        unsearched = await _all(client, limit=2, offset=10)
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    assert [o["id"] for p in pages for o in p["items"]] == sorted(
        (o["id"] for o in made), reverse=True
    )
    assert "total" not in pages[0]["items"][0]  # the window's count is not a field of a row
    assert (unsearched["total"], unsearched["items"]) == (6, [])
