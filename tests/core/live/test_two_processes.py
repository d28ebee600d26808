"""Two API processes on one database: an event committed through one reaches a WebSocket client
of the other; the derivation engine runs in exactly one, and the other takes over when it dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.auth.principal import Role
from tests.core.live.processes import ApiProcess
from tests.core.live.sockets import LiveClient
from tests.support.databases import TestDb
from tests.support.keycloak import TestRealm

pytestmark = [pytest.mark.keycloak, pytest.mark.slow]


async def until(check: Callable[[], bool], what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.2)


@pytest.fixture
def processes(db: TestDb, realm: TestRealm, tmp_path: Path) -> Iterator[list[ApiProcess]]:
    started: list[ApiProcess] = []
    try:
        first = ApiProcess(db, realm, tmp_path / "api-a.log")
        first.start()
        started.append(first)
        deadline = time.monotonic() + 60
        while not first.leads():  # the first process takes the lead
            assert time.monotonic() < deadline, "the first process never led"
            time.sleep(0.2)
        second = ApiProcess(db, realm, tmp_path / "api-b.log")
        second.start()
        started.append(second)
        yield started
    finally:
        for process in started:
            process.stop()


def create_order(api: ApiProcess, token: str, item_id: int) -> str:
    with api.client(token) as c:
        r = c.post("/api/v1/work-orders", json={"item_id": item_id, "quantity": "12"})
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


async def test_an_event_committed_via_one_process_reaches_a_client_of_the_other(
    processes: list[ApiProcess], realm: TestRealm
) -> None:
    a, b = processes
    assert a.leads() and not b.leads()
    planner = realm.token_for(Role.PLANNER)
    with a.client(realm.token_for(Role.ADMIN)) as c:
        r = c.post(
            "/api/v1/items",
            json={"code": "GEAR", "name": "Gear", "type": "finished", "unit": "pcs"},
        )
    assert r.status_code == 201, r.text
    item_id = r.json()["id"]

    async with LiveClient.open(b.address, realm.token_for(Role.OPERATOR)) as client:
        await client.subscribe("work-orders")
        code = await asyncio.to_thread(create_order, a, planner, item_id)
        update = await client.until("update", "work-orders")
        while code not in update["data"]["values"]:
            update = await client.until("update", "work-orders")
        assert update["data"]["values"][code]["status"] == "planned"

        # the leader dies without a goodbye: the other process takes over the derivation
        await asyncio.to_thread(a.kill)
        await until(b.leads, "the second process takes the lead")
        code = await asyncio.to_thread(create_order, b, planner, item_id)
        update = await client.until("update", "work-orders")
        while code not in update["data"]["values"]:
            update = await client.until("update", "work-orders")
        assert update["data"]["values"][code]["quantity"] == 12
