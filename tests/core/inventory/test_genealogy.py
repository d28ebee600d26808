"""Lot genealogy over several levels, backward and forward, as tree and flat list; cycles in
the links and the depth limit end the trace."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI

from core.inventory import service as inventory
from core.inventory.models import LotLink
from tests.core.inventory.helpers import (
    lot_by_code,
    make_item,
    make_location,
    make_work_order,
    receive,
)
from tests.support.api import AsRoles, principal_for

OPERATOR = principal_for("operator")


async def complete(
    app: FastAPI,
    *,
    work_order_id: int,
    item: dict[str, Any],
    quantity: int,
    location: dict[str, Any],
    components: list[tuple[dict[str, Any], int]],
    lot_code: str,
) -> int:
    """A work-order completion as the production flow does it: receipt + backflush, one commit."""
    async with app.state.db.sessions() as session:
        lot = await inventory.receive_production(
            session=session,
            principal=OPERATOR,
            work_order_id=work_order_id,
            item_id=item["id"],
            quantity=Decimal(quantity),
            location_id=location["id"],
            lot_code=lot_code,
        )
        await inventory.backflush(
            session=session,
            principal=OPERATOR,
            work_order_id=work_order_id,
            produced_lot_id=lot.id,
            components=[(c["id"], Decimal(q)) for c, q in components],
            location_id=location["id"],
        )
        await session.commit()
        return lot.id


@pytest.fixture
async def pumps(app: FastAPI, as_roles: AsRoles) -> dict[str, Any]:
    """steel lots -> shaft lot (WO 1); shaft + housing lots -> pump lot (WO 2)."""
    async with as_roles("admin") as client:
        steel = await make_item(client, "STEEL")
        housing = await make_item(client, "HOUSING")
        shaft = await make_item(client, "SHAFT")
        pump = await make_item(client, "PUMP")
        line = await make_location(client, "LINE", type="line_side")
        await receive(client, steel, line, 6, "ST-A")
        await receive(client, steel, line, 10, "ST-B")
        await receive(client, housing, line, 10, "HS-1")
        shaft_lot = await complete(
            app,
            work_order_id=await make_work_order(client, shaft),
            item=shaft,
            quantity=10,
            location=line,
            components=[(steel, 10)],
            lot_code="SHAFT-L1",
        )
        pump_lot = await complete(
            app,
            work_order_id=await make_work_order(client, pump),
            item=pump,
            quantity=4,
            location=line,
            components=[(shaft, 4), (housing, 4)],
            lot_code="PUMP-L1",
        )
        return {
            "st_a": (await lot_by_code(client, steel["id"], "ST-A"))["id"],
            "st_b": (await lot_by_code(client, steel["id"], "ST-B"))["id"],
            "hs_1": (await lot_by_code(client, housing["id"], "HS-1"))["id"],
            "shaft": shaft_lot,
            "pump": pump_lot,
        }


def shape(nodes: list[dict[str, Any]]) -> list[Any]:
    return [(n["lot_code"], n["quantity"], n["level"], shape(n["children"])) for n in nodes]


async def test_backward_trace_of_the_pump(as_roles: AsRoles, pumps: dict[str, Any]) -> None:
    async with as_roles("quality") as client:
        r = await client.get(f"/api/v1/inventory/lots/{pumps['pump']}/trace/backward")
        assert r.status_code == 200, r.text
        trace = r.json()
    assert (trace["lot_code"], trace["item_code"], trace["direction"]) == (
        "PUMP-L1",
        "PUMP",
        "backward",
    )
    assert sorted(shape(trace["tree"])) == [
        ("HS-1", 4, 1, []),
        ("SHAFT-L1", 4, 1, [("ST-A", 6, 2, []), ("ST-B", 4, 2, [])]),
    ]
    assert [(x["lot_code"], x["item_code"], x["level"]) for x in trace["lots"]] == [
        ("HS-1", "HOUSING", 1),
        ("SHAFT-L1", "SHAFT", 1),
        ("ST-A", "STEEL", 2),
        ("ST-B", "STEEL", 2),
    ]
    assert trace["truncated"] is False


async def test_forward_trace_gives_the_recall_impact(
    as_roles: AsRoles, pumps: dict[str, Any]
) -> None:
    async with as_roles("operator") as client:
        trace = (await client.get(f"/api/v1/inventory/lots/{pumps['st_b']}/trace/forward")).json()
    assert shape(trace["tree"]) == [("SHAFT-L1", 4, 1, [("PUMP-L1", 4, 2, [])])]
    assert [(x["lot_code"], x["level"], x["on_hand"], x["status"]) for x in trace["lots"]] == [
        ("SHAFT-L1", 1, 6, "released"),
        ("PUMP-L1", 2, 4, "released"),
    ]


async def test_lot_without_links_has_an_empty_trace(
    as_roles: AsRoles, pumps: dict[str, Any]
) -> None:
    async with as_roles("operator") as client:
        forward = (await client.get(f"/api/v1/inventory/lots/{pumps['pump']}/trace/forward")).json()
        backward = (
            await client.get(f"/api/v1/inventory/lots/{pumps['st_a']}/trace/backward")
        ).json()
        assert forward["tree"] == [] and forward["lots"] == []
        assert backward["tree"] == [] and backward["lots"] == []
        assert (await client.get("/api/v1/inventory/lots/999999/trace/forward")).status_code == 404
        assert (
            await client.get(
                f"/api/v1/inventory/lots/{pumps['pump']}/trace/backward", params={"max_depth": 0}
            )
        ).status_code == 422


async def test_cycles_and_depth_limit_end_the_trace(
    app: FastAPI, as_roles: AsRoles, pumps: dict[str, Any]
) -> None:
    async with (
        app.state.db.sessions() as session
    ):  # a rework loop: the pump lot fed back into the shaft lot
        session.add(LotLink(parent_lot_id=pumps["shaft"], child_lot_id=pumps["pump"], quantity=1))
        await session.commit()
    async with as_roles("operator") as client:
        trace = (await client.get(f"/api/v1/inventory/lots/{pumps['st_b']}/trace/forward")).json()
        assert shape(trace["tree"]) == [("SHAFT-L1", 4, 1, [("PUMP-L1", 4, 2, [])])]
        shallow = (
            await client.get(
                f"/api/v1/inventory/lots/{pumps['pump']}/trace/backward", params={"max_depth": 1}
            )
        ).json()
        assert sorted(shape(shallow["tree"])) == [("HS-1", 4, 1, []), ("SHAFT-L1", 4, 1, [])]
        assert shallow["truncated"] is True
