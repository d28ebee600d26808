"""Production benchmark: work-order lists, BOM explosion and where-used on a large data set.

`python -m bench.core_production` builds a private PostgreSQL with 50,000 items, 100,000 work
orders and a 10-level BOM of ~10,000 nodes (each node its own item and, above the leaves, its
own active BOM version; one shared component used on 100 BOMs at every level), then measures:

- the work-order list with search and a status filter: its SQL from 20 concurrent database
  clients, the service function (1 client), and the API in-process with 20 concurrent clients
  (one Python process on this machine: that measures Python as much as the database);
- multi-level explosion of the big BOM (tree and flat) and where-used (deep leaf, shared
  component): the recursive query alone and the service functions, 1 client and 20 clients,
  against two baselines in the same run: a naive per-node query loop (N+1) and a per-level loop
  (one query per level), each building the same rows as the recursive query (checked, and
  recorded under `rows`). These "cold" rows run with the BOM answer cache off;
- the same explosion and where-used reads through the API with the cache on (the answer
  computed once, then served while the BOM generation is unchanged), in-process and over HTTP;
- over HTTP, the first reader right after each kind of BOM change, and 20 paced clients
  reading while an engineering change is committed every `CHANGE_EVERY_S` seconds (a
  sub-assembly's line, a new version of the top item through the API, another product).

Prints a table and writes bench/results/core_production.json. Figures are latencies in ms.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.envfile import load_env_sh

load_env_sh()

from bench.core_http import WORKERS, Request, Served, measure, plans_for, served  # noqa: E402
from core.app import create_app, settle_heap  # noqa: E402 - after env.sh is loaded
from core.bom import service as bom  # noqa: E402
from core.bom.cache import for_app  # noqa: E402
from core.common.listing import ListParams  # noqa: E402
from core.work_orders import service as work_orders  # noqa: E402
from core.work_orders.models import WorkOrderStatus  # noqa: E402
from tests.support import databases  # noqa: E402
from tests.support.api import api_client, api_settings, principal_for  # noqa: E402
from tests.support.databases import TestDb  # noqa: E402
from tests.support.postgres import private_cluster  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ITEMS, WORK_ORDERS, LINES = 50_000, 100_000, 10
FAN_OUT = [2, 3, 2, 3, 2, 3, 2, 3, 2, 2]  # children per node, level by level: 9,848 nodes
SHARED_USES = 100
CLIENTS, PER_CLIENT = 20, 10
TARGET_LIST_P95_MS, TARGET_BOM_MS = 50.0, 100.0
AT = date(2026, 6, 1)
STATUSES = ["planned", "released", "in_progress", "paused", "completed", "cancelled"]

LOAD_SQL = [
    f"""INSERT INTO item (code, name, type, unit, lot_tracked, safety_stock, lead_time_days,
        active) SELECT 'ITEM-' || lpad(g::text, 6, '0'),
        'Item ' || g || CASE WHEN g % 7 = 0 THEN ' gear' ELSE ' shaft' END,
        CASE WHEN g = 1 THEN 'finished' ELSE 'semi_finished' END, 'pcs', false, 0, 0, true
        FROM generate_series(1, {ITEMS}) g""",
    "INSERT INTO equipment (code, name, level, status) VALUES ('S', 'Site', 'site', 'in_service')",
    """INSERT INTO equipment (code, name, level, parent_id, status)
       SELECT 'A', 'Area', 'area', id, 'in_service' FROM equipment WHERE code = 'S'""",
    f"""INSERT INTO equipment (code, name, level, parent_id, status)
        SELECT 'L' || g, 'Line ' || g, 'line', (SELECT id FROM equipment WHERE code = 'A'),
        'in_service' FROM generate_series(1, {LINES}) g""",
    f"""INSERT INTO work_order (code, item_id, quantity, status, line_id, priority, due_date,
        good_quantity, scrap_quantity)
        SELECT 'WO-' || lpad(g::text, 6, '0'), 1 + (g * 7919) % {ITEMS}, 100 + g % 900,
        (ARRAY{STATUSES!r})[1 + g % 6],
        (SELECT min(id) FROM equipment WHERE level = 'line') + g % {LINES},
        1 + g % 1000, DATE '2026-01-01' + (g % 365), 0, 0
        FROM generate_series(1, {WORK_ORDERS}) g""",
]


def machine() -> dict[str, Any]:
    """What ran the benchmark."""
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1m": os.getloadavg()[0],
    }


def build_tree() -> tuple[list[tuple[int, int]], int, int]:
    """(parent item, child item) edges of the big BOM, its deepest leaf, and the node count."""
    edges, frontier, next_item = [], [1], 2
    for fan in FAN_OUT:
        nxt = []
        for parent in frontier:
            for _ in range(fan):
                edges.append((parent, next_item))
                nxt.append(next_item)
                next_item += 1
        frontier = nxt
    return edges, frontier[-1], len(edges)


def load(db: TestDb) -> dict[str, int]:
    """Fill the database; returns ids the measurements use."""
    edges, leaf, nodes = build_tree()
    shared = ITEMS  # the last item: a component used on SHARED_USES BOMs at every level
    parents = sorted({p for p, _ in edges})
    rng = random.Random(7)
    shared_on = rng.sample(parents, SHARED_USES)
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        for sql in LOAD_SQL:
            conn.execute(sql)
        with conn.cursor() as cur:
            with cur.copy(
                "COPY bom (id, item_id, version, status, quantity, effective_from) FROM STDIN"
            ) as copy:
                for parent in parents:
                    copy.write_row((parent, parent, 1, "active", 1, date(2020, 1, 1)))
            position: dict[int, int] = {}
            with cur.copy(
                "COPY bom_line (bom_id, position, component_item_id, quantity, unit, "
                "scrap_factor) FROM STDIN"
            ) as copy:
                for parent, child in [*edges, *((p, shared) for p in shared_on)]:
                    position[parent] = position.get(parent, 0) + 10
                    copy.write_row((parent, position[parent], child, 2, "pcs", "0.01"))
            cur.execute("SELECT setval(pg_get_serial_sequence('bom', 'id'), max(id)) FROM bom")
        conn.execute("VACUUM ANALYZE")  # as a running database is: no autovacuum mid-run
    return {"top": 1, "leaf": leaf, "shared": shared, "nodes": nodes}


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    """Median and p95 in ms."""
    return {
        "p50_ms": round(statistics.median(values), 3),
        "p95_ms": round(percentile(values, 0.95), 3),
        "n": len(values),
    }


def searches(rng: random.Random) -> tuple[str, list[str]]:
    """A search text and a status filter as users type them."""
    q = rng.choice([f"WO-0{rng.randrange(1000, 9999)}", f"ITEM-0{rng.randrange(100, 499)}", "gear"])
    return q, rng.sample(STATUSES[:4], 2)


async def concurrently(call: Callable[[random.Random], Awaitable[None]]) -> list[float]:
    """CLIENTS tasks in this process each making PER_CLIENT calls; latencies in ms."""
    latencies: list[float] = []

    async def client(n: int) -> None:
        rng = random.Random(n)
        for _ in range(PER_CLIENT):
            start = time.perf_counter()
            await call(rng)
            latencies.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return latencies


def database_clients(
    db: TestDb, run: Callable[[psycopg.Connection[Any], random.Random], None], per_client: int
) -> list[float]:
    """CLIENTS threads, each with its own connection, all running at once."""
    barrier = threading.Barrier(CLIENTS)

    def client(n: int) -> list[float]:
        rng, latencies = random.Random(n), []
        with psycopg.connect(db.conninfo, autocommit=True) as conn:
            run(conn, rng)
            barrier.wait()
            for _ in range(per_client):
                start = time.perf_counter()
                run(conn, rng)
                latencies.append((time.perf_counter() - start) * 1000)
        return latencies

    with ThreadPoolExecutor(CLIENTS) as pool:
        return [x for part in pool.map(client, range(CLIENTS)) for x in part]


SEARCH = """
    wo.status = ANY(%(status)s) AND (wo.code ILIKE %(q)s OR wo.item_id = ANY(ARRAY(
        SELECT id FROM item WHERE code ILIKE %(q)s OR name ILIKE %(q)s)))
