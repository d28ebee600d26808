"""The API as deployed, for the core-domain benchmarks: `mes api` worker processes over HTTP with
real bearer tokens, and 20 clients driving it from another process.

- `served(db)` starts a Keycloak realm (private, or MES_TEST_KEYCLOAK_URL) and `mes api` with
  MES_API_WORKERS processes on the benchmark database.
- `measure(...)` runs CLIENTS clients in a separate process (its own CPU, not the API's event
  loop) in one of two shapes:
  - closed loop: every client sends its next request as soon as the previous one answered
    (the worst case: the API's throughput limit, 20 requests always in flight);
  - paced: every client sends one request about every second (uniform 0.5-1.5 s between
    sends), as people at terminals do; latency at a plant-realistic load.
  Either way it reports p50/p95/max latency, throughput and errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from core.auth.principal import Role
from tests.core.live.processes import ApiProcess
from tests.support.databases import TestDb
from tests.support.keycloak import TestRealm, keycloak_server

CLIENTS = 20
WORKERS = 2
CLOSED_SECONDS = 15.0
PACED_SECONDS = 20.0
PACE_S = (0.5, 1.5)
# the API at env.sh's pace for its background work (the test helper speeds it up for tests)
QUIET = ("MES_LIVE_ENGINE_INTERVAL", "MES_LIVE_LEADER_RETRY_S", "MES_LIVE_KPI_INTERVAL")

Request = tuple[str, tuple[tuple[str, str], ...]]
"""(path, query parameters)"""


@dataclass
class Served:
    """A running API and a way to get a valid token."""

    api: ApiProcess
    realm: TestRealm
    db: TestDb
    settings: dict[str, str]

    def token(self) -> str:
        """A planner's access token, valid for a few minutes more."""
        return self.realm.token_for(Role.PLANNER)

    @contextlib.contextmanager
    def variant(self, env: dict[str, str]) -> Iterator[Served]:
        """Another `mes api` on the same database and realm with `env` added to its settings."""
        settings = self.settings | env
        api = ApiProcess(self.db, self.realm, self.api.log, env=settings)
        api.start()
        try:
            yield Served(api, self.realm, self.db, settings)
        finally:
            api.stop()


@contextlib.contextmanager
def served(
    db: TestDb, workers: int = WORKERS, *, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """`mes api` with `workers` processes on `db`, trusting a provisioned realm; `env` adds or
    overrides settings of the API processes."""
    with keycloak_server(db.cluster) as server:
        private = server.private
        realm = TestRealm(server, os.environ["MES_KEYCLOAK_REALM"] if private else "bench-core")
        realm.provision()
        log = Path(tempfile.mkdtemp(prefix="mes-bench-")) / "api.log"
        settings = {"MES_API_WORKERS": str(workers), "MES_LOG_LEVEL": "WARNING"}
        settings |= {k: os.environ[k] for k in QUIET if k in os.environ}
        settings |= env or {}
        api = ApiProcess(db, realm, log, env=settings)
        api.start()
        try:
            yield Served(api, realm, db, settings)
        finally:
            api.stop()
            if not private:
                realm.delete()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def _drive(
    base_url: str, token: str, plans: list[list[Request]], seconds: float, paced: bool
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=len(plans), max_keepalive_connections=len(plans))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=60
    ) as client:
        for plan in plans:  # warm-up: one request per client, connections opened
            await client.get(plan[0][0], params=plan[0][1])
        start = time.perf_counter()
        deadline = start + seconds

        async def one(n: int, plan: list[Request]) -> None:
            rng = random.Random(n)
            if paced:  # spread the first sends over one interval
                await asyncio.sleep(rng.uniform(0, PACE_S[1]))
            k = 0
            while time.perf_counter() < deadline:
                path, params = plan[k % len(plan)]
                k += 1
                sent = time.perf_counter()
                r = await client.get(path, params=params)
                latencies.append((time.perf_counter() - sent) * 1000)
                if r.status_code != 200:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                if paced:
                    await asyncio.sleep(max(0.0, sent + rng.uniform(*PACE_S) - time.perf_counter()))

        await asyncio.gather(*(one(n, plan) for n, plan in enumerate(plans)))
        elapsed = time.perf_counter() - start
    return {
        "clients": len(plans),
        "shape": "paced ~1 request/s per client" if paced else "closed loop",
        "requests": len(latencies),
        "seconds": round(elapsed, 1),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "errors": errors,
    }


def _child(conn: Connection, *args: Any) -> None:
    conn.send(asyncio.run(_drive(*args)))
    conn.close()


def measure(
    served_api: Served, plans: list[list[Request]], *, paced: bool, seconds: float | None = None
) -> dict[str, Any]:
    """Drive the API with one client per plan (requests cycled) from a separate process."""
    duration = seconds if seconds is not None else (PACED_SECONDS if paced else CLOSED_SECONDS)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    args = (served_api.api.base_url, served_api.token(), plans, duration, paced)
    process = ctx.Process(target=_child, args=(child, *args))
    process.start()
    child.close()
    result: dict[str, Any] = parent.recv()
    process.join(timeout=60)
    result["api_workers"] = int(served_api.api.env["MES_API_WORKERS"])
    return result


def plans_for(make: Any, clients: int = CLIENTS, per_client: int = 50) -> list[list[Request]]:
    """Per-client request lists from `make(rng) -> Request`, each client its own seed."""
    return [
        [make(rng) for _ in range(per_client)]
        for rng in (random.Random(1000 + n) for n in range(clients))
    ]
