"""Explosions kept across BOM changes: each generation records the items it changed
(`bom_change`); a kept unit explosion none of whose items changed is used as it is, one with a
changed sub-assembly has only that subtree walked again, and either way the answers are the
ones a fresh computation gives."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI

from core.bom.cache import structures_for_app
from core.bom.service import today
from core.bom.structures import CHANGES_KEPT, changed_items
from tests.core.bom.helpers import make_bom, make_item, make_pump
from tests.core.bom.test_explosion_cache import (
    other_app,
    planner,
    recorded,
    recursive_queries,
    sql,
)
from tests.support.databases import TestDb


def walks(statements: list[str]) -> list[str]:
    """Each explosion walk among `statements`: 'whole' or 'seeded' (a patch)."""
    return ["seeded" if "FROM unnest(" in sql else "whole" for sql in statements]


def generation_and_changes(db: TestDb) -> tuple[int, list[int | None]]:
    with psycopg.connect(db.conninfo) as conn:
        row = conn.execute("SELECT value FROM bom_generation").fetchone()
        assert row is not None
        changes = conn.execute(
            "SELECT item_id FROM bom_change WHERE generation = %(g)s ORDER BY item_id",
            {"g": row[0]},
        ).fetchall()
    return row[0], [c[0] for c in changes]


async def test_each_generation_records_the_items_it_changed(app: FastAPI, db: TestDb) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
    items = {code: item["id"] for code, item in s["items"].items()}
    boms = {code: bom["id"] for code, bom in s["boms"].items()}
    start, _ = generation_and_changes(db)
    for statement, params, changed in [
        ("UPDATE item SET safety_stock = 5 WHERE id = %(id)s", {"id": items["BAR"]}, None),
        ("UPDATE item SET name = name WHERE id = %(id)s", {"id": items["BAR"]}, None),
        ("UPDATE bom SET description = 'rev' WHERE id = %(id)s", {"id": boms["PUMP"]}, None),
        ("UPDATE item SET name = 'Bar, C45' WHERE id = %(id)s", {"id": items["BAR"]}, ["BAR"]),
        ("UPDATE item SET unit = 'kg' WHERE id = %(id)s", {"id": items["BOLT"]}, ["BOLT"]),
        (
            "UPDATE bom_line SET quantity = 3 WHERE bom_id = %(id)s",
            {"id": boms["SHAFT"]},
            ["SHAFT"],
        ),
        (
            "UPDATE bom SET effective_from = effective_from - 1 WHERE id = ANY(%(ids)s)",
            {"ids": [boms["HOUSING"], boms["SHAFT"]]},
            ["SHAFT", "HOUSING"],
        ),
    ]:
        before, _ = generation_and_changes(db)
        sql(db, statement, params)
        after, recorded = generation_and_changes(db)
        if changed is None:
            assert after == before, statement  # nothing an answer reads: no new generation
        else:
            assert after > before and recorded == sorted(items[c] for c in changed), statement
    async with app.state.db.sessions() as session:
        end, _ = generation_and_changes(db)
        everything = frozenset(items[c] for c in ["BAR", "BOLT", "SHAFT", "HOUSING"])
        assert await changed_items(session, start, end) == everything
        last = frozenset([items["SHAFT"], items["HOUSING"]])
        assert await changed_items(session, end - 1, end) == last
        assert await changed_items(session, end, end) == frozenset()
        assert await changed_items(session, end - CHANGES_KEPT - 1, end) is None  # not kept
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE bom_line")
    truncated, recorded = generation_and_changes(db)
    assert recorded == [None]  # every item
    async with app.state.db.sessions() as session:
        assert await changed_items(session, end, truncated) is None


@asynccontextmanager
async def uncached(db: TestDb) -> AsyncIterator[httpx.AsyncClient]:
    async with other_app(db, bom_cache_entries=0) as fresh, planner(fresh) as client:
        yield client


async def trees(client: httpx.AsyncClient, *items: int, quantity: str = "7") -> list[Any]:
    out = []
    for item in items:
        for kind in ("explosion", "explosion/flat"):
            r = await client.get(f"/api/v1/bom/items/{item}/{kind}", params={"quantity": quantity})
            assert r.status_code == 200, r.text
            out.append(r.json())
    return out


async def test_an_unrelated_change_keeps_the_explosion(app: FastAPI, db: TestDb) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
        pump = s["items"]["PUMP"]["id"]
        fan, blade = await make_item(client, "FAN"), await make_item(client, "BLADE")
        fan_bom = await make_bom(client, fan["id"], [(blade["id"], "3")])
        before = await trees(client, pump)
        structures, key = structures_for_app(app), ("explosion", pump, today())
        found = structures.peek(key, 0)
        seven = [("tree", Decimal(7)), ("flat", Decimal(7))]
        assert found is not None and list(found[1].answers) == seven
        sql(db, "UPDATE bom_line SET quantity = 5 WHERE bom_id = %(id)s", {"id": fan_bom["id"]})
        with recursive_queries(app) as ran:
            assert await trees(client, pump) == before  # encoded answers kept with them
            after = await trees(client, pump, quantity="7.5")  # scaled
        assert walks(ran) == []  # the pump's tree and sums were kept: no item of theirs changed
        again = structures.peek(key, 0)
        assert again is not None and again[1] is found[1] and again[0] > found[0]
        with recursive_queries(app) as ran:
            assert (await trees(client, fan["id"]))[0]["nodes"][0]["quantity"] == 35
        assert walks(ran) == ["whole"]  # one walk for the tree and the sums
    async with uncached(db) as fresh:
        assert await trees(fresh, pump, quantity="7.5") == after
    assert after[0]["nodes"][0]["quantity"] == 16.5 and before[0]["nodes"][0]["quantity"] == 15.4


async def test_a_changed_sub_assembly_is_walked_again_alone(app: FastAPI, db: TestDb) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
        pump, shaft = s["items"]["PUMP"]["id"], s["items"]["SHAFT"]["id"]
        await trees(client, pump)
        nut = await make_item(client, "NUT")
        await make_bom(client, shaft, [(s["items"]["BAR"]["id"], "0.6"), (nut["id"], "2")])
        with recursive_queries(app) as ran:
            patched = await trees(client, pump)
        assert walks(ran) == ["seeded"]  # SHAFT's subtree, for the tree and the sums
        with recursive_queries(app) as ran:
            assert await trees(client, pump) == patched
        assert walks(ran) == []
        sql(db, "UPDATE item SET code = 'PUMP-B' WHERE id = %(id)s", {"id": pump})
        with recursive_queries(app) as ran:
            renamed = await trees(client, pump)
        assert walks(ran) == []  # the top item changed, its lines did not: nothing walked
        assert renamed[0]["item_code"] == "PUMP-B"
    async with uncached(db) as fresh:
        assert await trees(fresh, pump) == renamed
    shaft_node = patched[0]["nodes"][0]
    assert [c["item_code"] for c in shaft_node["children"]] == ["BAR", "NUT"]
    assert [c["quantity"] for c in shaft_node["children"]] == [9.24, 30.8]  # 15.4 x 0.6, x 2


def seeded_walks(app: FastAPI) -> AbstractContextManager[list[list[str]]]:
    """The seeds (occurrence keys) of each seeded walk the app runs inside the block."""
    return recorded(app, lambda statement, params: _seeds(statement, params))


def _seeds(statement: str, params: Any) -> list[str] | None:
    return list(params["nodes"]) if "FROM unnest(" in statement else None


async def new_version(
    client: httpx.AsyncClient,
    bom_id: int,
    change: dict[str, Any],
    line: int = 0,
    effective_from: date | None = None,
) -> dict[str, Any]:
    """A copy of BOM `bom_id` with its `line`-th line changed by `change` (deleted when
    empty), activated (from today by default): the next version, as an engineering change
    makes it."""
    r = await client.post(f"/api/v1/bom/{bom_id}/copy")
    assert r.status_code == 201, r.text
    draft = r.json()
    target = draft["lines"][line]["id"]
    path = f"/api/v1/bom/{draft['id']}/lines/{target}"
    r = await (client.patch(path, json=change) if change else client.delete(path))
    assert r.status_code in (200, 204), r.text
    start = {"effective_from": effective_from.isoformat()} if effective_from else {}
    r = await client.post(f"/api/v1/bom/{draft['id']}/activate", json=start)
    assert r.status_code == 200, r.text
    version: dict[str, Any] = r.json()
    return version


async def test_a_new_version_of_the_top_walks_only_its_changed_lines(
    app: FastAPI, db: TestDb
) -> None:
    async with planner(app) as client:
        s = await make_pump(client)
        pump = s["items"]["PUMP"]["id"]
        before = await trees(client, pump)
        version = await new_version(client, s["boms"]["PUMP"]["id"], {"quantity": "3"}, line=1)
        with seeded_walks(app) as seeds, recursive_queries(app) as ran:
            after = await trees(client, pump)
        assert walks(ran) == ["seeded"]  # one patch serves the tree and the sums
        housing_line = next(li for li in version["lines"] if li["position"] == 20)
        assert seeds == [[str(housing_line["id"])]]  # SHAFT's line is carried over, kept
        shaft, housing = after[0]["nodes"]
        shaft_line = next(li for li in version["lines"] if li["position"] == 10)
        assert shaft == {
            **before[0]["nodes"][0],
            "line_id": shaft_line["id"],
            "bom_id": version["id"],
        }
        assert after[0]["bom_id"] == version["id"]
        assert (housing["line_id"], housing["quantity"]) == (housing_line["id"], 21)
        assert housing["children"][0]["quantity"] == 84  # 7 x 3 housings x 4 bolts
        version = await new_version(client, version["id"], {}, line=0)  # SHAFT's line dropped
        with seeded_walks(app) as seeds, recursive_queries(app) as ran:
            dropped = await trees(client, pump)
        assert walks(ran) == [] and seeds == []  # HOUSING's line is kept, nothing to walk
        assert [n["item_code"] for n in dropped[0]["nodes"]] == ["HOUSING"]
        assert [c["item_code"] for c in dropped[1]["components"]] == ["HOUSING", "BOLT"]
    async with uncached(db) as fresh:
        assert await trees(fresh, pump) == dropped


async def on_day(client: httpx.AsyncClient, item: int, day: date) -> list[Any]:
    """The tree and flat explosion of 7 units of `item` on `day`."""
    out = []
    for kind in ("explosion", "explosion/flat"):
        r = await client.get(
            f"/api/v1/bom/items/{item}/{kind}", params={"quantity": "7", "at": day.isoformat()}
        )
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


async def test_another_day_with_the_same_versions_reuses_the_explosion(
    app: FastAPI, db: TestDb
) -> None:
    day = today()
    days = [day + timedelta(days=n) for n in (0, 5, 20, 25, 7)]
    async with planner(app) as client:
        s = await make_pump(client)
        pump = s["items"]["PUMP"]["id"]
        # SHAFT's next version (more bar) takes effect 10 days from now
        await new_version(
            client, s["boms"]["SHAFT"]["id"], {"quantity": "0.75"}, 0, days[0] + timedelta(days=10)
        )
        read = {}
        for at, walked in zip(days, [["whole"], [], ["whole"], [], []], strict=True):
            with recursive_queries(app) as ran:
                read[at] = await on_day(client, pump, at)
            assert walks(ran) == walked, at  # walked only across SHAFT's change
            assert read[at][0]["at"] == read[at][1]["at"] == at.isoformat()
    async with uncached(db) as fresh:
        for at in days:
            assert await on_day(fresh, pump, at) == read[at], at
    bars = {at: read[at][0]["nodes"][0]["children"][0]["quantity"] for at in days}
    assert [bars[at] for at in days] == [7.7, 7.7, 11.55, 11.55, 7.7]  # 15.4 shafts x 0.5, x 0.75


STEPS = 40


async def test_kept_and_patched_explosions_match_fresh_ones(app: FastAPI, db: TestDb) -> None:
    """Random structures and random changes: after each change, every answer of the caching
    process equals a fresh computation's."""
    rng = random.Random(20261127)
    async with planner(app) as client, uncached(db) as fresh:
        items = [
            (await make_item(client, f"P{n:02}", type="semi_finished"))["id"] for n in range(14)
        ]
        # components only from later items: no cycles; some shared by several assemblies
        for n, item in enumerate(items[:10]):
            await make_bom(client, item, _lines(rng, items[n + 1 :]), quantity="2")
        tops = items[:3]
        seen: list[str] = []
        for step in range(STEPS):
            with recursive_queries(app) as ran:
                assert await replies(client, tops) == await replies(fresh, tops), step
            seen += walks(ran)
            await _random_change(rng, client, db, items)
    assert "seeded" in seen and seen.count("whole") < STEPS * len(tops)


