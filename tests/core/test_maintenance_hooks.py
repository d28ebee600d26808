"""Hour hooks: consumers of changed telemetry hours run after each maintenance pass; a failing
hook gets its hours again on the next pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from core.app import maintenance_pass
from tests.support.api import api_settings
from tests.support.databases import TestDb

HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def mark(db: TestDb) -> None:
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("INSERT INTO telemetry_dirty VALUES (%s, 'gw')", (HOUR,))


async def test_hooks_get_the_refreshed_hours(db: TestDb) -> None:
    seen: list[list[datetime]] = []

    async def hook(hours: list[datetime]) -> None:
        seen.append(hours)

    mark(db)
    await maintenance_pass(api_settings(db), [hook])
    await maintenance_pass(api_settings(db), [hook])  # nothing new: not called again
    assert seen == [[HOUR]]


async def test_a_failing_hook_gets_its_hours_again(db: TestDb) -> None:
    calls: list[list[datetime]] = []

    async def flaky(hours: list[datetime]) -> None:
        calls.append(hours)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")

    mark(db)
    await maintenance_pass(api_settings(db), [flaky])
    await maintenance_pass(api_settings(db), [flaky])
    assert calls == [[HOUR], [HOUR]]
    with psycopg.connect(db.conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM telemetry_dirty").fetchone() == (0,)


async def test_no_hooks_is_fine(db: TestDb) -> None:
    mark(db)
    await maintenance_pass(api_settings(db), [])
    with psycopg.connect(db.conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM telemetry_dirty").fetchone() == (0,)
