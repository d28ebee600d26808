"""Explosion and where-used cache: hits, invalidation by every kind of change (through the API or
plain SQL), across API processes, disabled with 0 entries, bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar, cast

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from core.app import create_app
from core.bom import service
from core.bom.cache import RECENT_S, ResultCache, for_app, refresh_loop, structures_for_app
from core.bom.service import Q6, today
from tests.core.bom.helpers import make_bom, make_item, make_pump
from tests.support.api import api_client, api_settings, principal_for
from tests.support.databases import TestDb
from tests.support.gateway import eventually

Structure = dict[str, Any]


@asynccontextmanager
async def other_app(db: TestDb, **overrides: Any) -> AsyncIterator[FastAPI]:
    """A second API instance on the same database (as another process would be)."""
    application = create_app(api_settings(db, **overrides), background=False)
    try:
        yield application
    finally:
        await application.state.db.dispose()


@asynccontextmanager
async def planner(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app, principal_for("planner", "engineer")) as client:
        yield client


def requests(s: Structure, day: date) -> list[tuple[str, dict[str, str]]]:
    """The four cached reads: tree and flat explosion of PUMP, where-used (tree, flat) of BAR."""
    top, leaf = s["items"]["PUMP"]["id"], s["items"]["BAR"]["id"]
    at = {"at": day.isoformat()}
    return [
        (f"/api/v1/bom/items/{top}/explosion", {"quantity": "10", **at}),
        (f"/api/v1/bom/items/{top}/explosion/flat", {"quantity": "10", **at}),
        (f"/api/v1/bom/items/{leaf}/where-used", at),
        (f"/api/v1/bom/items/{leaf}/where-used/flat", at),
    ]


async def answers(client: httpx.AsyncClient, s: Structure, day: date | None = None) -> list[Any]:
    bodies = []
    for url, params in requests(s, day or today()):
        r = await client.get(url, params=params)
        assert r.status_code == 200, r.text
        bodies.append(r.json())
    return bodies


T = TypeVar("T")


@contextmanager
def recorded(app: FastAPI, pick: Callable[[str, Any], T | None]) -> Iterator[list[T]]:
    """`pick(statement, parameters)` of each statement the app runs inside the block, where
    it is not None."""
    seen: list[T] = []

    def record(*args: Any) -> None:
        if (picked := pick(args[2], args[3])) is not None:
            seen.append(picked)

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def recursive_queries(app: FastAPI) -> AbstractContextManager[list[str]]:
    """Explosion/where-used statements the app runs inside the block."""
    return recorded(app, lambda statement, _: statement if "WITH RECURSIVE" in statement else None)


def sql(db: TestDb, statement: str, params: dict[str, Any]) -> None:
    """A change made outside the API (plain SQL, committed)."""
    with psycopg.connect(db.conninfo) as conn:
        assert conn.execute(statement, params).rowcount >= 1


async def test_second_call_is_served_from_the_cache(app: FastAPI, db: TestDb) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
        cache = for_app(app)
        first = await answers(client, s)
        assert (cache.hits, cache.misses, len(cache)) == (0, 4, 4)
        with recursive_queries(app) as ran:
            second = await answers(client, s)
        assert ran == []  # no explosion or where-used query: every answer came from the cache
        assert (cache.hits, cache.misses) == (4, 4)
    assert second == first
    async with other_app(db, bom_cache_entries=0) as fresh, planner(fresh) as uncached:
        assert await answers(uncached, s) == first
    tree = first[0]
    assert [n["item_code"] for n in tree["nodes"]] == ["SHAFT", "HOUSING"]
    assert tree["nodes"][0]["quantity"] == 22


async def _line_quantity(client: httpx.AsyncClient, db: TestDb, s: Structure) -> None:
    sql(
        db,
        "UPDATE bom_line SET quantity = 0.75 WHERE bom_id = %(bom)s",
        {"bom": s["boms"]["SHAFT"]["id"]},
    )


async def _new_line(client: httpx.AsyncClient, db: TestDb, s: Structure) -> None:
    sql(
        db,
        "INSERT INTO bom_line (bom_id, position, component_item_id, quantity, unit, scrap_factor)"
        " VALUES (%(bom)s, 99, %(bolt)s, 3, 'pcs', 0)",
        {"bom": s["boms"]["SHAFT"]["id"], "bolt": s["items"]["BOLT"]["id"]},
    )


async def _version_activation(client: httpx.AsyncClient, db: TestDb, s: Structure) -> None:
    r = await client.post(f"/api/v1/bom/{s['boms']['SHAFT']['id']}/copy")
    assert r.status_code == 201, r.text
    draft = r.json()
    line = draft["lines"][0]
    r = await client.patch(
        f"/api/v1/bom/{draft['id']}/lines/{line['id']}", json={"quantity": "0.6"}
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/v1/bom/{draft['id']}/activate", json={})
    assert r.status_code == 200, r.text


async def _item_rename(client: httpx.AsyncClient, db: TestDb, s: Structure) -> None:
    r = await client.patch(
        f"/api/v1/items/{s['items']['SHAFT']['id']}", json={"name": "Drive shaft, rev B"}
    )
    assert r.status_code == 200, r.text


async def _effective_date(client: httpx.AsyncClient, db: TestDb, s: Structure) -> None:
    sql(
        db,
        "UPDATE bom SET effective_from = %(later)s WHERE id = %(bom)s",
        {"bom": s["boms"]["SHAFT"]["id"], "later": today() + timedelta(days=3)},
    )


Change = Callable[[httpx.AsyncClient, TestDb, Structure], Awaitable[None]]


@pytest.mark.parametrize(
    "change",
    [_line_quantity, _new_line, _version_activation, _item_rename, _effective_date],
    ids=["line-quantity-sql", "new-line-sql", "activation", "item-rename", "effective-from-sql"],
)
async def test_every_kind_of_change_invalidates(app: FastAPI, db: TestDb, change: Change) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
        cache = for_app(app)
        before = await answers(client, s)
        assert await answers(client, s) == before and cache.hits == 4
        await change(client, db, s)
        with recursive_queries(app) as ran:
            after = await answers(client, s)
        assert len(ran) == 3 and cache.hits == 4  # all four computed again (one tree walk)
        assert await answers(client, s) == after and cache.hits == 8  # and cached again
    async with other_app(db, bom_cache_entries=0) as fresh, planner(fresh) as uncached:
        assert await answers(uncached, s) == after
    assert after[0] != before[0]  # the change shows in the tree


async def test_item_writes_no_answer_shows_keep_the_answers(app: FastAPI, db: TestDb) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
        cache = for_app(app)
        before = await answers(client, s)
        shaft = s["items"]["SHAFT"]["id"]
        r = await client.patch(
            f"/api/v1/items/{shaft}",
            json={"safety_stock": "40", "lead_time_days": 9, "lot_tracked": True},
        )
        assert r.status_code == 200, r.text
        washer = await make_item(client, "WASHER")
        sql(db, "UPDATE item SET active = false WHERE id = %(id)s", {"id": washer["id"]})
        with recursive_queries(app) as ran:
            assert await answers(client, s) == before
        assert ran == [] and cache.hits == 4  # planning data and new items change no answer
        sql(db, "UPDATE item SET unit = 'set' WHERE id = %(id)s", {"id": shaft})
        with recursive_queries(app) as ran:
            after = await answers(client, s)
        assert len(ran) == 3 and cache.hits == 4  # a unit is part of the answers (one tree walk)
    assert before[0]["nodes"][0]["unit"] == "pcs"
    assert after[0]["nodes"][0]["unit"] == "set"  # SHAFT in the tree
    assert after[2]["nodes"][0]["unit"] == "set"  # and where BAR is used


async def test_processes_see_each_others_changes(app: FastAPI, db: TestDb) -> None:
    async with other_app(db) as second, planner(app) as one, planner(second) as two:
        s = await make_pump(one)
        await answers(one, s)
        await answers(two, s)
        assert await answers(one, s) == await answers(two, s)
        first, other = for_app(app), for_app(second)
        assert first is not other and (first.hits, other.hits) == (4, 4)
        await _item_rename(two, db, s)  # written through the second process
        renamed = await answers(one, s)
        assert first.hits == 4 and first.misses == 8
        assert renamed == await answers(two, s)
    shaft = renamed[0]["nodes"][0]
    assert (shaft["item_code"], shaft["item_name"]) == ("SHAFT", "Drive shaft, rev B")
    assert [p["item_name"] for p in renamed[2]["nodes"]] == ["Drive shaft, rev B"]


async def test_uncommitted_and_rolled_back_changes_keep_the_answers(
    app: FastAPI, db: TestDb
) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
        before = await answers(client, s)
        cache = for_app(app)
        with psycopg.connect(db.conninfo) as conn:  # a writer's transaction, still open
            conn.execute(
                "UPDATE bom_line SET quantity = 9 WHERE bom_id = %(bom)s",
                {"bom": s["boms"]["SHAFT"]["id"]},
            )
            with recursive_queries(app) as ran:
                assert await answers(client, s) == before  # not committed: not visible
            conn.rollback()
        assert ran == [] and cache.hits == 4
        with recursive_queries(app) as ran:
            assert await answers(client, s) == before
        assert ran == [] and cache.hits == 8  # the rollback restored the same generation


async def test_every_parameter_is_part_of_the_key(app: FastAPI) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
        shaft = s["items"]["SHAFT"]["id"]
        later = today() + timedelta(days=10)
        await make_bom(
            client, shaft, [(s["items"]["BOLT"]["id"], "7")], effective_from=later.isoformat()
        )
        now, then = await answers(client, s), await answers(client, s, later)
        url = f"/api/v1/bom/items/{s['items']['PUMP']['id']}/explosion"
        one = (await client.get(url, params={"quantity": "1"})).json()
        default = (await client.get(url)).json()
        cache = for_app(app)
        assert (cache.misses, cache.hits, len(cache)) == (9, 1, 9)  # the default quantity is 1
        assert await answers(client, s) == now and await answers(client, s, later) == then
        assert cache.hits == 9
    assert now != then  # each day answered with its own effective versions
    assert [c["item_code"] for c in then[0]["nodes"][0]["children"]] == ["BOLT"]
    assert one["nodes"][0]["quantity"] == 2.2 and default == one
    assert now[0]["nodes"][0]["quantity"] == 22


QUANTITIES = ["10", "3.5", "0.000001", "1234.567891", "999999999999.999999"]


async def test_any_quantity_is_scaled_from_one_unit_explosion(app: FastAPI) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
        top = s["items"]["PUMP"]["id"]
        url = f"/api/v1/bom/items/{top}/explosion"
        trees, flats = [], []
        with recursive_queries(app) as ran:
            for quantity in QUANTITIES:
                params = {"quantity": quantity}
                trees.append((await client.get(url, params=params)).json())
                flats.append((await client.get(f"{url}/flat", params=params)).json())
        assert len(ran) == 1  # one unit explosion, for the trees and the sums
        structures = structures_for_app(app)
        assert (structures.hits, structures.misses, len(structures)) == (9, 1, 1)
        async with app.state.db.sessions() as session:
            for quantity, tree in zip(QUANTITIES, trees, strict=True):
                # oracle: the query that carries the top quantity itself through the levels
                rows = await service.explosion_rows(
                    session, bom_id=tree["bom_id"], quantity=Decimal(quantity), at=today()
                )
                expected = {
                    r.line_path: float(r.quantity.quantize(Q6, ROUND_HALF_UP)) for r in rows
                }
                assert nodes_by_path(tree["nodes"]) == expected
    for quantity, flat in zip(QUANTITIES, flats, strict=True):
        shaft = next(c for c in flat["components"] if c["item_code"] == "SHAFT")
        assert shaft["quantity"] == float((Decimal(quantity) * Decimal("2.2")).quantize(Q6))


def nodes_by_path(
    nodes: list[dict[str, Any]], above: tuple[int, ...] = ()
) -> dict[tuple[int, ...], float]:
    """Every node's quantity by its line path."""
    out: dict[tuple[int, ...], float] = {}
    for node in nodes:
        path = (*above, node["line_id"])
        out[path] = node["quantity"]
        out.update(nodes_by_path(node["children"], path))
    return out


