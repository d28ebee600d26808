"""A shaft made on a small plant: items, BOM, routing, equipment and stock through the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.core.bom.helpers import make_bom, make_item
from tests.core.equipment.helpers import make_plant


@dataclass
class Shop:
    """Ids of what `make_shop` created."""

    plant: dict[str, dict[str, Any]]
    shaft: dict[str, Any]
    bar: dict[str, Any]
    coolant: dict[str, Any]
    store: dict[str, Any]


async def make_shop(client: httpx.AsyncClient, *, stock_bar: str | None = "100") -> Shop:
    """SHAFT <- 0.5 m BAR (scrap 10 %) + 0.01 l COOLANT; routing 10 Turn (L1, cnc), 20 Mill
    (mill); location STORE with `stock_bar` m of BAR in lot BAR-L1 and 10 l of COOLANT.
    The client needs admin rights."""
    plant = await make_plant(client)
    shaft = await make_item(client, "SHAFT", type="finished", lot_tracked=True)
    bar = await make_item(client, "BAR", unit="m", lot_tracked=True)
    coolant = await make_item(client, "COOLANT", type="consumable", unit="l")
    await make_bom(client, shaft["id"], [(bar["id"], "0.5", "0.1"), (coolant["id"], "0.01")])
    routing = {
        "item_id": shaft["id"],
        "name": "Shaft",
        "operations": [
            {
                "sequence": 10,
                "name": "Turn",
                "work_center_id": plant["L1"]["id"],
                "equipment_type": "cnc",
                "ideal_cycle_time_s": "30",
            },
            {"sequence": 20, "name": "Mill", "equipment_type": "mill", "ideal_cycle_time_s": "45"},
        ],
    }
    r = await client.post("/api/v1/routings", json=routing)
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/inventory/locations", json={"code": "STORE", "name": "Store", "type": "line_side"}
    )
    assert r.status_code == 201, r.text
    store = r.json()
    if stock_bar is not None:
        await receive(client, bar, store, stock_bar, "BAR-L1")
    await receive(client, coolant, store, "10")
    return Shop(plant=plant, shaft=shaft, bar=bar, coolant=coolant, store=store)


async def receive(
    client: httpx.AsyncClient,
    item: dict[str, Any],
    location: dict[str, Any],
    quantity: str,
    lot_code: str | None = None,
) -> None:
    """Receive stock into a location."""
    body: dict[str, Any] = {
        "item_id": item["id"],
        "quantity": quantity,
        "to_location_id": location["id"],
    }
    if lot_code:
        body["lot_code"] = lot_code
    r = await client.post("/api/v1/inventory/receipts", json=body)
    assert r.status_code == 201, r.text


async def make_order(
    client: httpx.AsyncClient, shop: Shop, quantity: str = "20", **extra: Any
) -> dict[str, Any]:
    """A planned work order for shafts on L1."""
    body = {
        "item_id": shop.shaft["id"],
        "quantity": quantity,
        "line_id": shop.plant["L1"]["id"],
        **extra,
    }
    r = await client.post("/api/v1/work-orders", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def act(client: httpx.AsyncClient, order: dict[str, Any], action: str) -> dict[str, Any]:
    """Apply a state action that must succeed."""
    r = await client.post(f"/api/v1/work-orders/{order['id']}/{action}")
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result
