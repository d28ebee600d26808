"""Inventory benchmark: on-hand, list and genealogy queries on a large data set.

`python -m bench.inventory` builds a private PostgreSQL with 50,000 items, 100,000 lots,
~125,000 stock rows and 1,000,000 ledger transactions (half of them on 200 busy lots, as for
materials used every day), plus a lot genealogy of ~10,000 lots over 8 levels, then measures:

- the on-hand query (the SQL of `core.inventory.service.on_hand`) from 20 concurrent database
  clients, against its baseline in the same run: on-hand summed from the ledger (what a system
  without a stock table does); busy items are asked for;
- the same through the service function and through the API in-process (one Python process
  serving 20 concurrent clients on this machine: this measures Python as much as the database);
- list endpoints with search and filters (stock, lots, ledger), single client and 20 clients;
- backward and forward genealogy traces (one recursive query) against a naive per-lot query
  loop (N+1) over the same links.

Prints a table and writes bench/results/inventory.json. Figures are latencies in ms.
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psutil
import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.envfile import load_env_sh

load_env_sh()

from bench.core_http import Request, measure, plans_for, served  # noqa: E402
from core.app import create_app, settle_heap  # noqa: E402 - after env.sh is loaded
from core.inventory import genealogy  # noqa: E402
from core.inventory import service as inventory  # noqa: E402
from core.inventory.models import InventoryTransaction  # noqa: E402
from tests.support import databases  # noqa: E402
from tests.support.api import api_client, api_settings, principal_for  # noqa: E402
from tests.support.databases import TestDb  # noqa: E402
from tests.support.postgres import private_cluster  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ITEMS, LOCATIONS, LOTS, TRANSACTIONS = 50_000, 50, 100_000, 1_000_000
BUSY_LOTS = 200
BUSY_ITEMS = [2 * k for k in range(1, BUSY_LOTS + 1)]  # the items of lots 1..200
FAN_OUT, LEVELS = 3, 8
ON_HAND_SQL = "SELECT coalesce(sum(quantity), 0) FROM stock WHERE item_id = %s"
LEDGER_SUM_SQL = "SELECT coalesce(sum(quantity), 0) FROM inventory_transaction WHERE item_id = %s"
CLIENTS, PER_CLIENT = 20, 25
TARGET_ON_HAND_MS, TARGET_LIST_P95_MS = 20.0, 50.0

LOAD_SQL = [
    f"""INSERT INTO item (code, name, type, unit, lot_tracked, safety_stock, lead_time_days,
        active) SELECT 'ITEM-' || lpad(g::text, 6, '0'),
        'Item ' || g || CASE WHEN g % 7 = 0 THEN ' gear' ELSE ' shaft' END, 'raw', 'pcs',
        g % 2 = 0, 0, 0, true FROM generate_series(1, {ITEMS}) g""",
    f"""INSERT INTO location (code, name, type, active)
        SELECT 'LOC-' || g, 'Location ' || g, 'warehouse', true
        FROM generate_series(1, {LOCATIONS}) g""",
    f"""INSERT INTO lot (item_id, code, status, origin, received_quantity)
        SELECT 2 * (((g - 1) % ({ITEMS} / 2)) + 1), 'L' || g,
        CASE WHEN g % 10 = 0 THEN 'quarantine' ELSE 'released' END, 'receipt', 100
        FROM generate_series(1, {LOTS}) g""",
    f"""INSERT INTO stock (item_id, location_id, lot_id, quantity)
        SELECT item_id, (id % {LOCATIONS}) + 1, id, 50 FROM lot""",
    f"""INSERT INTO stock (item_id, location_id, lot_id, quantity)
        SELECT id, (id % {LOCATIONS}) + 1, NULL, 20 FROM item WHERE NOT lot_tracked""",
    f"""INSERT INTO inventory_transaction (type, item_id, lot_id, to_location_id, quantity,
        user_id, username, ts, reference)
        SELECT 'receipt', l.item_id, l.id, (l.id % {LOCATIONS}) + 1, 1, 'bench', 'bench',
        now() - make_interval(mins => g), 'PO-' || g
        FROM generate_series(1, {TRANSACTIONS}) g JOIN lot l ON l.id = CASE WHEN g % 2 = 0
        THEN ((g - 1) % {LOTS}) + 1 ELSE ((g - 1) % {BUSY_LOTS}) + 1 END""",
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


def load(db: TestDb) -> tuple[int, int]:
    """Fill the database; returns (genealogy root lot id, a leaf lot id)."""
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        for sql in LOAD_SQL:
            conn.execute(sql)
        # genealogy: a product lot made of FAN_OUT lots, each made of FAN_OUT, LEVELS deep
        item = conn.execute("SELECT max(id) FROM item").fetchone()
        assert item is not None
        root = _lot(conn, item[0], "GEN-ROOT")
        frontier, links = [root], []
        for level in range(1, LEVELS + 1):
            nxt = []
            for parent in frontier:
                for k in range(FAN_OUT):
                    child = _lot(conn, item[0], f"GEN-{level}-{parent}-{k}")
                    links.append((parent, child))
                    nxt.append(child)
            frontier = nxt
        with (
            conn.cursor() as cur,
            cur.copy("COPY lot_link (parent_lot_id, child_lot_id, quantity) FROM STDIN") as copy,
        ):
            for parent, child in links:
                copy.write_row((parent, child, 1))
        conn.execute("ANALYZE")
        return root, frontier[0]


def _lot(conn: psycopg.Connection[Any], item_id: int, code: str) -> int:
    row = conn.execute(
        "INSERT INTO lot (item_id, code, status, origin, received_quantity) "
        "VALUES (%s, %s, 'released', 'receipt', 1) RETURNING id",
        (item_id, code),
    ).fetchone()
    assert row is not None
    return int(row[0])


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    """Median and p95 in ms."""
    return {
        "p50_ms": round(statistics.median(values), 3),
        "p95_ms": round(percentile(values, 0.95), 3),
    }


def pick(rng: random.Random, busy: bool) -> int:
    """An item id: one of the busy items, or any."""
    return rng.choice(BUSY_ITEMS) if busy else rng.randrange(1, ITEMS + 1)


async def concurrently(
    call: Callable[[int], Awaitable[None]], *, clients: int = CLIENTS, busy: bool = False
) -> list[float]:
    """`clients` tasks in this process each making PER_CLIENT calls; latencies in ms."""
    latencies: list[float] = []

    async def client(n: int) -> None:
        rng = random.Random(n)
        for _ in range(PER_CLIENT):
            start = time.perf_counter()
            await call(pick(rng, busy))
            latencies.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies


def database_clients(db: TestDb, sql: str) -> list[float]:
    """CLIENTS threads, each with its own connection, running `sql` for busy items at once."""
    barrier = threading.Barrier(CLIENTS)

    def client(n: int) -> list[float]:
        rng, latencies = random.Random(n), []
        with psycopg.connect(db.conninfo, autocommit=True) as conn:
            conn.execute(sql, (BUSY_ITEMS[0],), prepare=True)
            barrier.wait()
            for _ in range(PER_CLIENT * 4):
                start = time.perf_counter()
                conn.execute(sql, (pick(rng, True),), prepare=True).fetchone()
                latencies.append((time.perf_counter() - start) * 1000)
        return latencies

    with ThreadPoolExecutor(CLIENTS) as pool:
        return [x for part in pool.map(client, range(CLIENTS)) for x in part]


async def naive_backward(session: AsyncSession, root: int) -> int:
    """Baseline: one query per lot (N+1), depth first."""
    seen, stack = 0, [root]
    while stack:
        lot = stack.pop()
        children = (
            await session.execute(
                text("SELECT child_lot_id FROM lot_link WHERE parent_lot_id = :p"), {"p": lot}
            )
        ).scalars()
        for child in children:
            seen += 1
            stack.append(child)
    return seen


async def run(db: TestDb, root: int, leaf: int) -> dict[str, Any]:
    app = create_app(api_settings(db, db_pool_size=CLIENTS), background=False)
    settle_heap()  # as a serving process does once started (`mes api`)
    sessions = app.state.db.sessions
    results: dict[str, Any] = {}

    async def on_hand(item_id: int) -> None:
        async with sessions() as session:
            await inventory.on_hand(session=session, item_id=item_id)

    async def usable(item_id: int) -> None:
        async with sessions() as session:
            await inventory.on_hand(session=session, item_id=item_id, usable_only=True)

    async def from_ledger(item_id: int) -> None:
        async with sessions() as session:
            await session.scalar(
                select(func.coalesce(func.sum(InventoryTransaction.quantity), 0)).where(
                    InventoryTransaction.item_id == item_id
                )
            )

    for name, sql in (("db_on_hand", ON_HAND_SQL), ("db_ledger_sum", LEDGER_SUM_SQL)):
        database_clients(db, sql)  # warm-up
        results[name] = summary(await asyncio.to_thread(database_clients, db, sql))
    for name, call in (
        ("service_on_hand", on_hand),
        ("service_on_hand_usable", usable),
        ("service_ledger_sum", from_ledger),
    ):
        await concurrently(call, busy=True)  # warm-up
        results[name] = summary(await concurrently(call, busy=True))
        results[f"{name}_1_client"] = summary(await concurrently(call, clients=1, busy=True))

    async with api_client(app, principal_for("planner")) as client:

        def get(path: str, **params: Any) -> Callable[[int], Awaitable[None]]:
            async def call(item_id: int) -> None:
                resolved = {k: (item_id if v == "ITEM" else v) for k, v in params.items()}
                r = await client.get(path.replace("{item}", str(item_id)), params=resolved)
                assert r.status_code == 200, r.text

            return call

        endpoints = {
            "api_item_on_hand": get("/api/v1/inventory/items/{item}/on-hand"),
            "api_stock_search_code": get("/api/v1/inventory/stock", q="ITEM-0123"),
            "api_stock_search_broad": get("/api/v1/inventory/stock", q="gear", location_id=7),
            "api_lots_filter": get("/api/v1/inventory/lots", item_id="ITEM", status="released"),
            "api_ledger_filter": get(
                "/api/v1/inventory/transactions", item_id="ITEM", type="receipt", q="PO-1"
            ),
        }
        for name, endpoint in endpoints.items():
            await concurrently(endpoint)
            results[name] = summary(await concurrently(endpoint))
            results[f"{name}_1_client"] = summary(await concurrently(endpoint, clients=1))

    async def timed(fn: Callable[[], Awaitable[Any]], runs: int = 7) -> float:
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            await fn()
            samples.append((time.perf_counter() - start) * 1000)
        return round(statistics.median(samples[1:]), 3)

    async with sessions() as session:
        trace = await genealogy.trace(
            session=session, lot_id=root, direction=genealogy.Direction.BACKWARD
        )
        nodes = len(trace.lots)
        results["genealogy"] = {
            "lots": nodes,
            "levels": LEVELS,
            "backward_trace_ms": await timed(
                lambda: genealogy.trace(
                    session=session, lot_id=root, direction=genealogy.Direction.BACKWARD
                )
            ),
            "forward_trace_ms": await timed(
                lambda: genealogy.trace(
                    session=session, lot_id=leaf, direction=genealogy.Direction.FORWARD
                )
            ),
            "naive_backward_ms": await timed(lambda: naive_backward(session, root), runs=3),
        }
        assert await naive_backward(session, root) == nodes
    await app.state.db.dispose()
    return results


def http_results(db: TestDb) -> dict[str, Any]:
    """The deployment shape: `mes api` worker processes over HTTP, 20 clients in another
    process, closed loop and at a plant-realistic pace."""

    def on_hand(rng: random.Random) -> Request:
        return f"/api/v1/inventory/items/{pick(rng, True)}/on-hand", ()

    def lots(rng: random.Random) -> Request:
        item = str(pick(rng, False))
        return "/api/v1/inventory/lots", (("item_id", item), ("status", "released"))

    stock, broad = "/api/v1/inventory/stock", (("q", "gear"), ("location_id", "7"))
    out: dict[str, Any] = {}
    with served(db) as api:
        for name, plans in [
            ("item_on_hand", plans_for(on_hand)),
            ("stock_search_code", plans_for(lambda rng: (stock, (("q", "ITEM-0123"),)))),
            ("stock_search_broad", plans_for(lambda rng: (stock, broad))),
            ("lots_filter", plans_for(lots)),
        ]:
            out[f"{name}_closed_loop"] = measure(api, plans, paced=False)
            out[f"{name}_paced"] = measure(api, plans, paced=True)
            print(name, out[f"{name}_closed_loop"], out[f"{name}_paced"], sep="\n  ")
    return out


def table(results: dict[str, Any]) -> str:
    rows = [
        (name, f"{v['p50_ms']:.2f}", f"{v['p95_ms']:.2f}")
        for name, v in results.items()
        if isinstance(v, dict) and "p50_ms" in v
    ]
    lines = [f"{'operation (20 clients unless _1_client)':<40} {'p50 ms':>9} {'p95 ms':>9}"]
    lines += [f"{n:<40} {a:>9} {b:>9}" for n, a, b in rows]
    for name, v in results.get("http", {}).items():
        rate = f"{v['throughput_rps']:>7.1f}/s"
        lines.append(f"http_{name:<35} {v['p50_ms']:>9.2f} {v['p95_ms']:>9.2f} {rate}")
    g = results["genealogy"]
    lines += [
        "",
        f"genealogy: {g['lots']} lots over {g['levels']} levels",
        f"  backward trace (recursive SQL)  {g['backward_trace_ms']:.1f} ms",
        f"  forward trace from a leaf       {g['forward_trace_ms']:.1f} ms",
        f"  naive per-lot query loop        {g['naive_backward_ms']:.1f} ms",
    ]
    return "\n".join(lines)


def main() -> int:
    with private_cluster() as cluster:
        name = databases.migrated_template(cluster, name="bench_inventory")
        db = TestDb(cluster=cluster, name=name)
        started = time.perf_counter()
        root, leaf = load(db)
        load_s = time.perf_counter() - started
        results = asyncio.run(run(db, root, leaf))
        results["http"] = http_results(db)
    g = results["genealogy"]
    ratios = {
        "db_ledger_sum_vs_on_hand_p50": round(
            results["db_ledger_sum"]["p50_ms"] / results["db_on_hand"]["p50_ms"], 1
        ),
        "db_ledger_sum_vs_on_hand_p95": round(
            results["db_ledger_sum"]["p95_ms"] / results["db_on_hand"]["p95_ms"], 1
        ),
        "naive_vs_trace": round(g["naive_backward_ms"] / g["backward_trace_ms"], 1),
    }
    payload = {
        "benchmark": "inventory",
        "date": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "data": {
            "items": ITEMS,
            "locations": LOCATIONS,
            "lots": LOTS,
            "transactions": TRANSACTIONS,
            "load_seconds": round(load_s, 1),
        },
        "load_avg_at_end": os.getloadavg(),
        "clients": CLIENTS,
        "requests_per_client": PER_CLIENT,
        "baseline": "on-hand summed from the 1M-row ledger; genealogy by one query per lot; "
        "same database, same run",
        "targets": {"on_hand_p95_ms": TARGET_ON_HAND_MS, "list_p95_ms": TARGET_LIST_P95_MS},
        "results": results,
        "ratios": ratios,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "inventory.json").write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    print(table(results))
    print(f"\nratios: {ratios}  (load {load_s:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