async def test_zero_entries_disables_the_cache(db: TestDb) -> None:
    async with other_app(db, bom_cache_entries=0) as app, planner(app) as client:
        s = await make_pump(client)
        with recursive_queries(app) as ran:
            first = await answers(client, s)
            assert await answers(client, s) == first
        cache = for_app(app)
        assert not cache.enabled and len(cache) == 0
    assert len(ran) == 8  # every call computed


async def test_cache_is_bounded_least_recently_used_first(db: TestDb) -> None:
    async with other_app(db, bom_cache_entries=2) as app, planner(app) as client:
        s = await make_pump(client)
        url = f"/api/v1/bom/items/{s['items']['PUMP']['id']}/explosion"
        for quantity in ["1", "2", "1", "3"]:  # 1 is used again, so 2 is the one evicted
            assert (await client.get(url, params={"quantity": quantity})).status_code == 200
        cache = for_app(app)
        assert len(cache) == 2 and (cache.hits, cache.misses) == (1, 3)
        with recursive_queries(app) as ran:
            await client.get(url, params={"quantity": "1"})
            await client.get(url, params={"quantity": "3"})
        assert ran == []
        with recursive_queries(app) as ran:
            await client.get(url, params={"quantity": "2"})
        # computed again, from the unit explosion the process still keeps: no query
        assert ran == [] and cache.misses == 4 and len(cache) == 2
        assert len(structures_for_app(app)) == 1