"""
# the shape of core.work_orders.listing for a search: window on work_order with the total
# beside each id, then the joins for 50 rows
LIST_SQL = f"""
    SELECT wo.*, i.code, i.name, i.unit, line.code, eq.code, page.total
    FROM (SELECT wo.id, count(*) OVER () AS total FROM work_order wo WHERE {SEARCH}
          ORDER BY wo.id DESC LIMIT 50) page
    JOIN work_order wo ON wo.id = page.id JOIN item i ON i.id = wo.item_id
    LEFT JOIN equipment line ON line.id = wo.line_id
    LEFT JOIN equipment eq ON eq.id = wo.equipment_id
    ORDER BY wo.id DESC
"""


def sql_list(conn: psycopg.Connection[Any], rng: random.Random) -> None:
    """The list query with its total, as the service runs a search."""
    q, status = searches(rng)
    params = {"q": f"%{q}%", "status": status}
    conn.execute(LIST_SQL, params, prepare=True).fetchall()


def sql_explosion(ids: dict[str, int]) -> Callable[[psycopg.Connection[Any], random.Random], None]:
    """The explosion query alone."""
    sql = str(bom.EXPLOSION_SQL)
    for name in ("bom_id", "qty", "at"):
        sql = sql.replace(f":{name}", f"%({name})s")

    def run(conn: psycopg.Connection[Any], rng: random.Random) -> None:
        del rng
        conn.execute(sql, {"bom_id": ids["top"], "qty": 10, "at": AT}, prepare=True).fetchall()

    return run


LEVEL_SQL = f"""
    SELECT b.item_id, b.id, b.quantity, l.id, l.component_item_id, l.quantity, l.scrap_factor,
           l.operation_seq, l.position, i.code, i.name, i.unit
    FROM bom b JOIN bom_line l ON l.bom_id = b.id JOIN item i ON i.id = l.component_item_id
    WHERE b.item_id = ANY(:items) AND {bom.EFFECTIVE}
