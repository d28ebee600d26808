"""API helpers shared by the production domain tests: items and BOMs in a few calls."""

from __future__ import annotations

from typing import Any

import httpx


async def make_item(
    client: httpx.AsyncClient, code: str, *, type: str = "raw", unit: str = "pcs", **extra: Any
) -> dict[str, Any]:
    """Create an item and return it."""
    body = {"code": code, "name": f"{code} name", "type": type, "unit": unit, **extra}
    r = await client.post("/api/v1/items", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def make_bom(
    client: httpx.AsyncClient,
    item_id: int,
    lines: list[tuple[int, str] | tuple[int, str, str]],
    *,
    activate: bool = True,
    effective_from: str | None = None,
    quantity: str = "1",
) -> dict[str, Any]:
    """Create a BOM version from (component id, quantity[, scrap factor]) and activate it."""
    body = {
        "item_id": item_id,
        "quantity": quantity,
        "lines": [
            {"component_item_id": c, "quantity": q, "scrap_factor": s[0] if s else "0"}
            for c, q, *s in lines
        ],
    }
    r = await client.post("/api/v1/bom", json=body)
    assert r.status_code == 201, r.text
    bom: dict[str, Any] = r.json()
    if activate:
        payload = {"effective_from": effective_from} if effective_from else {}
        r = await client.post(f"/api/v1/bom/{bom['id']}/activate", json=payload)
        assert r.status_code == 200, r.text
        bom = r.json()
    return bom


async def make_pump(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """PUMP <- 2 x SHAFT (10 % scrap) + 1 x HOUSING; SHAFT <- 0.5 m BAR; HOUSING <- 4 x BOLT.
    Returns `{"items": {code: item}, "boms": {code: active BOM}}`."""
    items = {
        code: await make_item(client, code, type=kind, unit=unit)
        for code, kind, unit in [
            ("PUMP", "finished", "pcs"),
            ("SHAFT", "semi_finished", "pcs"),
            ("HOUSING", "semi_finished", "pcs"),
            ("BAR", "raw", "m"),
            ("BOLT", "raw", "pcs"),
        ]
    }
    boms = {
        "SHAFT": await make_bom(client, items["SHAFT"]["id"], [(items["BAR"]["id"], "0.5")]),
        "HOUSING": await make_bom(client, items["HOUSING"]["id"], [(items["BOLT"]["id"], "4")]),
        "PUMP": await make_bom(
            client,
            items["PUMP"]["id"],
            [(items["SHAFT"]["id"], "2", "0.1"), (items["HOUSING"]["id"], "1")],
        ),
    }
    return {"items": items, "boms": boms}
