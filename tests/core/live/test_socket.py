"""The live protocol over a real socket with real tokens: subscriptions, snapshot first, updates
from committed events and from gateway notifications, unknown topics, unsubscribe, reconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fastapi import FastAPI

from core.app import create_app
from core.auth.principal import Role
from core.live.feed import EPOCH
from tests.core.auth.conftest import auth_settings
from tests.core.bom.helpers import make_item
from tests.core.live.helpers import LivePlant
from tests.core.live.sockets import LiveClient, serving
from tests.support.databases import TestDb
from tests.support.keycloak import TestRealm

pytestmark = pytest.mark.keycloak


@pytest.fixture
async def address(db: TestDb, realm: TestRealm, plant: LivePlant) -> AsyncIterator[str]:
    app: FastAPI = create_app(auth_settings(db, realm), background=False)
    async with serving(app) as where:
        yield where
    await app.state.db.dispose()


async def notify(db: TestDb, channel: str, payload: str) -> None:
    async with await psycopg.AsyncConnection.connect(db.conninfo, autocommit=True) as conn:
        await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


def event(topic: str, data: dict[str, Any]) -> str:
    return orjson.dumps({"topic": topic, "data": data}).decode()


async def test_snapshots_first_then_updates_and_errors_for_unknown_topics(
    address: str, realm: TestRealm, db: TestDb, plant: LivePlant
) -> None:
    async with LiveClient.open(address, realm.token_for(Role.OPERATOR)) as client:
        got = await client.subscribe(
            "kpi", "work-orders", "equipment/CNC-1", "line/L1", "alerts",
            "nope", "equipment/NOPE", "line/CNC-1", "equipment/L1",
        )  # fmt: skip
        errors = [m for m in got if m["type"] == "error"]
        assert [(e["code"], e["topic"]) for e in errors] == [
            ("unknown_topic", "nope"), ("unknown_topic", "equipment/NOPE"),
            ("unknown_topic", "line/CNC-1"), ("unknown_topic", "equipment/L1"),
        ]  # fmt: skip
        assert "not a line" in errors[2]["message"]
        ack = next(m for m in got if m["type"] == "subscribed")
        assert ack["topics"] == ["kpi", "work-orders", "equipment/CNC-1", "line/L1", "alerts"]
        snapshots = {m["topic"]: m["data"] for m in got if m["type"] == "snapshot"}
        assert set(snapshots) == set(ack["topics"])
        assert got.index(ack) < min(got.index(m) for m in got if m["type"] == "snapshot")
        assert set(snapshots["line/L1"]["values"]) == {"CNC-1", "MILL-1"}
        assert snapshots["equipment/CNC-1"]["status"]["equipment"] == "CNC-1"

        await notify(db, "mes_events", event("alerts", {"values": {"x/1": {"ts": "1", "n": 1}}}))
        await notify(
            db, "mes_events", event("kpi", {"values": {"line/L1": {"ts": "1", "oee": 0.5}}})
        )
        update = await client.next()
        assert (update["type"], update["topic"]) == ("update", "alerts")
        update = await client.next()
        assert (update["type"], update["topic"], update["data"]["values"]["line/L1"]["oee"]) == (
            "update", "kpi", 0.5,
        )  # fmt: skip

        ts = datetime(2026, 3, 2, 8, tzinfo=UTC)
        ts_us = (ts - EPOCH) // timedelta(microseconds=1)
        signal_id = plant.signals["CNC-1.temperature"]
        await notify(
            db, "mes_live_readings",
            orjson.dumps({"v": 1, "gw": "edge-test", "r": [[signal_id, ts_us, 41.5, 0]]}).decode(),
        )  # fmt: skip
        reading = await client.until("update", "equipment/CNC-1")
        assert reading["data"]["values"]["CNC-1.temperature"]["v"] == 41.5

        await client.send({"type": "unsubscribe", "topics": ["kpi"]})
        assert (await client.until("unsubscribed"))["topics"] == ["kpi"]
        await notify(db, "mes_events", event("kpi", {"values": {"site/KNU": {"ts": "2"}}}))
        await notify(db, "mes_events", event("alerts", {"values": {"x/2": {"ts": "2"}}}))
        after = await client.next()
        assert after["topic"] == "alerts"  # the kpi update was not sent

        await client.send({"type": "subscribe", "topics": "kpi"})
        assert (await client.next())["code"] == "bad_request"
        await client.send({"type": "shout"})
        assert (await client.next())["code"] == "unknown_message"
        await client.send({"type": "ping"})
        assert (await client.next())["type"] == "pong"


async def test_a_reconnecting_client_gets_a_snapshot_of_what_it_missed(
    address: str, realm: TestRealm, admin: httpx.AsyncClient, plant: LivePlant
) -> None:
    token = realm.token_for(Role.PLANNER)
    async with LiveClient.open(address, token) as client:
        got = await client.subscribe("work-orders")
        first = next(m for m in got if m["type"] == "snapshot")
        assert first["data"]["values"] == {}
    gear = await make_item(admin, "GEAR", type="finished")
    r = await admin.post("/api/v1/work-orders", json={"item_id": gear["id"], "quantity": "10"})
    assert r.status_code == 201
    async with LiveClient.open(address, token) as client:
        got = await client.subscribe("work-orders")
        snapshot = next(m for m in got if m["type"] == "snapshot")
        assert list(snapshot["data"]["values"]) == [r.json()["code"]]
        assert snapshot["data"]["values"][r.json()["code"]]["status"] == "planned"


async def test_subscribing_needs_the_dashboard_permission_token_first(
    address: str, realm: TestRealm
) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with connect(f"ws://{address}/ws") as ws:
        await ws.send(orjson.dumps({"type": "subscribe", "topics": ["kpi"]}).decode())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4401