"""
ROLL = Context(prec=60, rounding=ROUND_HALF_UP)  # the walk's numeric arithmetic, ties away
CARRIED = Decimal(1).scaleb(-bom.CARRY)  # quantities carried per level, as the walk does

Occurrence = tuple[Decimal, tuple[int, ...], tuple[int, ...]]
"""A node of the explosion: its rolled-up quantity, line ids and item ids from the top."""


def _level(
    frontier: dict[int, list[Occurrence]], lines: Any, level: int
) -> tuple[list[bom.ExplosionRow], dict[int, list[Occurrence]]]:
    """The rows of the next level, one per occurrence as `bom.explosion_rows` returns them
    (quantities rounded per level as the recursive walk does, cycles skipped), and the
    occurrences they are the parents of."""
    rows: list[bom.ExplosionRow] = []
    below: dict[int, list[Occurrence]] = {}
    for parent, bom_id, base, line, item, per, scrap, op, pos, code, name, unit in lines:
        for qty, line_path, item_path in frontier.get(parent, ()):
            if item in item_path:
                continue
            rolled = ROLL.multiply(ROLL.multiply(ROLL.divide(qty, base), per), 1 + scrap)
            qty_here = rolled.quantize(CARRIED, rounding=ROUND_HALF_UP)
            path = (*line_path, line)
            rows.append(
                bom.ExplosionRow(
                    line, bom_id, item, level, qty_here, path, code, name, unit, per, scrap, op, pos
                )
            )
            if level < bom.MAX_LEVELS:
                below.setdefault(item, []).append((qty_here, path, (*item_path, item)))
    return rows, below


async def naive_explosion(session: AsyncSession, top: int) -> list[bom.ExplosionRow]:
    """Baseline: the same rows with one query per node (N+1), quantities rolled up in Python."""
    rows: list[bom.ExplosionRow] = []
    stack: list[tuple[int, int, Occurrence]] = [(top, 1, (Decimal(10), (), (top,)))]
    while stack:
        item, level, occurrence = stack.pop()
        lines = (await session.execute(text(LEVEL_SQL), {"items": [item], "at": AT})).all()
        found, below = _level({item: [occurrence]}, lines, level)
        rows += found
        stack += [(child, level + 1, o) for child, os in below.items() for o in os]
    return rows


async def per_level_explosion(session: AsyncSession, top: int) -> list[bom.ExplosionRow]:
    """Baseline: the same rows with one query per level, quantities rolled up in Python."""
    rows: list[bom.ExplosionRow] = []
    frontier: dict[int, list[Occurrence]] = {top: [(Decimal(10), (), (top,))]}
    level = 1
    while frontier:
        lines = (await session.execute(text(LEVEL_SQL), {"items": list(frontier), "at": AT})).all()
        found, frontier = _level(frontier, lines, level)
        rows += found
        level += 1
    return rows


async def naive_where_used(session: AsyncSession, item: int) -> int:
    """Baseline: one query per node for the BOMs that use it (N+1)."""
    rows, stack = 0, [item]
    while stack:
        child = stack.pop()
        parents = (
            await session.execute(
                text(
                    f"SELECT b.item_id FROM bom_line l JOIN bom b ON b.id = l.bom_id "
                    f"WHERE l.component_item_id = :item AND {bom.EFFECTIVE}"
                ),
                {"item": child, "at": AT},
            )
        ).all()
        rows += len(parents)
        stack += [p[0] for p in parents]
    return rows


async def timed(fn: Callable[[], Awaitable[Any]], runs: int = 9) -> list[float]:
    """Latencies of `runs` sequential calls after one warm-up call."""
    await fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


async def run(db: TestDb, ids: dict[str, int]) -> dict[str, Any]:
    """Every measurement."""
    results: dict[str, Any] = {}
    # the cold rows measure the computation: this app keeps no BOM answers
    app = create_app(api_settings(db, db_pool_size=CLIENTS, bom_cache_entries=0), background=False)
    settle_heap()  # as a serving process does once started (`mes api`)
    sessions = app.state.db.sessions
    try:
        results["db_list_search_filter"] = summary(database_clients(db, sql_list, PER_CLIENT * 2))

        async def service_list(rng: random.Random) -> None:
            q, status = searches(rng)
            async with sessions() as session:
                await work_orders.list_work_orders(
                    session=session,
                    params=ListParams(q=q, sort=None, limit=50, offset=0),
                    status=[WorkOrderStatus(s) for s in status],
                )

        one = random.Random(99)
        results["service_list_1_client"] = summary(await timed(lambda: service_list(one), runs=20))
        async with api_client(app, principal_for("planner")) as client:

            async def api_list(rng: random.Random) -> None:
                q, status = searches(rng)
                r = await client.get(
                    "/api/v1/work-orders", params=[("q", q), *(("status", s) for s in status)]
                )
                assert r.status_code == 200, r.text

            results["api_list_20_clients"] = summary(await concurrently(api_list))

            async def api_explode() -> None:
                r = await client.get(
                    f"/api/v1/bom/items/{ids['top']}/explosion",
                    params={"quantity": 10, "at": AT.isoformat()},
                )
                assert r.status_code == 200, r.text

            results["api_explosion_tree_1_client"] = summary(await timed(api_explode, runs=5))
            cold = {url: await client.get(url, params=params) for url, params in cached_reads(ids)}

        async def service(fn: Callable[[AsyncSession], Awaitable[Any]]) -> None:
            async with sessions() as session:
                await fn(session)

        explode = lambda s: bom.explosion_payload(  # noqa: E731 - short adapters
            session=s, item_id=ids["top"], quantity=Decimal(10), at=AT
        )
        flat = lambda s: bom.explode_flat(  # noqa: E731
            session=s, item_id=ids["top"], quantity=Decimal(10), at=AT
        )
        used_shared = lambda s: bom.where_used(session=s, item_id=ids["shared"], at=AT)  # noqa: E731
        used_leaf = lambda s: bom.where_used(session=s, item_id=ids["leaf"], at=AT)  # noqa: E731
        used_flat = lambda s: bom.where_used_flat(session=s, item_id=ids["shared"], at=AT)  # noqa: E731
        for name, fn in [
            ("service_explosion_tree_1_client", explode),
            ("service_explosion_flat_1_client", flat),
            ("service_where_used_shared_1_client", used_shared),
            ("service_where_used_flat_shared_1_client", used_flat),
            ("service_where_used_leaf_1_client", used_leaf),
        ]:
            results[name] = summary(await timed(partial(service, fn)))

        async def explosion_rows(session: AsyncSession) -> None:
            await bom.explosion_rows(session, bom_id=ids["top"], quantity=Decimal(10), at=AT)

        results["query_explosion_1_client"] = summary(await timed(lambda: service(explosion_rows)))
        results["db_explosion_20_clients"] = summary(database_clients(db, sql_explosion(ids), 3))
        results["service_explosion_tree_20_clients"] = summary(
            await concurrently(lambda rng: service(explode))
        )
        results["service_where_used_shared_20_clients"] = summary(
            await concurrently(lambda rng: service(used_shared))
        )
        counts: dict[str, int | bool] = {}
        built: dict[str, list[bom.ExplosionRow]] = {}

        async def naive(session: AsyncSession) -> None:
            built["naive"] = await naive_explosion(session, ids["top"])

        async def per_level(session: AsyncSession) -> None:
            built["per_level"] = await per_level_explosion(session, ids["top"])

        async def naive_up(session: AsyncSession) -> None:
            counts["naive_where_used_rows"] = await naive_where_used(session, ids["shared"])

        results["baseline_naive_explosion_1_client"] = summary(
            await timed(lambda: service(naive), runs=3)
        )
        results["baseline_per_level_explosion_1_client"] = summary(
            await timed(lambda: service(per_level), runs=5)
        )
        results["baseline_naive_where_used_shared_1_client"] = summary(
            await timed(lambda: service(naive_up), runs=5)
        )
        async with sessions() as session:
            tree = await bom.explosion_rows(session, bom_id=ids["top"], quantity=Decimal(10), at=AT)
        by_path = sorted(tree, key=lambda row: row.line_path)
        for name, rows in built.items():  # the baselines build the same rows
            counts[f"{name}_rows"] = len(rows)
            counts[f"{name}_same_rows"] = sorted(rows, key=lambda row: row.line_path) == by_path
        results["rows"] = {"explosion": len(tree), **counts}
        results |= await cached_rows(db, ids, cold)
    finally:
        await app.state.db.dispose()
    return results


async def new_quantities(client: httpx.AsyncClient, ids: dict[str, int]) -> dict[str, Any]:
    """Explosions (tree, flat) of quantities not asked before: answers not cached, scaled from
    the unit explosion the process keeps (no recursive query)."""
    results: dict[str, Any] = {}
    quantities = itertools.count(11)
    for name, url in [
        ("explosion_tree", f"/api/v1/bom/items/{ids['top']}/explosion"),
        ("explosion_flat", f"/api/v1/bom/items/{ids['top']}/explosion/flat"),
    ]:

        async def get(url: str = url) -> None:
            params = {"quantity": str(next(quantities)), "at": AT.isoformat()}
            r = await client.get(url, params=params)
            assert r.status_code == 200, r.text

        results[f"api_{name}_new_quantity_1_client"] = summary(await timed(get, runs=20))
    return results


def cached_reads(ids: dict[str, int]) -> list[tuple[str, dict[str, str]]]:
    """The explosion (tree, flat) and where-used (shared component) requests measured cached."""
    at = {"at": AT.isoformat()}
    return [
        (f"/api/v1/bom/items/{ids['top']}/explosion", {"quantity": "10", **at}),
        (f"/api/v1/bom/items/{ids['top']}/explosion/flat", {"quantity": "10", **at}),
        (f"/api/v1/bom/items/{ids['shared']}/where-used", at),
    ]


async def cached_rows(
    db: TestDb, ids: dict[str, int], cold: dict[str, httpx.Response]
) -> dict[str, Any]:
    """The same reads through an app with the BOM answer cache (MES_BOM_CACHE_ENTRIES): the
    first call computes, the measured ones are hits (one generation lookup, bytes sent)."""
    results: dict[str, Any] = {}
    app = create_app(api_settings(db, db_pool_size=CLIENTS), background=False)
    settle_heap()
    names = ["explosion_tree", "explosion_flat", "where_used_shared"]
    try:
        async with api_client(app, principal_for("planner")) as client:
            for (url, params), name in zip(cached_reads(ids), names, strict=True):
                first = await client.get(url, params=params)  # computed and kept
                again = await client.get(url, params=params)  # from the cache
                assert first.json() == again.json() == cold[url].json()  # as computed cold
                results[f"{name}_bytes"] = len(again.content)

                async def get(url: str = url, params: dict[str, str] = params) -> None:
                    r = await client.get(url, params=params)
                    assert r.status_code == 200, r.text

                async def each(
                    rng: random.Random, get: Callable[[], Awaitable[None]] = get
                ) -> None:
                    await get()

                results[f"api_{name}_cached_1_client"] = summary(await timed(get, runs=20))
                results[f"api_{name}_cached_20_clients"] = summary(await concurrently(each))
            results |= await new_quantities(client, ids)
        cache = for_app(app)
        results["cache"] = {"hits": cache.hits, "misses": cache.misses, "entries": len(cache)}
    finally:
        await app.state.db.dispose()
    return results


Change = Callable[[int], None]
"""Commits the n-th change of a series (n = 0, 1, ...)."""


def scrap_change(db: TestDb, bom_id: int = 1) -> Change:
    """A change made in place: the scrap factor of the first line of BOM `bom_id` (the top BOM
    by default), alternating."""
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        line = conn.execute(
            "SELECT id FROM bom_line WHERE bom_id = %(bom)s ORDER BY position LIMIT 1",
            {"bom": bom_id},
        ).fetchone()
    assert line is not None

    def change(n: int) -> None:
        with psycopg.connect(db.conninfo, autocommit=True) as conn:
            conn.execute(
                "UPDATE bom_line SET scrap_factor = %(scrap)s WHERE id = %(line)s",
                {"scrap": "0.02" if n % 2 else "0.01", "line": line[0]},
            )

    return change


def top_revision(api: Served, item: int) -> Change:
    """An engineering change through the API: the next version of the item's BOM, copied from
    the active one with the quantity of its last line alternated, then activated."""
    headers = {"Authorization": f"Bearer {api.token()}"}

    def change(n: int) -> None:
        with httpx.Client(base_url=api.api.base_url, headers=headers, timeout=60) as c:
            r = c.get("/api/v1/bom", params={"item_id": item, "status": "active"})
            active = r.json()["items"][0]["id"]
            draft = c.post(f"/api/v1/bom/{active}/copy").json()
            line = draft["lines"][-1]["id"]
            r = c.patch(
                f"/api/v1/bom/{draft['id']}/lines/{line}", json={"quantity": "3" if n % 2 else "2"}
            )
            assert r.status_code == 200, r.text
            r = c.post(f"/api/v1/bom/{draft['id']}/activate", json={"effective_from": str(AT)})
            assert r.status_code == 200, r.text

    return change


def after_change(
    api: Served, request: tuple[str, tuple[tuple[str, str], ...]], wait_s: float, change: Change
) -> dict[str, Any]:
    """One reader's latency for `request` `wait_s` after a BOM change, over HTTP, 9 rounds.

    Each round first reads the answer on new connections until every worker has served it
    (recently read answers are what a process refreshes), then commits a real change
    (`change(n)`) and reads once on a new connection.
    """
    url, params = request
    headers = {"Authorization": f"Bearer {api.token()}"}
    latencies = []
    for n in range(10):
        for _ in range(4 * WORKERS):  # new connections land on any worker
            with httpx.Client(base_url=api.api.base_url, headers=headers, timeout=60) as c:
                assert c.get(url, params=params).status_code == 200
        change(n)
        time.sleep(wait_s)
        with httpx.Client(base_url=api.api.base_url, headers=headers, timeout=60) as c:
            start = time.perf_counter()
            r = c.get(url, params=params)
            elapsed = (time.perf_counter() - start) * 1000
        assert r.status_code == 200, r.text
        if n:  # the first round warms up
            latencies.append(elapsed)
    return summary(latencies)


SUB_ASSEMBLY = 10  # the first item on level 3 (its BOM's id too): 822 nodes below it


def other_product(db: TestDb) -> int:
    """A small BOM of items outside the big tree; returns its id."""
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO bom (item_id, version, status, quantity, effective_from) "
            "VALUES (49999, 1, 'active', 1, '2020-01-01') RETURNING id"
        ).fetchone()
        assert row is not None
        conn.execute(
            "INSERT INTO bom_line (bom_id, position, component_item_id, quantity, unit, "
            "scrap_factor) VALUES (%(bom)s, 10, 49998, 2, 'pcs', 0)",
            {"bom": row[0]},
        )
    return int(row[0])


CHANGE_EVERY_S = 5.0  # engineering changes committed while 20 clients read
CHURN_SECONDS = 60.0


def under_changes(
    api: Served, plans: list[list[Request]], changes: list[Change], every_s: float
) -> dict[str, Any]:
    """Paced clients reading for `CHURN_SECONDS` while `changes` are committed in turn, one
    every `every_s` seconds: every reader's latency, those right after a change included."""
    stop = threading.Event()
    committed: list[float] = []

    def commit() -> None:
        for n in itertools.count():
            if stop.wait(every_s):
                return
            changes[n % len(changes)](n)
            committed.append(time.perf_counter())

    thread = threading.Thread(target=commit, daemon=True)
    thread.start()
    try:
        result = measure(api, plans, paced=True, seconds=CHURN_SECONDS)
    finally:
        stop.set()
        thread.join()
    return result | {"changes": len(committed), "change_every_s": every_s}