async def test_errors_are_not_cached(app: FastAPI) -> None:
    async with planner(app) as client:
        bolt = await make_item(client, "BOLT")
        url = f"/api/v1/bom/items/{bolt['id']}/explosion"
        assert (await client.get(url)).status_code == 404
        assert len(for_app(app)) == 0
        nut = await make_item(client, "NUT")
        await make_bom(client, bolt["id"], [(nut["id"], "1")])
        r = await client.get(url)
    assert r.status_code == 200 and r.json()["nodes"][0]["item_code"] == "NUT"


def test_result_cache_keeps_entries_of_one_generation() -> None:
    cache: ResultCache[bytes] = ResultCache(3)
    cache.put("k", 7, b"{}")
    assert cache.get("k", 7) == b"{}" and cache.fresh("k", 7)
    assert cache.get("k", 8) is None  # stale: its bytes are dropped, its place and recipe kept
    assert "k" in cache and not cache.fresh("k", 7) and cache.get("k", 7) is None
    with pytest.raises(ValueError, match="entries must be >= 0"):
        ResultCache(-1)


async def test_concurrent_readers_after_a_change_share_one_explosion(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, computed = asyncio.Event(), []
    explode = service.unit_tree

    async def held(**kwargs: Any) -> service.UnitExplosion:  # the first caller's query, held
        computed.append(kwargs["item_id"])
        await gate.wait()
        return await explode(**kwargs)

    monkeypatch.setattr(service, "unit_tree", held)
    cache = for_app(app)
    async with planner(app) as client:
        s = await make_pump(client)
        url, params = requests(s, today())[0]
        readers = [asyncio.create_task(client.get(url, params=params)) for _ in range(6)]
        await eventually(lambda: cache.misses == 6, timeout=30, what="six readers missing")
        gate.set()
        replies = await asyncio.gather(*readers)
    assert [r.status_code for r in replies] == [200] * 6
    assert len({r.content for r in replies}) == 1
    assert computed == [s["items"]["PUMP"]["id"]]  # one computation answered all six
    assert (cache.shared, len(cache)) == (5, 1)


async def _computing(
    cache: ResultCache[bytes], compute: Callable[[], Awaitable[bytes]], n: int
) -> Any:
    tasks = [asyncio.create_task(cache.computed("k", 1, compute)) for _ in range(n)]
    await asyncio.sleep(0)  # every task reaches its first await: one computes, the rest wait
    return tasks


async def test_a_shared_error_reaches_every_caller_and_is_not_kept() -> None:
    cache: ResultCache[bytes] = ResultCache(4)
    gate, calls = asyncio.Event(), []

    async def failing() -> bytes:
        calls.append(1)
        await gate.wait()
        raise ValueError("no such BOM")

    tasks = await _computing(cache, failing, 3)
    gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert [type(o) for o in outcomes] == [ValueError] * 3 and len(calls) == 1
    assert len(cache) == 0 and await cache.computed("k", 1, _answer) == b"answer"


async def test_when_the_computing_caller_is_cancelled_a_waiter_computes() -> None:
    cache: ResultCache[bytes] = ResultCache(4)
    gate = asyncio.Event()

    async def slow() -> bytes:
        await gate.wait()
        return b"late"

    first, second = await _computing(cache, slow, 2)
    first.cancel()
    gate.set()
    assert await second == b"late"
    assert first.cancelled() and cache.get("k", 1) == b"late"


async def _answer() -> bytes:
    return b"answer"


async def test_refresh_recomputes_the_answers_a_change_made_stale(app: FastAPI, db: TestDb) -> None:
    cache = for_app(app)
    async with planner(app) as client:
        s = await make_pump(client)
        await answers(client, s)
        assert await cache.refresh(app.state.db.sessions) == 0  # nothing is stale
        await _line_quantity(client, db, s)
        assert await cache.refresh(app.state.db.sessions) == 4
        with recursive_queries(app) as ran:
            after = await answers(client, s)
        assert ran == [] and cache.hits == 4 and cache.refreshed == 4  # read as refreshed
    async with other_app(db, bom_cache_entries=0) as fresh, planner(fresh) as uncached:
        assert await answers(uncached, s) == after  # the refreshed answers are the new ones
    assert after[0]["nodes"][0]["children"][0]["quantity"] == 16.5  # 22 shafts x 0.75 m


async def test_refresh_leaves_answers_not_read_recently(app: FastAPI, db: TestDb) -> None:
    cache = for_app(app)
    async with planner(app) as client:
        s = await make_pump(client)
        await answers(client, s)
        await _line_quantity(client, db, s)
        later = time.monotonic() + RECENT_S + 1
        assert await cache.refresh(app.state.db.sessions, now=later) == 0
        with recursive_queries(app) as ran:
            await answers(client, s)
    assert len(ran) == 3  # the readers computed them (the tree's walk also sums the flat one)


async def test_refresh_drops_answers_that_no_longer_exist(app: FastAPI, db: TestDb) -> None:
    cache = for_app(app)
    async with planner(app) as client:
        s = await make_pump(client)
        await answers(client, s)
        await _top_bom_later(client, db, s)  # PUMP has no effective BOM today any more
        assert await cache.refresh(app.state.db.sessions) == 2  # where-used of BAR
        assert len(cache) == 2  # both PUMP explosions dropped
        url = f"/api/v1/bom/items/{s['items']['PUMP']['id']}/explosion"
        r = await client.get(url, params={"quantity": "10"})
    assert r.status_code == 404 and "no BOM effective" in r.json()["error"]["message"]


async def _top_bom_later(client: httpx.AsyncClient, db: TestDb, s: Structure) -> None:
    sql(
        db,
        "UPDATE bom SET effective_from = %(later)s WHERE id = %(bom)s",
        {"bom": s["boms"]["PUMP"]["id"], "later": today() + timedelta(days=3)},
    )


async def test_refresh_loop_refreshes_once_a_change_is_quiet(app: FastAPI, db: TestDb) -> None:
    cache = for_app(app)
    loop = asyncio.create_task(refresh_loop(cache, app.state.db.sessions, 0.05))
    try:
        async with planner(app) as client:
            s = await make_pump(client)
            before = await answers(client, s)
            await _item_rename(client, db, s)
            await eventually(lambda: cache.refreshed >= 4, timeout=30, what="the refresh")
            with recursive_queries(app) as ran:
                after = await answers(client, s)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert ran == [] and cache.hits == 4
    assert after != before and after[0]["nodes"][0]["item_name"] == "Drive shaft, rev B"


async def test_refresh_loop_rides_out_an_unreachable_database(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    tries: list[int] = []
    reachable = asyncio.Event()

    @asynccontextmanager
    async def sessions() -> AsyncIterator[Any]:  # the database, down until `reachable`
        tries.append(1)
        if not reachable.is_set():
            raise OSError("connection refused")
        async with app.state.db.sessions() as session:
            yield session

    caplog.set_level(logging.INFO, logger="core.bom.cache")
    loop = asyncio.create_task(refresh_loop(for_app(app), cast(Any, sessions), 0.001))
    try:
        await eventually(lambda: len(tries) >= 4, timeout=30, what="four failed checks")
        reachable.set()
        await eventually(
            lambda: "BOM answer refresh resumed" in caplog.text, timeout=30, what="resuming"
        )
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    paused = [r for r in caplog.records if "refresh paused" in r.getMessage()]
    assert len(paused) == 1 and "connection refused" in paused[0].getMessage()
    assert paused[0].levelno == logging.WARNING
