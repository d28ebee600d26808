"""Real concurrency against PostgreSQL: parallel requests and parallel sessions on the same
stock never drive it negative, never lose an update and never deadlock."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select, text

from core.errors import Conflict
from core.inventory import service as inventory
from core.inventory.models import InventoryTransaction, LotLink
from core.inventory.schemas import IssueCreate
from tests.core.inventory.helpers import (
    lot_by_code,
    make_item,
    make_location,
    make_work_order,
    receive,
)
from tests.support.api import AsRoles, principal_for

PARALLEL = 20


async def test_parallel_issue_requests_never_go_negative(app: FastAPI, as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        item = await make_item(client, "RESIN")
        line = await make_location(client, "L2-SIDE", type="line_side")
        await receive(client, item, line, 100, "R-1")
        lot = await lot_by_code(client, item["id"], "R-1")
        body = {
            "item_id": item["id"],
            "quantity": 7,
            "from_location_id": line["id"],
            "lot_id": lot["id"],
        }
        responses = await asyncio.gather(
            *(client.post("/api/v1/inventory/issues", json=body) for _ in range(PARALLEL))
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 14, 409: 6}, [r.text for r in responses if r.status_code >= 500]
        assert all(
            "short" in r.json()["error"]["message"] for r in responses if r.status_code == 409
        )
        after = (await client.get(f"/api/v1/inventory/lots/{lot['id']}")).json()
        assert after["on_hand"] == 2
        ledger = (
            await client.get(
                "/api/v1/inventory/transactions", params={"lot_id": lot["id"], "type": "issue"}
            )
        ).json()
        assert ledger["total"] == 14
        assert sum(t["quantity"] for t in ledger["items"]) == -98


async def test_parallel_sessions_issue_at_the_same_moment(app: FastAPI, as_roles: AsRoles) -> None:
    """20 sessions each hold an open transaction, meet at a barrier, then issue together."""
    async with as_roles("admin") as client:
        item = await make_item(client, "FOIL")
        line = await make_location(client, "L3-SIDE", type="line_side")
        await receive(client, item, line, 50, "F-1")
        lot = await lot_by_code(client, item["id"], "F-1")
    barrier = asyncio.Barrier(PARALLEL)
    operator = principal_for("operator")

    async def one(n: int) -> str:
        async with app.state.db.sessions() as session:
            await session.execute(text("SELECT 1"))  # each has its own connection and transaction
            await barrier.wait()
            try:
                await inventory.issue(
                    session=session,
                    principal=operator,
                    data=IssueCreate(
                        item_id=item["id"],
                        quantity=Decimal(3),
                        from_location_id=line["id"],
                        lot_id=lot["id"],
                        reference=f"pick-{n}",
                    ),
                )
            except Conflict:
                return "short"
            return "issued"

    outcomes = Counter(await asyncio.gather(*(one(n) for n in range(PARALLEL))))
    assert outcomes == {"issued": 16, "short": 4}
    async with app.state.db.sessions() as session:
        assert await inventory.on_hand(session=session, item_id=item["id"]) == 2
        booked = await session.scalar(
            select(func.sum(InventoryTransaction.quantity)).where(
                InventoryTransaction.item_id == item["id"]
            )
        )
        assert booked == 2  # +50 received, 16 x -3 issued


async def test_parallel_receipts_lose_no_update(app: FastAPI, as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        item = await make_item(client, "NUT-M6", lot_tracked=False)
        store = await make_location(client, "WH-9")
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/inventory/receipts",
                    json={"item_id": item["id"], "quantity": "1.5", "to_location_id": store["id"]},
                )
                for _ in range(PARALLEL)
            )
        )
        assert [r.status_code for r in responses] == [201] * PARALLEL
        on_hand = (await client.get(f"/api/v1/inventory/items/{item['id']}/on-hand")).json()
        assert on_hand["total"] == 30


async def test_parallel_new_lot_receipts_create_one_lot(app: FastAPI, as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        item = await make_item(client, "GLUE")
        store = await make_location(client, "WH-8")
        responses = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/inventory/receipts",
                    json={
                        "item_id": item["id"],
                        "quantity": 2,
                        "to_location_id": store["id"],
                        "lot_code": "G-NEW",
                    },
                )
                for _ in range(PARALLEL)
            )
        )
        assert [r.status_code for r in responses] == [201] * PARALLEL
        lots = (await client.get("/api/v1/inventory/lots", params={"item_id": item["id"]})).json()
        assert lots["total"] == 1
        assert lots["items"][0]["on_hand"] == 40
        assert lots["items"][0]["received_quantity"] == 40


async def test_opposite_transfers_do_not_deadlock(app: FastAPI, as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        item = await make_item(client, "PIN")
        a = await make_location(client, "A")
        b = await make_location(client, "B")
        await receive(client, item, a, 10, "P-1")
        lot = await lot_by_code(client, item["id"], "P-1")
        await client.post(
            "/api/v1/inventory/transfers",
            json={
                "item_id": item["id"],
                "quantity": 10,
                "from_location_id": a["id"],
                "to_location_id": b["id"],
                "lot_id": lot["id"],
            },
        )
        await receive(client, item, a, 10, "P-1")

        def move(src: dict[str, Any], dst: dict[str, Any]) -> Any:
            return client.post(
                "/api/v1/inventory/transfers",
                json={
                    "item_id": item["id"],
                    "quantity": 1,
                    "from_location_id": src["id"],
                    "to_location_id": dst["id"],
                    "lot_id": lot["id"],
                },
            )

        responses = await asyncio.gather(
            *(move(a, b) if n % 2 else move(b, a) for n in range(PARALLEL))
        )
        assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
        rows = (await client.get("/api/v1/inventory/stock", params={"lot_id": lot["id"]})).json()[
            "items"
        ]
        assert {r["location_code"]: r["quantity"] for r in rows} == {"A": 10, "B": 10}


async def test_parallel_backflushes_share_stock_exactly(app: FastAPI, as_roles: AsRoles) -> None:
    """Ten completions draw 15 each from 80 in two lots: five succeed, five are short."""
    async with as_roles("admin") as client:
        steel = await make_item(client, "BAR")
        shaft = await make_item(client, "SHAFT")
        line = await make_location(client, "L1", type="line_side")
        await receive(client, steel, line, 30, "B-OLD")
        await receive(client, steel, line, 50, "B-NEW")
        orders = [await make_work_order(client, shaft) for _ in range(10)]
    operator = principal_for("operator")
    barrier = asyncio.Barrier(10)

    async def complete(work_order_id: int) -> str:
        async with app.state.db.sessions() as session:
            produced = await inventory.receive_production(
                session=session,
                principal=operator,
                work_order_id=work_order_id,
                item_id=shaft["id"],
                quantity=Decimal(1),
                location_id=line["id"],
                lot_code=None,
            )
            await barrier.wait()
            try:
                await inventory.backflush(
                    session=session,
                    principal=operator,
                    work_order_id=work_order_id,
                    produced_lot_id=produced.id,
                    components=[(steel["id"], Decimal(15))],
                    location_id=line["id"],
                )
            except Conflict:
                await session.rollback()
                return "short"
            await session.commit()
            return "done"

    outcomes = Counter(await asyncio.gather(*(complete(n) for n in orders)))
    assert outcomes == {"done": 5, "short": 5}
    async with app.state.db.sessions() as session:
        assert await inventory.on_hand(session=session, item_id=steel["id"]) == 5
        assert await inventory.on_hand(session=session, item_id=shaft["id"]) == 5
        linked = await session.scalar(select(func.sum(LotLink.quantity)))
        assert linked == 75