def new_quantity(request: Request, rng: random.Random) -> Request:
    """`request` (an explosion) for a random top quantity instead of its own."""
    url, params = request
    return url, (
        ("quantity", str(rng.randrange(1, 10**6))),
        *(p for p in params if p[0] != "quantity"),
    )


def http_results(db: TestDb, ids: dict[str, int]) -> dict[str, Any]:
    """The deployment shape: `mes api` worker processes over HTTP, 20 clients in another
    process, closed loop and at a plant-realistic pace."""

    def listing(rng: random.Random) -> Request:
        q, status = searches(rng)
        return "/api/v1/work-orders", (("q", q), *(("status", s) for s in status))

    explosion = (f"/api/v1/bom/items/{ids['top']}/explosion", (("quantity", "10"), ("at", str(AT))))
    where_used = (f"/api/v1/bom/items/{ids['shared']}/where-used", (("at", str(AT)),))
    out: dict[str, Any] = {}
    bom_reads = [
        ("explosion_tree", plans_for(lambda rng: explosion, per_client=1)),
        ("where_used_shared", plans_for(lambda rng: where_used, per_client=1)),
    ]

    def measure_all(api: Served, runs: list[tuple[str, list[list[Request]]]]) -> None:
        for name, plans in runs:
            out[f"{name}_closed_loop"] = measure(api, plans, paced=False)
            out[f"{name}_paced"] = measure(api, plans, paced=True)
            print(name, out[f"{name}_closed_loop"], out[f"{name}_paced"], sep="\n  ")

    other = other_product(db)
    with served(db, env={"MES_BOM_CACHE_ENTRIES": "0"}) as cold:  # computed every time
        measure_all(cold, [("work_order_list_search_filter", plans_for(listing)), *bom_reads])
        entries = os.environ["MES_BOM_CACHE_ENTRIES"]
        out["explosion_tree_1_client_after_change"] = after_change(
            cold, explosion, 0, scrap_change(db)
        )
        with cold.variant({"MES_BOM_CACHE_ENTRIES": entries}) as cached:
            measure_all(cached, [(f"{name}_cached", plans) for name, plans in bom_reads])
            for wait in (0, 2):  # read at once, and 2 s later (refreshed ahead by then)
                out[f"explosion_tree_cached_1_client_{wait}s_after_change"] = after_change(
                    cached, explosion, wait, scrap_change(db)
                )
                print(wait, out[f"explosion_tree_cached_1_client_{wait}s_after_change"])
            for name, bom_id in [("sub_assembly", SUB_ASSEMBLY), ("other_product", other)]:
                row = f"explosion_tree_cached_1_client_0s_after_{name}_change"
                out[row] = after_change(cached, explosion, 0, scrap_change(db, bom_id))
                print(row, out[row])
            row = "explosion_tree_cached_1_client_0s_after_new_top_version"
            out[row] = after_change(cached, explosion, 0, top_revision(cached, ids["top"]))
            print(row, out[row])
            churn = [
                scrap_change(db, SUB_ASSEMBLY),
                top_revision(cached, ids["top"]),
                scrap_change(db, other),
            ]
            for name, plans in bom_reads:
                row = f"{name}_cached_paced_with_changes"
                out[row] = under_changes(cached, plans, churn, CHANGE_EVERY_S)
                print(row, out[row])
            # last: its answers of many quantities are refreshed after every later change
            out["explosion_tree_new_quantity_paced"] = measure(
                cached, plans_for(lambda rng: new_quantity(explosion, rng)), paced=True
            )
            print("new quantity", out["explosion_tree_new_quantity_paced"])
    return out