async def replies(client: httpx.AsyncClient, items: list[int]) -> list[tuple[int, Any]]:
    """Status and body of the tree and flat explosion of each item (an item without an
    effective BOM today answers 404)."""
    out = []
    for item in items:
        for kind in ("explosion", "explosion/flat"):
            r = await client.get(f"/api/v1/bom/items/{item}/{kind}", params={"quantity": "7"})
            out.append((r.status_code, r.json()))
    return out


def _lines(rng: random.Random, later: list[int]) -> list[tuple[int, str] | tuple[int, str, str]]:
    chosen = rng.sample(later, min(len(later), rng.randint(1, 3)))
    return [
        (c, str(rng.choice([1, 2, 3, "0.5", "1.25"])), rng.choice(["0", "0.05"])) for c in chosen
    ]


def _active_from(db: TestDb, item: int) -> date:
    with psycopg.connect(db.conninfo) as conn:
        row = conn.execute(
            "SELECT effective_from FROM bom WHERE item_id = %(item)s AND status = 'active'",
            {"item": item},
        ).fetchone()
    assert row is not None
    start: date = row[0]
    return start


async def _random_change(
    rng: random.Random, client: httpx.AsyncClient, db: TestDb, items: list[int]
) -> None:
    n = rng.randrange(10)
    item = items[n]
    match rng.choice(["version", "revision", "rename", "line", "retire", "planning"]):
        case "version":  # a new version of an assembly, activated (after a retired one)
            start = max(today(), _active_from(db, item))
            lines = _lines(rng, items[n + 1 :])
            await make_bom(client, item, lines, quantity="2", effective_from=start.isoformat())
        case "revision":  # the next version of an active one: one line changed or dropped
            r = await client.get("/api/v1/bom", params={"item_id": item, "status": "active"})
            assert r.status_code == 200, r.text
            if r.json()["items"]:
                active = r.json()["items"][0]
                change = rng.choice([{}, {"quantity": "4"}, {"scrap_factor": "0.1"}])
                r = await client.get(f"/api/v1/bom/{active['id']}")
                line = rng.randrange(len(r.json()["lines"]))
                if change or len(r.json()["lines"]) > 1:
                    start = max(today(), _active_from(db, item))
                    await new_version(client, active["id"], change, line, start)
        case "rename":
            r = await client.patch(
                f"/api/v1/items/{item}", json={"name": f"renamed {rng.random()}"}
            )
            assert r.status_code == 200, r.text
        case "line":  # an active version's line edited in place (plain SQL)
            sql(
                db,
                "UPDATE bom_line SET quantity = quantity + 1 WHERE bom_id = "
                "(SELECT id FROM bom WHERE item_id = %(item)s AND status = 'active')",
                {"item": item},
            )
        case "retire":  # the active version takes effect only later: the item is a leaf today
            later = today() + timedelta(days=30)
            sql(
                db,
                "UPDATE bom SET effective_from = %(later)s WHERE item_id = %(item)s "
                "AND status = 'active'",
                {"item": item, "later": later},
            )
        case _:  # nothing an answer shows
            r = await client.patch(f"/api/v1/items/{item}", json={"safety_stock": "3"})
            assert r.status_code == 200, r.text
