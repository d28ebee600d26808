"""`mes gateway` with `gateway.workers` > 1: starts the worker processes, restarts one that dies,
passes SIGHUP/SIGTERM on, and serves `/healthz` and `/metrics` for all of them (every worker
sample carries a `worker` label)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from gateway.backoff import Backoff
from gateway.config import ConfigFileError, GatewayConfig, load_config
from gateway.http import HealthServer
from gateway.sessions import record_start
from gateway.settings import GatewaySettings
from gateway.workers import adopt_orphans, spool_root, worker_id

log = logging.getLogger("gateway.supervisor")

READY_TIMEOUT_S = 120.0
SCRAPE_TIMEOUT_S = 10.0
STABLE_S = 60.0  # a worker that ran this long restarts with the shortest delay again


@dataclass
class Worker:
    """One worker process and what the supervisor knows of it."""

    index: int
    process: asyncio.subprocess.Process | None = None
    port: int | None = None
    restarts: int = 0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5, maximum=30.0))

    @property
    def up(self) -> bool:
        """Started and not exited."""
        return self.process is not None and self.process.returncode is None and bool(self.port)


class Supervisor:
    """Runs `config.gateway.workers` copies of `python -m gateway.worker`."""

    def __init__(self, config_path: Path, config: GatewayConfig, settings: GatewaySettings) -> None:
        self.config_path = config_path
        self.config = config
        self.settings = settings
        self.gateway_id = config.gateway.id
        self.workers = [Worker(n) for n in range(config.gateway.workers)]
        self.http = HealthServer(
            host=settings.gateway_metrics_host,
            port=settings.gateway_metrics_port,
            health=self.health,
            render=self.render_metrics,
        )
        self._stop = asyncio.Event()
        self._stopping = False
        self._watchers: list[asyncio.Task[None]] = []

    # --- processes -----------------------------------------------------------------------------

    async def _spawn(self, worker: Worker) -> None:
        env = {**os.environ, "MES_GATEWAY_METRICS_PORT": "0"}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.worker", "--config", str(self.config_path),
            "--index", str(worker.index), "--count", str(len(self.workers)),
            env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        worker.process, worker.port = process, None
        assert process.stdout is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                while True:
                    line = await process.stdout.readline()
                    if not line:
                        break
                    if line.startswith(b"READY "):
                        worker.port = int(line.split()[1])
                        break
        except TimeoutError:
            log.error("worker did not start in time", extra={"worker": worker.index})
        if worker.port is None and process.returncode is None:
            process.kill()
        log.info(
            "worker started" if worker.port else "worker failed to start",
            extra={"worker": worker.index, "pid": process.pid, "metrics_port": worker.port},
        )

    async def _watch(self, worker: Worker) -> None:
        """Restart the worker whenever it exits, until the supervisor stops."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            assert worker.process is not None
            started = loop.time()
            code = await worker.process.wait()
            worker.port = None
            if self._stopping:
                return
            if loop.time() - started > STABLE_S:
                worker.backoff.reset()
            delay = worker.backoff.next()
            worker.restarts += 1
            log.error(
                "worker exited; restarting it (its spool and MQTT session are kept)",
                extra={"worker": worker.index, "exit_code": code, "retry_in_s": round(delay, 2)},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stopping:
                return
            await self._spawn(worker)

    def _signal_all(self, sig: signal.Signals) -> None:
        for worker in self.workers:
            if worker.process is not None and worker.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.send_signal(sig)

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Adopt orphaned spools, start every worker (waiting for each to be ready), listen."""
        root = spool_root(self.config, self.settings.gateway_spool_dir)
        adopt_orphans(
            root,
            self.gateway_id,
            len(self.workers),
            max_bytes=self.config.spool.max_bytes or self.settings.gateway_spool_max_bytes,
        )
        record_start(root, self.gateway_id, len(self.workers))  # worker 0 drains what retired
        await asyncio.gather(*(self._spawn(w) for w in self.workers))
        self._watchers = [
            asyncio.create_task(self._watch(w), name=f"worker-{w.index}") for w in self.workers
        ]
        await self.http.start()
        log.info(
            "gateway started",
            extra={
                "gateway": self.gateway_id,
                "workers": len(self.workers),
                "metrics": f"http://{self.http.host}:{self.http.port}/metrics",
            },
        )

    async def stop(self) -> None:
        """SIGTERM every worker (each drains its data) and wait for them."""
        self._stopping = True
        self._stop.set()
        self._signal_all(signal.SIGTERM)
        for worker in self.workers:
            if worker.process is not None:
                await worker.process.wait()
        for task in self._watchers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.close()
        log.info("gateway stopped", extra={"gateway": self.gateway_id})

    def reload(self) -> None:
        """SIGHUP: check the file, then let every worker reload its share of it."""
        try:
            config = load_config(self.config_path)
        except ConfigFileError as err:
            log.error(
                "reload refused: the configuration file is invalid; still running the previous one",
                extra={"problems": err.problems},
            )
            return
        if config.gateway.workers != len(self.workers) or config.gateway.id != self.gateway_id:
            log.warning(
                "gateway.id and gateway.workers change only at restart",
                extra={"kept": {"id": self.gateway_id, "workers": len(self.workers)}},
            )
        self._signal_all(signal.SIGHUP)

    async def run(self) -> None:
        """Start, serve until SIGTERM/SIGINT, pass SIGHUP on, stop."""
        loop = asyncio.get_running_loop()
        handlers = {
            signal.SIGTERM: self._stop.set,
            signal.SIGINT: self._stop.set,
            signal.SIGHUP: self.reload,
        }
        for sig, handler in handlers.items():
            loop.add_signal_handler(sig, handler)
        try:
            await self.start()
            await self._stop.wait()
        finally:
            for sig in handlers:
                loop.remove_signal_handler(sig)
            await self.stop()

    # --- health and metrics --------------------------------------------------------------------

    async def _get(self, worker: Worker, path: str) -> bytes | None:
        if not worker.up:
            return None
        try:
            async with asyncio.timeout(SCRAPE_TIMEOUT_S):
                reader, writer = await asyncio.open_connection(self.http.host, worker.port)
                try:
                    writer.write(f"GET {path} HTTP/1.1\r\nHost: worker\r\n\r\n".encode())
                    response = await reader.read()  # the server closes the connection
                finally:
                    writer.close()
        except (OSError, TimeoutError):
            return None
        head, _, body = response.partition(b"\r\n\r\n")
        return body if head.startswith(b"HTTP/1.1 200") else None

    async def health(self) -> dict[str, Any]:
        """/healthz: every worker's, and ok only when every worker is up and ok."""
        bodies = await asyncio.gather(*(self._get(w, "/healthz") for w in self.workers))
        workers = []
        points: dict[str, int] = {}
        ok = True
        for worker, body in zip(self.workers, bodies, strict=True):
            health = orjson.loads(body) if body is not None else None
            ok = ok and health is not None and health.get("status") == "ok"
            for key, value in (health or {}).get("points", {}).items():
                points[key] = points.get(key, 0) + int(value)
            workers.append(
                {
                    "worker": worker.index,
                    "id": worker_id(self.gateway_id, worker.index),
                    "pid": worker.process.pid if worker.process else None,
                    "up": health is not None,
                    "restarts": worker.restarts,
                    "health": health,
                }
            )
        return {
            "status": "ok" if ok else "degraded",
            "gateway": self.gateway_id,
            "points": points,
            "workers": workers,
        }

    async def render_metrics(self) -> bytes:
        """/metrics: the workers' samples with a `worker` label, and the supervisor's own."""
        texts = await asyncio.gather(*(self._get(w, "/metrics") for w in self.workers))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Merged(self.workers, texts))
        return generate_latest(registry)


class _Merged(Collector):
    """The workers' expositions as one, families merged by name, a `worker` label added."""

    def __init__(self, workers: list[Worker], texts: list[bytes | None]) -> None:
        self.workers = workers
        self.texts = texts

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("gateway_worker_up", "1 when the worker answers", labels=["worker"])
        restarts = CounterMetricFamily(
            "gateway_worker_restarts", "Times the worker was restarted", labels=["worker"]
        )
        merged: dict[str, Metric] = {}
        for worker, text in zip(self.workers, self.texts, strict=True):
            label = str(worker.index)
            up.add_metric([label], 1 if text is not None else 0)
            restarts.add_metric([label], worker.restarts)
            if text is None:
                continue
            for family in text_string_to_metric_families(text.decode()):
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(
                        family.name, family.documentation, family.type, family.unit
                    )
                for sample in family.samples:
                    into.add_sample(sample.name, {**sample.labels, "worker": label}, sample.value)
        yield up
        yield restarts
        yield from merged.values()


async def supervise(config_path: Path, config: GatewayConfig, settings: GatewaySettings) -> None:
    """Run the workers until SIGTERM/SIGINT."""
    await Supervisor(config_path, config, settings).run()
