"""KPI fan-out: 500 concurrent WebSocket clients subscribed to `kpi` all receive every KPI
update; API CPU recorded. Baseline in the same run: one client.

KPI updates are published as the engine publishes them (a committed `pg_notify` on the events
channel), one every `--interval` seconds, each with a new key in its `values` map: a client
received an update when that key reached it (coalesced messages carry several keys).

    python -m bench.live_fanout [--runs 3] [--clients 500] [--updates 30] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.gateway_common import median, stack, table, write_result
from bench.live_common import (
    Socket,
    api_process,
    cpu_seconds,
    percentile,
    realm,
    sockets,
    token_for,
)
from core.live import events
from tests.core.live.processes import ApiProcess


async def publish_updates(url: str, updates: int, interval: float) -> dict[str, float]:
    """Publish `updates` KPI updates; key -> publish time."""
    engine = create_async_engine(url)
    sent: dict[str, float] = {}
    try:
        async with engine.connect() as conn:
            start = time.monotonic()
            for n in range(updates):
                key = f"equipment/BENCH-{n:04d}"
                async with AsyncSession(bind=conn) as session:
                    now = datetime.now(UTC)
                    value = {
                        "scope": "equipment",
                        "code": key,
                        "oee": 0.5 + n / 1000,
                        "ts": now.isoformat(),
                    }
                    await events.publish_values(session, "kpi", {key: value})
                    sent[key] = time.time()
                    await session.commit()
                await asyncio.sleep(max(0.0, start + (n + 1) * interval - time.monotonic()))
    finally:
        await engine.dispose()
    return sent


def tally(clients: list[Socket], sent: dict[str, float]) -> dict[str, Any]:
    """Who received what, how late, in how many messages."""
    complete = 0
    latencies: list[float] = []
    messages = 0
    for client in clients:
        keys: set[str] = set()
        for at, message in client.received:
            if message.get("type") != "update" or message.get("topic") != "kpi":
                continue
            messages += 1
            for key in message["data"]["values"]:
                if key in sent and key not in keys:
                    keys.add(key)
                    latencies.append(at - sent[key])
        complete += keys == set(sent)
    return {
        "clients": len(clients),
        "clients_with_every_update": complete,
        "messages": messages,
        "deliveries": len(latencies),
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
    }


async def one_run(
    api: ApiProcess, url: str, token: str, clients: int, args: argparse.Namespace
) -> dict[str, Any]:
    async with sockets(api.address, token, ["kpi"], clients) as socks:
        cpu0, t0 = cpu_seconds(api), time.monotonic()
        sent = await publish_updates(url, args.updates, args.interval)
        deadline = time.monotonic() + 30
        while (  # noqa: ASYNC110 - polling the clients' counts until complete or late
            time.monotonic() < deadline
            and tally(socks, sent)["clients_with_every_update"] < clients
        ):
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - t0
        result = tally(socks, sent)
        result["api_cpu_s"] = cpu_seconds(api) - cpu0
        result["api_cpu_cores"] = result["api_cpu_s"] / elapsed
        return result


async def run(args: argparse.Namespace) -> None:
    rows: dict[str, list[dict[str, Any]]] = {"1 client": [], f"{args.clients} clients": []}
    with (
        stack() as st,
        realm(st) as test_realm,
        api_process(st, test_realm, "api", MES_LIVE_ENGINE="false", MES_DB_POOL_SIZE="20") as api,
    ):
        token = token_for(test_realm)
        for _ in range(args.runs):
            rows["1 client"].append(await one_run(api, st.db.url, token, 1, args))
            rows[f"{args.clients} clients"].append(
                await one_run(api, st.db.url, token, args.clients, args)
            )
    summary = {
        kind: {
            k: median([r[k] for r in items]) for k in ("p50", "p99", "api_cpu_cores", "api_cpu_s")
        }
        | {
            "all_received_every_update": all(
                r["clients_with_every_update"] == r["clients"] for r in items
            )
        }
        for kind, items in rows.items()
    }
    print(
        table(
            f"KPI fan-out: {args.updates} updates every {args.interval} s "
            f"(median of {args.runs} runs)",
            [
                "clients",
                "every update at every client",
                "p50 ms",
                "p99 ms",
                "API CPU (cores)",
                "API CPU s",
            ],
            [
                [
                    kind,
                    "yes" if summary[kind]["all_received_every_update"] else "NO",
                    f"{summary[kind]['p50'] * 1000:.0f}",
                    f"{summary[kind]['p99'] * 1000:.0f}",
                    f"{summary[kind]['api_cpu_cores']:.2f}",
                    f"{summary[kind]['api_cpu_s']:.1f}",
                ]
                for kind in rows
            ],
        )
    )
    base, many = summary["1 client"], summary[f"{args.clients} clients"]
    path = write_result(
        "live_fanout",
        {
            "unit": "seconds",
            "runs": args.runs,
            "clients": args.clients,
            "updates": args.updates,
            "interval_s": args.interval,
            "results": rows,
            "median": summary,
            "cpu_ratio_many_to_one": many["api_cpu_s"] / base["api_cpu_s"]
            if base["api_cpu_s"]
            else None,
        },
    )
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.5)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
