"""Completion: production receipt + backflush + genealogy + transition in one transaction."""

from __future__ import annotations

from typing import Any

import httpx

from tests.core.work_orders.helpers import Shop, act, make_order, make_shop
from tests.support.api import AsRoles


async def _in_progress_with_output(client: httpx.AsyncClient, shop: Shop) -> dict[str, Any]:
    """An order in progress with good 10 and scrap 2 reported (12 pieces made)."""
    order = await make_order(client, shop)
    op10, op20 = (o["id"] for o in order["operations"])
    await act(client, order, "release")
    await act(client, order, "start")
    for op, good, scrap in [(op10, "12", "1"), (op20, "10", "1")]:
        r = await client.post(
            f"/api/v1/work-orders/{order['id']}/reports",
            json={"operation_id": op, "good_quantity": good, "scrap_quantity": scrap},
        )
        assert r.status_code == 201, r.text
    return order


async def _stock(client: httpx.AsyncClient, item: dict[str, Any]) -> float:
    r = await client.get(f"/api/v1/inventory/items/{item['id']}/on-hand")
    assert r.status_code == 200, r.text
    return float(r.json()["total"])


async def _state(client: httpx.AsyncClient, shop: Shop, order: dict[str, Any]) -> dict[str, Any]:
    """Everything a completion could touch."""
    return {
        "order": (await client.get(f"/api/v1/work-orders/{order['id']}")).json(),
        "transitions": (await client.get(f"/api/v1/work-orders/{order['id']}/transitions")).json()[
            "items"
        ],
        "bar": await _stock(client, shop.bar),
        "coolant": await _stock(client, shop.coolant),
        "shaft_lots": (
            await client.get("/api/v1/inventory/lots", params={"item_id": shop.shaft["id"]})
        ).json()["total"],
        "transactions": (await client.get("/api/v1/inventory/transactions")).json()["total"],
        "audit": (await client.get("/api/v1/audit")).json()["total"],
    }


async def test_completion_receives_backflushes_and_links_lots(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await _in_progress_with_output(client, shop)
        r = await client.post(
            f"/api/v1/work-orders/{order['id']}/complete",
            json={"location_id": shop.store["id"], "lot_code": "SH-0001", "comment": "done"},
        )
        assert r.status_code == 200, r.text
        done = r.json()
        bar_left = await _stock(client, shop.bar)
        coolant_left = await _stock(client, shop.coolant)
        shafts = await _stock(client, shop.shaft)
        trace = (await client.get(f"/api/v1/inventory/lots/{done['lot_id']}/trace/backward")).json()
        transitions = (await client.get(f"/api/v1/work-orders/{order['id']}/transitions")).json()[
            "items"
        ]
        again = await client.post(
            f"/api/v1/work-orders/{order['id']}/complete", json={"location_id": shop.store["id"]}
        )
    wo = done["work_order"]
    assert wo["status"] == "completed" and wo["actual_end"] is not None
    assert wo["lot_code"] == "SH-0001" == done["lot_code"]
    assert [o["status"] for o in wo["operations"]] == ["done", "done"]
    assert done["received_quantity"] == 10
    # 12 pieces made (good + scrap): BAR 12 x 0.5 x 1.1 = 6.6 m, COOLANT 12 x 0.01 = 0.12 l
    assert {c["item_id"]: c["quantity"] for c in done["consumed"]} == {
        shop.bar["id"]: 6.6,
        shop.coolant["id"]: 0.12,
    }
    assert (bar_left, coolant_left, shafts) == (93.4, 9.88, 10.0)
    assert "BAR-L1" in {lot["lot_code"] for lot in trace["lots"]}
    assert transitions[-1]["to_status"] == "completed" and transitions[-1]["comment"] == "done"
    assert again.status_code == 409


async def test_failed_completion_leaves_nothing_half_done(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client, stock_bar="5")  # 6.6 m needed
        order = await _in_progress_with_output(client, shop)
        before = await _state(client, shop, order)
        r = await client.post(
            f"/api/v1/work-orders/{order['id']}/complete", json={"location_id": shop.store["id"]}
        )
        after = await _state(client, shop, order)
    assert r.status_code == 409, r.text
    message = r.json()["error"]["message"]
    assert "BAR" in message and "short 1.6" in message
    # the components come from the BOM, not the request: no field to point at
    assert [d["field"] for d in r.json()["error"]["details"]] == [None]
    assert after == before
    assert after["order"]["status"] == "in_progress" and after["shaft_lots"] == 0


async def test_completion_needs_good_output_and_a_valid_location(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await make_order(client, shop)
        await act(client, order, "release")
        await act(client, order, "start")
        nothing = await client.post(
            f"/api/v1/work-orders/{order['id']}/complete", json={"location_id": shop.store["id"]}
        )
        assert nothing.status_code == 409 and "no good quantity" in nothing.text
        order = await _in_progress_with_output(client, shop)
        before = await _state(client, shop, order)
        unknown = await client.post(
            f"/api/v1/work-orders/{order['id']}/complete", json={"location_id": 999999}
        )
        missing = await client.post(f"/api/v1/work-orders/{order['id']}/complete", json={})
        after = await _state(client, shop, order)
    assert unknown.status_code in (404, 422), unknown.text
    assert missing.status_code == 422
    assert "body.location_id" in [d["field"] for d in missing.json()["error"]["details"]]
    assert after == before


async def test_completing_from_paused_and_without_bom(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        shop = await make_shop(client)
        order = await _in_progress_with_output(client, shop)
        await act(client, order, "pause")
        r = await client.post(
            f"/api/v1/work-orders/{order['id']}/complete", json={"location_id": shop.store["id"]}
        )
        assert r.status_code == 200, r.text
        assert r.json()["lot_code"].startswith(f"WO{order['id']}-")
        loose = (
            await client.post(
                "/api/v1/items",
                json={"code": "SPACER", "name": "Spacer", "type": "finished", "unit": "pcs"},
            )
        ).json()
        plain = (
            await client.post("/api/v1/work-orders", json={"item_id": loose["id"], "quantity": 5})
        ).json()
        assert plain["operations"] == []
        await act(client, plain, "release")
        await act(client, plain, "start")
        rep = await client.post(
            f"/api/v1/work-orders/{plain['id']}/reports", json={"good_quantity": 5}
        )
        assert rep.status_code == 201, rep.text
        done = await client.post(
            f"/api/v1/work-orders/{plain['id']}/complete", json={"location_id": shop.store["id"]}
        )
    assert done.status_code == 200, done.text
    assert done.json()["consumed"] == [] and done.json()["received_quantity"] == 5
