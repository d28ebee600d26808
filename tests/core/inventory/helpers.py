"""Building blocks for inventory tests: items, locations and stock made through the API."""

from __future__ import annotations

from typing import Any

import httpx


async def make_item(
    client: httpx.AsyncClient, code: str, *, lot_tracked: bool = True, unit: str = "pcs"
) -> dict[str, Any]:
    """Create an item (the client needs items:write)."""
    r = await client.post(
        "/api/v1/items",
        json={
            "code": code,
            "name": f"Item {code}",
            "type": "raw",
            "unit": unit,
            "lot_tracked": lot_tracked,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def make_location(
    client: httpx.AsyncClient, code: str, *, type: str = "warehouse", **extra: Any
) -> dict[str, Any]:
    """Create a location (the client needs inventory:configure)."""
    r = await client.post(
        "/api/v1/inventory/locations",
        json={"code": code, "name": f"Location {code}", "type": type, **extra},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def receive(
    client: httpx.AsyncClient,
    item: dict[str, Any],
    location: dict[str, Any],
    quantity: float | str,
    lot_code: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Receive stock (the client needs inventory:move)."""
    body = {"item_id": item["id"], "quantity": quantity, "to_location_id": location["id"], **extra}
    if lot_code is not None:
        body["lot_code"] = lot_code
    r = await client.post("/api/v1/inventory/receipts", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def lot_by_code(client: httpx.AsyncClient, item_id: int, code: str) -> dict[str, Any]:
    """The item's lot with that code."""
    page = (
        await client.get("/api/v1/inventory/lots", params={"item_id": item_id, "q": code})
    ).json()
    found = [lot for lot in page["items"] if lot["code"] == code]
    assert len(found) == 1, page
    return dict(found[0])


async def on_hand_rows(client: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    """Stock rows matching the filters."""
    r = await client.get("/api/v1/inventory/stock", params={"limit": 500, **filters})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def make_work_order(
    client: httpx.AsyncClient, item: dict[str, Any], quantity: int = 10
) -> int:
    """Create a planned work order for the item (the client needs work_orders:write); its id."""
    r = await client.post("/api/v1/work-orders", json={"item_id": item["id"], "quantity": quantity})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])
