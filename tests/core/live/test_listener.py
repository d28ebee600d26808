"""LISTEN/NOTIFY: events are delivered on commit only, and the listener reconnects by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from core.live import events
from core.live.listener import Listener
from tests.support.databases import TestDb
from tests.support.postgres import PgCluster, private_cluster


class Inbox:
    def __init__(self) -> None:
        self.payloads: list[str] = []
        self.changed = asyncio.Event()

    async def __call__(self, payload: str) -> None:
        self.payloads.append(payload)
        self.changed.set()

    async def wait_for(self, count: int) -> list[str]:
        async with asyncio.timeout(10):
            while len(self.payloads) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.payloads


async def test_events_reach_listeners_only_when_committed(db: TestDb) -> None:
    inbox = Inbox()
    listener = Listener(db.conninfo, {events.EVENTS_CHANNEL: inbox})
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.connected.wait(), 10)
    engine = create_async_engine(db.url)
    async with engine.connect() as conn:
        from sqlalchemy.ext.asyncio import AsyncSession

        async with AsyncSession(bind=conn) as session:
            await events.publish(session, "work-orders", {"id": 1, "state": "released"})
            await session.rollback()
            await events.publish(session, "work-orders", {"id": 2, "state": "released"})
            await session.commit()
    await engine.dispose()
    got = await inbox.wait_for(1)
    await asyncio.sleep(0.2)
    assert got == ['{"topic":"work-orders","data":{"id":2,"state":"released"}}']
    task.cancel()


def test_oversized_event_is_refused() -> None:
    with pytest.raises(ValueError, match="larger than"):
        events.encode("alerts", {"text": "x" * 9000})


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    with private_cluster() as cluster:
        yield cluster


async def test_listener_reconnects_after_a_server_restart(own_cluster: PgCluster) -> None:
    inbox = Inbox()
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    listener = Listener(
        own_cluster.conninfo(), {"mes_test": inbox}, on_reconnect=on_reconnect, max_backoff=0.5
    )
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.connected.wait(), 10)
    await asyncio.to_thread(own_cluster.stop, mode="immediate")
    await asyncio.to_thread(own_cluster.start)
    await asyncio.wait_for(reconnected.wait(), 30)
    await asyncio.wait_for(listener.connected.wait(), 10)
    with psycopg.connect(own_cluster.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_notify('mes_test', 'after restart')")
    assert await inbox.wait_for(1) == ["after restart"]
    task.cancel()
