"""Shared pieces of the gateway benchmarks: a private PostgreSQL and Mosquitto, the gateway as a
process, the raw psycopg COPY ceiling, result files and tables.

Every benchmark compares the gateway with a baseline measured in the same run on the same
machine (the machine is shared and noisy: ratios are the numbers to read)."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psutil
import psycopg
import yaml

from tests.support import databases
from tests.support.databases import TestDb
from tests.support.envfile import load_env_sh
from tests.support.gateway import GatewayProcess, metric_samples
from tests.support.mosquitto import Broker, private_broker
from tests.support.postgres import private_cluster

RESULTS = Path(__file__).resolve().parent / "results"
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


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


def result_name(name: str, workers: int) -> str:
    """`name`, or `name_workersN` for a run with N gateway workers."""
    return name if workers == 1 else f"{name}_workers{workers}"


def write_result(name: str, data: dict[str, Any]) -> Path:
    """bench/results/<name>.json with the machine and the date."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "date": datetime.now(UTC).isoformat(), "machine": machine()}
    payload.update(data)
    path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    return path


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    """A plain text table."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells[1:]]
    return "\n".join(lines)


def median(values: Sequence[float]) -> float:
    """Median (0 for an empty list)."""
    return statistics.median(values) if values else 0.0


@dataclass
class Stack:
    """A private database and broker for one benchmark run."""

    db: TestDb
    broker: Broker
    workdir: Path


@contextlib.contextmanager
def stack() -> Iterator[Stack]:
    """Start PostgreSQL (migrated database) and Mosquitto; remove them afterwards."""
    load_env_sh()
    workdir = Path(tempfile.mkdtemp(prefix="mes-bench-"))
    with private_cluster() as cluster, private_broker() as broker:
        name = databases.migrated_template(cluster, name="bench")
        try:
            yield Stack(TestDb(cluster=cluster, name=name), broker, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def reset_readings(db: TestDb) -> None:
    """Empty the telemetry tables between runs (same starting point for every run)."""
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE reading, reading_text, telemetry_dirty")


def raw_copy_rate(db: TestDb, *, seconds: float, batch: int = 5000, signals: int = 1000) -> float:
    """Rows/s of psycopg binary COPY into `reading` (the same table and index the gateway
    writes), one process, batches of `batch` rows in their own transactions."""
    with psycopg.connect(db.conninfo) as conn:
        ids = []
        for n in range(signals):
            row = conn.execute(
                "INSERT INTO signal (key, name) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE"
                " SET name = EXCLUDED.name RETURNING id",
                (f"bench.copy.{n}", f"copy{n}"),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
        conn.commit()
        start = time.monotonic()
        written = 0
        base = datetime.now(UTC) - timedelta(days=1)
        step = timedelta(microseconds=1)
        while time.monotonic() - start < seconds:
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY reading (ts, signal_id, value, quality) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["timestamptz", "int4", "float8", "int2"])
                for i in range(batch):
                    n = written + i
                    copy.write_row((base + step * (n // signals), ids[n % signals], float(n), 0))
            conn.commit()
            written += batch
        return written / (time.monotonic() - start)


class Gateway:
    """`mes gateway` on a configuration, with its metrics at hand."""

    def __init__(self, st: Stack, config: dict[str, Any], name: str = "gw") -> None:
        path = st.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        env = {
            **st.db.env,
            "MES_GATEWAY_SPOOL_DIR": str(st.workdir / f"{name}-spool"),
            "MES_LOG_LEVEL": "WARNING",
        }
        self.process = GatewayProcess(path, env, st.workdir / f"{name}.log")

    def __enter__(self) -> Gateway:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    def written(self) -> float:
        """Points committed so far (by every worker)."""
        return self.metric("gateway_points_written_total")

    def metric(self, name: str, labels: str = "") -> float:
        """A sample of /metrics, summed over the workers (0 when not exported yet); `labels`
        like `device="mqtt"` selects the samples carrying them."""
        wanted = dict(
            (k, v.strip('"')) for k, _, v in (part.partition("=") for part in labels.split(","))
        ) if labels else {}  # fmt: skip
        return sum(
            value
            for found, value in metric_samples(self.process.metrics(), name)
            if all(found.get(k) == v for k, v in wanted.items())
        )

    def rss(self) -> int:
        """Resident memory of the gateway process and its workers, bytes."""
        assert self.process.process is not None
        parent = psutil.Process(self.process.process.pid)
        return sum(int(p.memory_info().rss) for p in [parent, *parent.children()])

    def rate(self, seconds: float, warmup: float = 3.0) -> float:
        """Points committed per second over `seconds`, after `warmup`."""
        time.sleep(warmup)
        first, t0 = self.written(), time.monotonic()
        time.sleep(seconds)
        return (self.written() - first) / (time.monotonic() - t0)


def spawn(*args: str) -> subprocess.Popen[bytes]:
    """A helper process of this package (`python -m bench.gateway_servers ...`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.gateway_servers", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def wait_line(process: subprocess.Popen[bytes], prefix: bytes, timeout: float = 120) -> bytes:
    """Read the helper's stdout until a line starting with `prefix`."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("helper process exited")
        if line.startswith(prefix):
            return line
    raise TimeoutError(f"helper did not print {prefix!r}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a helper."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# --- loads and device configurations shared by the benchmarks ------------------------------------


def opcua_server(variables: int, hz: float) -> tuple[subprocess.Popen[bytes], str]:
    """Start the OPC UA load (variables Objects/Bench/v<n> rewritten `hz` times a second)."""
    from tests.support.net import LOOPBACK, free_port

    port = free_port()
    proc = spawn("opcua", str(port), str(variables), str(hz))
    wait_line(proc, b"READY", timeout=300)
    return proc, f"opc.tcp://{LOOPBACK}:{port}/bench/"


def modbus_server(registers: int) -> tuple[subprocess.Popen[bytes], int]:
    """Start the Modbus load (holding registers that change on every read)."""
    from tests.support.net import free_port

    port = free_port()
    proc = spawn("modbus", str(port), str(registers))
    wait_line(proc, b"READY")
    return proc, port


def opcua_device(endpoint: str, *, interval_ms: int = 100, connections: int = 1) -> dict[str, Any]:
    """Every variable below Objects/Bench, subscribed."""
    return {
        "name": "opcua",
        "protocol": "opcua",
        "equipment": "BENCH-OPC",
        "endpoint": endpoint,
        "publishing_interval_ms": interval_ms,
        "sampling_interval_ms": 0,
        "queue_size": 10,
        "connections": connections,
        "browse": [{"root": "Objects/Bench", "pattern": "*", "signal": "opc.{name}"}],
    }


def modbus_device(port: int, registers: int, *, interval_ms: int = 10) -> dict[str, Any]:
    """One uint16 tag per register, one polling group (block reads of 125)."""
    from tests.support.net import LOOPBACK

    return {
        "name": "modbus",
        "protocol": "modbus",
        "equipment": "BENCH-PLC",
        "host": LOOPBACK,
        "port": port,
        "unit_id": 1,
        "timeout_ms": 2000,
        "groups": [
            {
                "interval_ms": interval_ms,
                "tags": [
                    {"signal": f"plc.r{n}", "table": "holding", "address": n, "type": "uint16"}
                    for n in range(registers)
                ],
            }
        ],
    }


def mqtt_device(
    st: Stack, client_id: str, prefix: str = "bench", workers: int = 1
) -> dict[str, Any]:
    """Batched payloads on `<prefix>/<machine>/batch` (with workers, shared under a group named
    after `client_id`: the broker keeps earlier runs' sessions, which must not take a share)."""
    return {
        "name": "mqtt",
        "protocol": "mqtt",
        "host": st.broker.host,
        "port": st.broker.port,
        "client_id": client_id,
        **({"share_group": client_id} if workers > 1 else {}),
        "subscriptions": [
            {
                "topic": f"{prefix}/+/batch",
                "qos": 1,
                "batch": "values",
                "signal": "{1}.{signal}",
                "equipment": "{1}",
                "value": "value",
                "timestamp": "ts",
            }
        ],
    }


def gateway_config(devices: list[dict[str, Any]], workers: int = 1, **batch: int) -> dict[str, Any]:
    """A benchmark gateway (heartbeat far away, default batching unless given)."""
    return {
        "version": 1,
        "gateway": {"id": "bench", "heartbeat_s": 3600, "workers": workers},
        "batch": {"max_rows": 5000, "max_delay_ms": 200, **batch},
        "devices": devices,
    }


def mqtt_publisher(
    st: Stack, seconds: float, client_id: str, *, rate: float = 0, values: int = 100,
    prefix: str = "bench",
) -> subprocess.Popen[bytes]:  # fmt: skip
    """Start the MQTT load (rate 0: as fast as the broker takes it)."""
    proc = spawn("mqtt", st.broker.host, str(st.broker.port), str(rate), str(values),
                 str(seconds), client_id, prefix)  # fmt: skip
    wait_line(proc, b"READY")
    return proc
