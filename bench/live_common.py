"""Shared pieces of the live-path benchmarks: a realm on a Keycloak (private, or reused from
MES_TEST_KEYCLOAK_URL), the API as a process, WebSocket clients that time what they receive,
percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect

from bench.gateway_common import Stack
from core.auth.principal import Role
from tests.core.live.processes import ApiProcess
from tests.support.keycloak import TestRealm, keycloak_server


@contextlib.contextmanager
def realm(st: Stack) -> Iterator[TestRealm]:
    """A provisioned realm: the configured one on a private Keycloak, a unique one on a reused
    server (MES_TEST_KEYCLOAK_URL)."""
    with keycloak_server(st.db.cluster) as server:
        name = (
            os.environ["MES_KEYCLOAK_REALM"] if server.private else f"bench-{secrets.token_hex(3)}"
        )
        test_realm = TestRealm(server, name)
        test_realm.provision()
        try:
            yield test_realm
        finally:
            if not server.private:
                test_realm.delete()


@contextlib.contextmanager
def api_process(st: Stack, test_realm: TestRealm, name: str, **env: str) -> Iterator[ApiProcess]:
    """`mes api` on the stack's database."""
    process = ApiProcess(
        st.db, test_realm, st.workdir / f"{name}.log", env={"MES_LOG_LEVEL": "WARNING", **env}
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def cpu_seconds(process: ApiProcess) -> float:
    """User + system CPU seconds the API process used so far."""
    assert process.process is not None
    times = psutil.Process(process.process.pid).cpu_times()
    return float(times.user + times.system)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (nan for no values).

    >>> percentile([1, 2, 3, 4], 0.5), percentile(list(range(100)), 0.99)
    (2, 98)
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Socket:
    """A subscribed WebSocket client recording (receive time, message)."""

    ws: ClientConnection
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async for text in self.ws:
            self.received.append((time.time(), json.loads(text)))


@contextlib.asynccontextmanager
async def sockets(
    address: str, token: str, topics: list[str], count: int
) -> AsyncIterator[list[Socket]]:
    """`count` authenticated clients subscribed to `topics` (each has had its snapshots)."""
    opened: list[Socket] = []

    async def one() -> Socket:
        ws = await connect(f"ws://{address}/ws", max_size=None, open_timeout=60)
        await ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "subscribe", "topics": topics}))
        seen = 0
        while seen < len(topics):
            if json.loads(await ws.recv())["type"] == "snapshot":
                seen += 1
        sock = Socket(ws)
        sock.task = asyncio.create_task(sock._read())
        return sock

    try:
        for start in range(0, count, 50):  # connect in waves (the machine has two cores)
            opened += await asyncio.gather(*(one() for _ in range(min(50, count - start))))
        yield opened
    finally:
        for sock in opened:
            if sock.task is not None:
                sock.task.cancel()
            with contextlib.suppress(Exception):
                await sock.ws.close()


def token_for(test_realm: TestRealm) -> str:
    """An operator's access token."""
    return test_realm.token_for(Role.OPERATOR)


def results_dir() -> Path:
    """bench/results."""
    return Path(__file__).resolve().parent / "results"
