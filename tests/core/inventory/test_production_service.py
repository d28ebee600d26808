"""The service functions the work-order completion flow calls: production receipt, backflush
(FIFO, genealogy, shortfall) and on-hand; they never commit on their own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit.models import AuditEvent
from core.errors import Conflict, NotFound, ValidationFailed
from core.inventory import service as inventory
from core.inventory.models import InventoryTransaction, LotLink, Stock
from tests.core.inventory.helpers import (
    lot_by_code,
    make_item,
    make_location,
    make_work_order,
    receive,
)
from tests.support.api import AsRoles, principal_for

OPERATOR = principal_for("operator", username="olga")


def sessions(app: FastAPI) -> Any:
    return app.state.db.sessions()


async def counts(session: AsyncSession) -> tuple[int, int, int]:
    """Transactions, genealogy links and audit events."""
    return (
        await session.scalar(select(func.count()).select_from(InventoryTransaction)) or 0,
        await session.scalar(select(func.count()).select_from(LotLink)) or 0,
        await session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
    )


@pytest.fixture
async def plant(as_roles: AsRoles) -> dict[str, Any]:
    """A shaft made of steel bar (lot-tracked) and coolant (not lot-tracked) at the line."""
    async with as_roles("admin") as client:
        shaft = await make_item(client, "SHAFT-A100")
        steel = await make_item(client, "STEEL-BAR")
        coolant = await make_item(client, "COOLANT", lot_tracked=False, unit="l")
        line = await make_location(client, "L1-SIDE", type="line_side")
        store = await make_location(client, "FG-STORE")
        await receive(client, steel, line, 30, "S-OLD")
        await receive(client, steel, line, 50, "S-NEW")
        await receive(client, coolant, line, "12.5")
        orders = [await make_work_order(client, shaft) for _ in range(2)]
        return {
            "orders": orders,
            "shaft": shaft,
            "steel": steel,
            "coolant": coolant,
            "line": line,
            "store": store,
            "s_old": await lot_by_code(client, steel["id"], "S-OLD"),
            "s_new": await lot_by_code(client, steel["id"], "S-NEW"),
        }


async def test_receive_production_creates_lot_and_ledger_row(
    app: FastAPI, plant: dict[str, Any]
) -> None:
    async with sessions(app) as session:
        lot = await inventory.receive_production(
            session=session,
            principal=OPERATOR,
            work_order_id=plant["orders"][0],
            item_id=plant["shaft"]["id"],
            quantity=Decimal(40),
            location_id=plant["store"]["id"],
            lot_code=None,
        )
        await session.commit()
        wo = plant["orders"][0]
        assert (lot.code, lot.origin, lot.work_order_id) == (f"WO{wo}-001", "production", wo)
        assert lot.received_quantity == 40
        tx = (
            await session.scalars(
                select(InventoryTransaction).where(InventoryTransaction.lot_id == lot.id)
            )
        ).one()
        assert (tx.type, tx.quantity, tx.to_location_id, tx.work_order_id, tx.username) == (
            "production_receipt",
            40,
            plant["store"]["id"],
            wo,
            "Olga",
        )
        second = await inventory.receive_production(
            session=session,
            principal=OPERATOR,
            work_order_id=plant["orders"][0],
            item_id=plant["shaft"]["id"],
            quantity=Decimal(5),
            location_id=plant["store"]["id"],
            lot_code=None,
        )
        again = await inventory.receive_production(
            session=session,
            principal=OPERATOR,
            work_order_id=plant["orders"][0],
            item_id=plant["shaft"]["id"],
            quantity=Decimal("2.500000000"),  # trailing zeros are not extra decimals
            location_id=plant["store"]["id"],
            lot_code=f"WO{wo}-001",
        )
        await session.commit()
        assert second.code == f"WO{wo}-002"
        assert again.id == lot.id
        assert await inventory.on_hand(session=session, item_id=plant["shaft"]["id"]) == Decimal(
            "47.5"
        )


async def test_receive_production_refuses_a_lot_code_from_elsewhere(
    app: FastAPI, plant: dict[str, Any]
) -> None:
    async with sessions(app) as session:
        before = await counts(session)
        with pytest.raises(Conflict, match="'S-OLD' of item 'STEEL-BAR' already exists from a"):
            await inventory.receive_production(
                session=session,
                principal=OPERATOR,
                work_order_id=plant["orders"][1],
                item_id=plant["steel"]["id"],
                quantity=Decimal(1),
                location_id=plant["line"]["id"],
                lot_code="S-OLD",
            )
        await session.rollback()
        assert await counts(session) == before
        assert await inventory.on_hand(session=session, item_id=plant["steel"]["id"]) == 80


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"quantity": Decimal(0)}, ValidationFailed, "quantity"),
        ({"quantity": Decimal("-3")}, ValidationFailed, "quantity"),
        ({"quantity": Decimal("NaN")}, ValidationFailed, "quantity"),
        ({"quantity": Decimal("0.0000001")}, ValidationFailed, "quantity"),
        ({"work_order_id": 0}, ValidationFailed, "path.work_order_id"),
        ({"work_order_id": 999999}, NotFound, "path.work_order_id"),
        ({"lot_code": "bad code"}, ValidationFailed, "body.lot_code"),
        ({"item_id": 99999}, NotFound, "item_id"),
        ({"location_id": 99999}, NotFound, "body.location_id"),
    ],
)
async def test_receive_production_rejects_bad_arguments(
    app: FastAPI, plant: dict[str, Any], change: dict[str, Any], error: type[Exception], field: str
) -> None:
    args: dict[str, Any] = {
        "work_order_id": plant["orders"][0],
        "item_id": plant["shaft"]["id"],
        "quantity": Decimal(1),
        "location_id": plant["store"]["id"],
        "lot_code": None,
        **change,
    }
    async with sessions(app) as session:
        with pytest.raises(error) as caught:
            await inventory.receive_production(session=session, principal=OPERATOR, **args)
        assert isinstance(caught.value, NotFound | ValidationFailed)
        assert [d.field for d in caught.value.details] == [field]


async def test_receive_production_does_not_commit(app: FastAPI, plant: dict[str, Any]) -> None:
    async with sessions(app) as session, sessions(app) as other:
        await inventory.receive_production(
            session=session,
            principal=OPERATOR,
            work_order_id=plant["orders"][0],
            item_id=plant["shaft"]["id"],
            quantity=Decimal(10),
            location_id=plant["store"]["id"],
            lot_code="P-1",
        )
        assert await inventory.on_hand(session=session, item_id=plant["shaft"]["id"]) == 10
        assert await inventory.on_hand(session=other, item_id=plant["shaft"]["id"]) == 0
        await session.rollback()
        assert await inventory.on_hand(session=session, item_id=plant["shaft"]["id"]) == 0


async def produce(app: FastAPI, plant: dict[str, Any], work_order_id: int, code: str) -> int:
    async with sessions(app) as session:
        lot = await inventory.receive_production(
            session=session,
            principal=OPERATOR,
            work_order_id=work_order_id,
            item_id=plant["shaft"]["id"],
            quantity=Decimal(10),
            location_id=plant["store"]["id"],
            lot_code=code,
        )
        await session.commit()
        return lot.id


async def test_backflush_consumes_oldest_lots_first_and_records_genealogy(
    app: FastAPI, plant: dict[str, Any]
) -> None:
    produced = await produce(app, plant, plant["orders"][0], "SH-11")
    async with sessions(app) as session:
        txs = await inventory.backflush(
            session=session,
            principal=OPERATOR,
            work_order_id=plant["orders"][0],
            produced_lot_id=produced,
            components=[(plant["steel"]["id"], Decimal(40)), (plant["coolant"]["id"], Decimal(2))],
            location_id=plant["line"]["id"],
        )
        await session.commit()
        steel, coolant = plant["steel"]["id"], plant["coolant"]["id"]
        assert [(t.item_id, t.lot_id, t.quantity, t.type) for t in txs] == [
            (steel, plant["s_old"]["id"], Decimal(-30), "backflush"),
            (steel, plant["s_new"]["id"], Decimal(-10), "backflush"),
            (coolant, None, Decimal(-2), "backflush"),
        ]
        assert all(
            t.work_order_id == plant["orders"][0] and t.from_location_id == plant["line"]["id"]
            for t in txs
        )
        links = (await session.scalars(select(LotLink).order_by(LotLink.id))).all()
        assert [(k.parent_lot_id, k.child_lot_id, k.quantity) for k in links] == [
            (produced, plant["s_old"]["id"], 30),
            (produced, plant["s_new"]["id"], 10),
        ]
        assert await inventory.on_hand(session=session, item_id=steel) == 40
        assert await inventory.on_hand(session=session, item_id=coolant) == Decimal("10.5")
        left = dict(
            (
                await session.execute(
                    select(Stock.lot_id, Stock.quantity).where(Stock.item_id == steel)
                )
            ).all()
        )
        assert left == {plant["s_old"]["id"]: 0, plant["s_new"]["id"]: 40}


async def test_backflush_skips_quarantined_blocked_and_expired_lots(
    app: FastAPI, as_roles: AsRoles, plant: dict[str, Any]
) -> None:
    async with as_roles("quality") as client:
        r = await client.patch(
            f"/api/v1/inventory/lots/{plant['s_old']['id']}", json={"status": "quarantine"}
        )
        assert r.status_code == 200, r.text
    async with as_roles("admin") as client:
        await receive(
            client, plant["steel"], plant["line"], 5, "S-EXPIRED", expires_on="2020-01-01"
        )
    produced = await produce(app, plant, plant["orders"][0], "SH-12")
    async with sessions(app) as session:
        txs = await inventory.backflush(
            session=session,
            principal=OPERATOR,
            work_order_id=plant["orders"][0],
            produced_lot_id=produced,
            components=[(plant["steel"]["id"], Decimal(20))],
            location_id=plant["line"]["id"],
        )
        await session.commit()
        assert [(t.lot_id, t.quantity) for t in txs] == [(plant["s_new"]["id"], Decimal(-20))]
        assert await inventory.on_hand(session=session, item_id=plant["steel"]["id"]) == 65
        assert (
            await inventory.on_hand(session=session, item_id=plant["steel"]["id"], usable_only=True)
            == 30
        )


async def test_backflush_shortfall_names_item_and_rollback_leaves_nothing(
    app: FastAPI, plant: dict[str, Any]
) -> None:
    produced = await produce(app, plant, plant["orders"][0], "SH-13")
    async with sessions(app) as session:
        before = await counts(session)
        with pytest.raises(Conflict) as caught:
            await inventory.backflush(
                session=session,
                principal=OPERATOR,
                work_order_id=plant["orders"][0],
                produced_lot_id=produced,
                # steel (the lower item id) is booked before coolant turns out short
                components=[
                    (plant["coolant"]["id"], Decimal(20)),
                    (plant["steel"]["id"], Decimal(40)),
                ],
                location_id=plant["line"]["id"],
            )
        message = caught.value.message
        assert "'COOLANT'" in message and "usable 12.5" in message and "short 7.5" in message
        await session.rollback()
        assert await counts(session) == before
        assert await inventory.on_hand(session=session, item_id=plant["steel"]["id"]) == 80
        assert await inventory.on_hand(session=session, item_id=plant["coolant"]["id"]) == Decimal(
            "12.5"
        )


async def test_backflush_reports_stock_it_may_not_use(
    app: FastAPI, as_roles: AsRoles, plant: dict[str, Any]
) -> None:
    async with as_roles("quality") as client:
        await client.patch(
            f"/api/v1/inventory/lots/{plant['s_new']['id']}", json={"status": "blocked"}
        )
    produced = await produce(app, plant, plant["orders"][0], "SH-14")
    async with sessions(app) as session:
        with pytest.raises(Conflict, match=r"usable 30, short 10 \(50 more held in quarantined"):
            await inventory.backflush(
                session=session,
                principal=OPERATOR,
                work_order_id=plant["orders"][0],
                produced_lot_id=produced,
                components=[(plant["steel"]["id"], Decimal(40))],
                location_id=plant["line"]["id"],
            )


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"components": [(1, Decimal(0))]}, ValidationFailed, "components.0.quantity"),
        ({"produced_lot_id": 99999}, NotFound, "produced_lot_id"),
        ({"location_id": 99999}, NotFound, "body.location_id"),
        ({"components": [(99999, Decimal(1))]}, NotFound, "components"),
        ({"work_order_id": -1}, ValidationFailed, "path.work_order_id"),
        ({"work_order_id": 999999}, NotFound, "path.work_order_id"),
    ],
)
async def test_backflush_rejects_bad_arguments(
    app: FastAPI, plant: dict[str, Any], change: dict[str, Any], error: type[Exception], field: str
) -> None:
    produced = await produce(app, plant, plant["orders"][0], "SH-15")
    args: dict[str, Any] = {
        "work_order_id": plant["orders"][0],
        "produced_lot_id": produced,
        "components": [(plant["steel"]["id"], Decimal(1))],
        "location_id": plant["line"]["id"],
        **change,
    }
    async with sessions(app) as session:
        with pytest.raises(error) as caught:
            await inventory.backflush(session=session, principal=OPERATOR, **args)
        assert isinstance(caught.value, NotFound | ValidationFailed)
        assert [d.field for d in caught.value.details] == [field]


async def test_on_hand_by_location(app: FastAPI, as_roles: AsRoles, plant: dict[str, Any]) -> None:
    async with as_roles("admin") as client:
        await receive(client, plant["steel"], plant["store"], 7, "S-STORE")
    async with sessions(app) as session:
        steel = plant["steel"]["id"]
        assert await inventory.on_hand(session=session, item_id=steel) == 87
        assert (
            await inventory.on_hand(session=session, item_id=steel, location_id=plant["line"]["id"])
            == 80
        )
        assert (
            await inventory.on_hand(
                session=session, item_id=steel, location_id=plant["store"]["id"]
            )
            == 7
        )
        assert await inventory.on_hand(session=session, item_id=plant["shaft"]["id"]) == 0