def table(results: dict[str, Any]) -> str:
    """Human-readable table."""
    lines = [f"{'operation':<48} {'p50 ms':>10} {'p95 ms':>10} {'req/s':>8}"]
    rows = {**results, **{f"http_{k}": v for k, v in results.get("http", {}).items()}}
    for name, value in rows.items():
        if isinstance(value, dict) and "p50_ms" in value:
            rate = f"{value['throughput_rps']:>8.1f}" if "throughput_rps" in value else ""
            lines.append(f"{name:<48} {value['p50_ms']:>10.2f} {value['p95_ms']:>10.2f} {rate}")
    return "\n".join(lines)


def main() -> int:
    """Build, measure, print and write the results."""
    started = datetime.now(UTC)
    with private_cluster() as pg:
        template = databases.migrated_template(pg)
        db = databases.create_database(pg, template=template)
        load_start = time.perf_counter()
        ids = load(db)
        load_s = time.perf_counter() - load_start
        results = asyncio.run(run(db, ids))
        results["http"] = http_results(db, ids)
    r = results
    ratios = {
        "naive_vs_recursive_explosion": round(
            r["baseline_naive_explosion_1_client"]["p50_ms"]
            / r["query_explosion_1_client"]["p50_ms"],
            1,
        ),
        "per_level_vs_recursive_explosion": round(
            r["baseline_per_level_explosion_1_client"]["p50_ms"]
            / r["query_explosion_1_client"]["p50_ms"],
            2,
        ),
        "naive_vs_recursive_where_used": round(
            r["baseline_naive_where_used_shared_1_client"]["p50_ms"]
            / r["service_where_used_shared_1_client"]["p50_ms"],
            1,
        ),
    }
    payload = {
        "benchmark": "core_production",
        "date": started.isoformat(),
        "machine": machine(),
        "data": {
            "items": ITEMS,
            "work_orders": WORK_ORDERS,
            "bom_levels": len(FAN_OUT),
            "bom_nodes": ids["nodes"],
            "shared_component_uses": SHARED_USES,
            "load_seconds": round(load_s, 1),
        },
        "load_avg_at_end": os.getloadavg(),
        "baseline": "the same explosion rows from a per-node query loop (N+1) and from a per-level "
        "query loop (quantities rolled up in Python), same run; ratios baseline / recursive",
        "targets": {"list_p95_ms": TARGET_LIST_P95_MS, "explosion_where_used_ms": TARGET_BOM_MS},
        "results": results,
        "ratios": ratios,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "core_production.json").write_bytes(
        orjson.dumps(payload, option=orjson.OPT_INDENT_2)
    )
    print(table(results))
    print("ratios:", ratios)
    print("rows:", results["rows"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
