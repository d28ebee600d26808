"""A small plant through the API: site KNU, area MACH, line L1 with two machines."""

from __future__ import annotations

from typing import Any

import httpx


async def make_equipment(
    client: httpx.AsyncClient, code: str, level: str, parent: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    """Create one node and return it."""
    body = {
        "code": code,
        "name": f"{code} name",
        "level": level,
        "parent_id": parent["id"] if parent else None,
        **extra,
    }
    r = await client.post("/api/v1/equipment", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def make_plant(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """KNU > MACH > L1 > {CNC-1 (cnc, 30 s), MILL-1 (mill, 45 s)}."""
    site = await make_equipment(client, "KNU", "site", None)
    area = await make_equipment(client, "MACH", "area", site)
    line = await make_equipment(client, "L1", "line", area)
    cnc = await make_equipment(
        client,
        "CNC-1",
        "machine",
        line,
        type="cnc",
        capabilities=["turning", "threading"],
        ideal_cycle_time_s="30",
    )
    mill = await make_equipment(
        client,
        "MILL-1",
        "machine",
        line,
        type="mill",
        capabilities=["milling"],
        ideal_cycle_time_s="45",
    )
    return {"KNU": site, "MACH": area, "L1": line, "CNC-1": cnc, "MILL-1": mill}
