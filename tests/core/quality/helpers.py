"""Building blocks for quality tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.core.inventory.helpers import make_item

NewOrder = Callable[[int], Awaitable[int]]
"""Type of the `new_order` fixture: `await new_order(item_id)` -> a new work order's id."""

OD = {
    "code": "OD",
    "name": "Outer diameter",
    "kind": "numeric",
    "unit": "mm",
    "lsl": "19.95",
    "usl": "20.05",
    "target": "20.00",
    "sample_size": 3,
}
BURR = {"code": "BURR", "name": "Free of burrs", "kind": "attribute"}


async def make_plan(
    client: httpx.AsyncClient,
    item: dict[str, Any] | None = None,
    *,
    code: str = "QP-SHAFT",
    characteristics: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Create a plan (the client needs items:write and quality:plan, e.g. admin)."""
    if item is None:
        item = await make_item(client, "SHAFT")
    r = await client.post(
        "/api/v1/quality/plans",
        json={
            "code": code,
            "name": f"Plan {code}",
            "item_id": item["id"],
            "characteristics": [OD, BURR] if characteristics is None else characteristics,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def characteristic(plan: dict[str, Any], code: str) -> dict[str, Any]:
    """The plan's characteristic with that code."""
    return dict(next(c for c in plan["characteristics"] if c["code"] == code))


async def start(client: httpx.AsyncClient, plan: dict[str, Any], **subject: Any) -> dict[str, Any]:
    """Start an inspection of a subject (work_order_id and/or lot_id)."""
    r = await client.post(
        "/api/v1/quality/inspections",
        json={"plan_id": plan["id"], **subject},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def record(
    client: httpx.AsyncClient, inspection: dict[str, Any], results: list[dict[str, Any]]
) -> httpx.Response:
    """Post results to an inspection."""
    return await client.post(
        f"/api/v1/quality/inspections/{inspection['id']}/results", json={"results": results}
    )
