"""Helpers for gateway tests: settings on a test database, configuration files, an in-process
gateway, a `mes gateway` subprocess, and queries on what it stored."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml

from gateway.config import load_config
from gateway.runtime import Gateway
from gateway.settings import GatewaySettings
from mes_common.settings import load_settings
from tests.support.databases import TestDb
from tests.support.net import LOOPBACK, free_port

MES = str(Path(sys.executable).parent / "mes")


def gateway_settings(db: TestDb, spool_dir: Path, **overrides: Any) -> GatewaySettings:
    """Settings reaching `db`, with the metrics endpoint on a free port."""
    values: dict[str, Any] = {
        **db.overrides,
        "gateway_metrics_host": LOOPBACK,
        "gateway_metrics_port": 0,
        "gateway_spool_dir": spool_dir,
        "db_connect_timeout": 2,
        "gateway_write_timeout": 10,
    }
    values.update(overrides)
    return load_settings(GatewaySettings, **values)


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write a configuration file (YAML)."""
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def base_config(devices: list[dict[str, Any]], **sections: Any) -> dict[str, Any]:
    """A version-1 configuration with quick batches."""
    config: dict[str, Any] = {
        "version": 1,
        "gateway": {"id": "edge-test", "heartbeat_s": 3600},
        "batch": {"max_rows": 5000, "max_delay_ms": 50},
        "devices": devices,
    }
    config.update(sections)
    return config


@asynccontextmanager
async def running_gateway(
    config: dict[str, Any], settings: GatewaySettings, path: Path
) -> AsyncIterator[Gateway]:
    """A gateway running in this event loop on `config` (written to `path`)."""
    write_config(path, config)
    gateway = Gateway(load_config(path), settings, config_path=path)
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop(drain_timeout=20)


async def eventually(
    check: Callable[[], Awaitable[bool] | bool],
    *,
    timeout: float = 60,  # noqa: ASYNC109 - a polling deadline
    what: str,
) -> None:
    """Poll `check` (sync or async) until true; TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


async def fetch(db: TestDb, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the test database."""
    async with await psycopg.AsyncConnection.connect(db.conninfo) as conn:
        cur = await conn.execute(query, params or None)
        return list(await cur.fetchall())


async def readings(db: TestDb, key: str | None = None) -> list[tuple[Any, ...]]:
    """(key, ts, value, quality) of stored readings, oldest first."""
    where = "WHERE s.key = %s" if key else ""
    return await fetch(
        db,
        "SELECT s.key, r.ts, r.value, r.quality FROM reading r JOIN signal s ON s.id = r.signal_id "
        f"{where} ORDER BY s.key, r.ts",
        *([key] if key else []),
    )


async def count_readings(db: TestDb, key_like: str = "%") -> int:
    """Number of stored readings of signals whose key is LIKE `key_like`."""
    rows = await fetch(
        db,
        "SELECT count(*) FROM reading r JOIN signal s ON s.id = r.signal_id WHERE s.key LIKE %s",
        key_like,
    )
    return int(rows[0][0])


def process_env(db: TestDb, tmp_path: Path) -> dict[str, str]:
    """The environment of a `mes gateway` process on `db` with its spool under `tmp_path`."""
    return {**db.env, "MES_GATEWAY_SPOOL_DIR": str(tmp_path / "spool")}


class GatewayProcess:
    """`mes gateway --config FILE` as a subprocess (for kill -9 and command-line tests)."""

    def __init__(self, config: Path, env: dict[str, str], log: Path) -> None:
        self.config = config
        self.port = free_port()
        self.env = {
            **os.environ,
            **env,
            "MES_GATEWAY_METRICS_HOST": LOOPBACK,
            "MES_GATEWAY_METRICS_PORT": str(self.port),
            "MES_LOG_FORMAT": "json",
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait for /healthz."""
        out = open(self.log, "ab")  # noqa: SIM115 - owned by Popen
        self.process = subprocess.Popen(
            [MES, "gateway", "--config", str(self.config)],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log.read_text()[-2000:]}")
            if self.health() is not None:
                return
            time.sleep(0.1)
        raise TimeoutError("gateway /healthz did not answer")

    def health(self) -> dict[str, Any] | None:
        """/healthz as JSON, or None when it does not answer."""
        try:
            response = httpx.get(f"http://{LOOPBACK}:{self.port}/healthz", timeout=2)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def healthy(self) -> dict[str, Any]:
        """/healthz as JSON; fails the test when it does not answer."""
        found = self.health()
        assert found is not None, "gateway /healthz did not answer"
        return found

    def metrics(self) -> str:
        """/metrics text."""
        return httpx.get(f"http://{LOOPBACK}:{self.port}/metrics", timeout=30).text

    def kill(self) -> None:
        """SIGKILL, no chance to flush."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM and wait (drains first)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=90)


def metric_value(text: str, name: str, labels: str = "") -> float:
    """A sample's value from Prometheus text (`name{labels}`)."""
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if sample == wanted:
            return float(value)
    raise KeyError(wanted)


def metric_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample named `name` (any labels) from Prometheus text, as (labels, value)."""
    from prometheus_client.parser import text_string_to_metric_families

    return [
        (dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]
