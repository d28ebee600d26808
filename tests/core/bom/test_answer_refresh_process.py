"""A served API process (`mes api`) recomputes its cached BOM answers after a change, ahead of
its readers, and says so in /metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from core.auth.principal import Role
from tests.core.bom.helpers import make_pump
from tests.core.live.processes import ApiProcess
from tests.support.databases import TestDb
from tests.support.keycloak import TestRealm

pytestmark = [pytest.mark.keycloak, pytest.mark.slow]

REFRESHED = 'mes_bom_answers_total{outcome="refreshed"}'
HIT = 'mes_bom_answers_total{outcome="hit"}'


async def until(api: ApiProcess, metric: str, at_least: float) -> None:
    deadline = time.monotonic() + 60
    while (await asyncio.to_thread(api.metric, metric) or 0) < at_least:
        assert time.monotonic() < deadline, f"{metric} never reached {at_least}"
        await asyncio.sleep(0.1)


async def test_a_served_process_refreshes_its_answers_after_a_change(
    db: TestDb, realm: TestRealm, tmp_path: Path
) -> None:
    api = ApiProcess(db, realm, tmp_path / "api.log", env={"MES_BOM_CACHE_REFRESH_S": "0.1"})
    await asyncio.to_thread(api.start)
    admin = {"Authorization": f"Bearer {realm.token_for(Role.ADMIN)}"}
    try:
        async with httpx.AsyncClient(base_url=api.base_url, headers=admin, timeout=30) as client:
            s = await make_pump(client)
            url = f"/api/v1/bom/items/{s['items']['PUMP']['id']}/explosion"
            before = (await client.get(url, params={"quantity": "10"})).json()
            with psycopg.connect(db.conninfo) as conn:  # an engineering change outside the API
                conn.execute(
                    "UPDATE bom_line SET quantity = 0.75 WHERE bom_id = %(bom)s",
                    {"bom": s["boms"]["SHAFT"]["id"]},
                )
            await until(api, REFRESHED, 1)
            hits = await asyncio.to_thread(api.metric, HIT) or 0
            r = await client.get(url, params={"quantity": "10"})
            assert await asyncio.to_thread(api.metric, HIT) == hits + 1  # served as refreshed
    finally:
        await asyncio.to_thread(api.stop)
    assert r.status_code == 200, r.text
    bar = r.json()["nodes"][0]["children"][0]
    assert (bar["item_code"], bar["quantity"]) == ("BAR", 16.5)  # 22 shafts x 0.75 m
    assert before["nodes"][0]["children"][0]["quantity"] == 11
