"""The search text the database keeps on work orders and stock (migration 0109): lists find rows
by their item's current code and name and their lot's current code, and never across two fields.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.core.inventory.helpers import lot_by_code, make_location, receive
from tests.core.work_orders.helpers import make_order, make_shop
from tests.support.api import AsRoles
from tests.support.databases import TestDb


async def _total(client: httpx.AsyncClient, path: str, **params: Any) -> int:
    r = await client.get(path, params=params)
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


async def test_lists_follow_a_renamed_item(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        orders = [await make_order(client, shop) for _ in range(2)]
        renamed = await client.patch(
            f"/api/v1/items/{shop.shaft['id']}", json={"name": "Rear axle"}
        )
        assert renamed.status_code == 200, renamed.text
        await receive(client, shop.shaft, await make_location(client, "YARD"), 4, "AX-1")
        found = {
            q: (
                await _total(client, "/api/v1/work-orders", q=q),
                await _total(client, "/api/v1/inventory/stock", q=q),
            )
            for q in ("rear AXLE", "shaft name", "SHAFT", "ax-1")
        }
        by_code = await client.get("/api/v1/work-orders", params={"q": orders[0]["code"]})
    assert found == {"rear AXLE": (2, 1), "shaft name": (0, 0), "SHAFT": (2, 1), "ax-1": (0, 1)}
    assert [o["id"] for o in by_code.json()["items"]] == [orders[0]["id"]]


async def test_a_search_never_spans_two_fields(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await make_order(client, shop)
        tail_and_item = order["code"][-2:] + "shaft"  # end of the order code + the item code
        across = await _total(client, "/api/v1/work-orders", q=tail_and_item)
        lot_and_item = await _total(client, "/api/v1/inventory/stock", q="barbar-l1")
        within = await _total(client, "/api/v1/inventory/stock", q="bar-l1")
    assert (across, lot_and_item, within) == (0, 0, 1)


async def test_triggers_keep_the_text_of_rows_written_by_sql(as_roles: AsRoles, db: TestDb) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        lot = await lot_by_code(client, shop.bar["id"], "BAR-L1")
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE lot SET code = 'BAR-L9' WHERE id = %s", (lot["id"],))
        conn.execute("UPDATE item SET code = 'CL-2' WHERE id = %s", (shop.coolant["id"],))
        conn.execute(
            "INSERT INTO work_order (code, item_id, quantity, status, priority, good_quantity, "
            "scrap_quantity) "
            "VALUES ('WO-SQL-1', %s, 1, 'planned', 500, 0, 0)",
            (shop.bar["id"],),
        )
        texts = conn.execute(
            "SELECT s.search_text FROM stock s WHERE s.lot_id = %s OR s.item_id = %s "
            "UNION ALL SELECT w.search_text FROM work_order w WHERE w.code = 'WO-SQL-1'",
            (lot["id"], shop.coolant["id"]),
        ).fetchall()
    assert sorted(texts) == [
        ("bar\x1fbar name\x1fbar-l9",),
        ("cl-2\x1fcoolant name",),
        ("wo-sql-1\x1fbar\x1fbar name",),
    ]
