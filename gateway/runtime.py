"""The running gateway: wires connectors, coordinators, the pipeline and the sinks; reloads its
configuration on SIGHUP without losing buffered data; drains on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.backoff import Backoff
from gateway.config import ConfigFileError, GatewayConfig, load_config
from gateway.config.models import Device
from gateway.connectors import registry as connectors
from gateway.connectors.base import Connector, ConnectorContext
from gateway.coordinator import DeviceCoordinator
from gateway.drain import SessionDrainer
from gateway.http import HealthServer
from gateway.linkstate import LinkBook
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Batcher, Pipeline, ReportByException
from gateway.records import SignalSpec
from gateway.sessions import RetiredSession, forget, record_start, retired_ids, retired_sessions
from gateway.settings import GatewaySettings
from gateway.sinks.forwarder import StoreAndForward
from gateway.sinks.signals import SignalRegistry
from gateway.sinks.spool import Spool
from gateway.sinks.writer import ReadingWriter
from gateway.workers import Slot, adopt_orphans, partition, spool_root

log = logging.getLogger("gateway")

LINK_FLUSH_S = 2.0
QUIET_LIBRARIES = {  # libraries that log every failed reconnect attempt
    "psycopg.pool": logging.ERROR,
    "pymodbus": logging.CRITICAL,
    "asyncua": logging.ERROR,
}
HEARTBEAT_TICK_S = 1.0
PARENT_CHECK_S = 1.0


@dataclass
class _Running:
    config: Any
    connector: Connector
    coordinator: DeviceCoordinator
    task: asyncio.Task[None]


class Gateway:
    """One gateway process's worth of state."""

    def __init__(
        self,
        config: GatewayConfig,
        settings: GatewaySettings,
        *,
        config_path: Path | None = None,
        slot: Slot | None = None,
        retired: Sequence[RetiredSession] = (),
        forget_retired: Callable[[str], None] | None = None,
    ) -> None:
        self.slot = slot  # set when this process is one worker of several (config partitioned)
        self.retired = list(retired)  # MQTT sessions of retired processes, drained by this one
        self.forget_retired = forget_retired  # called with a retired id once all its are drained
        self.drainers: list[SessionDrainer] = []
        self._drain_tasks: list[asyncio.Task[None]] = []
        self.config = config
        self.settings = settings
        self.config_path = config_path
        self.gateway_id = config.gateway.id
        self.signals = SignalRegistry()
        self.links = LinkBook(self.gateway_id)
        self.metrics = GatewayMetrics()
        spool_dir = config.spool.dir or settings.gateway_spool_dir
        self.spool = Spool(
            spool_dir / self.gateway_id,
            max_bytes=config.spool.max_bytes or settings.gateway_spool_max_bytes,
        )
        self.writer = ReadingWriter(
            gateway_id=self.gateway_id,
            registry=self.signals,
            channel=config.live.channel if config.live.enabled else None,
        )
        self.forwarder = StoreAndForward(
            conninfo=settings.conninfo(),
            writer=self.writer,
            registry=self.signals,
            spool=self.spool,
            max_queued_rows=config.batch.max_queued_rows,
            write_timeout=settings.gateway_write_timeout,
            connect_timeout=settings.db_connect_timeout,
            batch_seconds=self.metrics.batch_seconds,
            latency_seconds=self.metrics.latency_seconds,
        )
        self.batcher = Batcher(
            max_rows=config.batch.max_rows,
            max_delay=config.batch.max_delay_ms / 1000,
            deliver=self.forwarder.put,
        )
        self.rbe = ReportByException(heartbeat_s=config.gateway.heartbeat_s)
        self.pipeline = Pipeline(rbe=self.rbe, batcher=self.batcher)
        self.http = HealthServer(
            host=settings.gateway_metrics_host,
            port=settings.gateway_metrics_port,
            registry=self.metrics.registry,
            health=self.health,
        )
        self.devices: dict[str, _Running] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._stopping = False
        self.reloads = 0
        self.metrics.attach(self)

    # --- signals -------------------------------------------------------------------------------

    def _meta(self, key: str) -> dict[str, str | None]:
        meta = self.config.signals.get(key)
        return meta.model_dump() if meta is not None else {}

    def _declarer(self, device: Any) -> Any:
        def declare(specs: Sequence[SignalSpec]) -> None:
            self.signals.declare(specs)
            for spec in specs:
                self.rbe.set_filtered(
                    spec.key, spec.report_by_exception or spec.deadband is not None
                )
                self.rbe.set_deadband(spec.key, spec.deadband)
                self.rbe.set_heartbeat(spec.key, device.heartbeat_s)

        return declare

    def _busy(self) -> bool:
        """The database is up but writes lag: sources able to hold data (an MQTT broker keeps
        unacknowledged messages) should pause rather than fill memory and the spool."""
        if self._stopping:
            return True
        pending = self.forwarder.queued_rows + self.batcher.pending_rows
        return self.forwarder.stats.db_up and pending > self.config.batch.max_queued_rows // 2

    # --- devices -------------------------------------------------------------------------------

    def _start_device(self, device: Any) -> None:
        declare = self._declarer(device)
        context = ConnectorContext(
            gateway_id=self.gateway_id,
            declare=declare,
            signal_meta=self._meta,
            busy=self._busy,
        )
        connector = connectors.create(device, context)
        declare(connector.signals())
        link = self.links.add(device.name, device.protocol, connector.endpoint)
        coordinator = DeviceCoordinator(
            name=device.name,
            connector=connector,
            pipeline=self.pipeline,
            link=link,
            backoff=Backoff(
                initial=device.backoff.initial_ms / 1000, maximum=device.backoff.max_ms / 1000
            ),
        )
        task = asyncio.create_task(self._supervise(coordinator), name=f"device-{device.name}")
        self.devices[device.name] = _Running(device, connector, coordinator, task)

    async def _supervise(self, coordinator: DeviceCoordinator) -> None:
        """Restart a coordinator that failed on an unexpected error (a bug must not stop the
        other devices or the gateway)."""
        while True:
            try:
                await coordinator.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("device task failed; restarting", extra={"device": coordinator.name})
                coordinator.link.set("backoff", error="internal error (see gateway log)")
                await asyncio.sleep(coordinator.backoff.next())

    async def _stop_device(self, name: str) -> None:
        running = self.devices.pop(name)
        running.coordinator.stopping = True
        for _ in range(10):  # a cancellation can be absorbed by a read failing meanwhile: repeat
            if running.task.done():
                break
            running.task.cancel()
            await asyncio.wait({running.task}, timeout=2)
        else:
            log.error("device task did not stop; abandoning it", extra={"device": name})
            await running.connector.close()
            return
        with contextlib.suppress(asyncio.CancelledError):
            await running.task
        await running.connector.close()

    def _start_drainers(self) -> None:
        devices = {d.name: d for d in self.config.devices}
        for session in self.retired:
            device = devices.get(session.device.name, session.device)
            drainer = SessionDrainer(
                session,
                context=ConnectorContext(
                    gateway_id=self.gateway_id,
                    declare=self._declarer(device),
                    signal_meta=self._meta,
                    busy=self._busy,
                ),
                pipeline=self.pipeline,
                done=self._drained,
                replaced=self._subscribed(session.device.name),
            )
            self.drainers.append(drainer)
            self._drain_tasks.append(
                asyncio.create_task(drainer.run(), name=f"drain-{session.client_id}")
            )

    def _subscribed(self, name: str) -> Callable[[], bool]:
        """Whether this process's session of device `name` has subscribed (its link came up
        once; the session keeps the subscriptions across reconnections)."""

        def subscribed() -> bool:
            link = self.links.links.get(name)
            return link is None or link.ever_connected

        return subscribed

    def _drained(self, session: RetiredSession) -> None:
        """A retired session is gone: forget its process once all of its sessions are."""
        others = [d for d in self.drainers if d.session.run_id == session.run_id]
        if all(d.state == "done" for d in others) and self.forget_retired is not None:
            self.forget_retired(session.run_id)

    async def _stop_drainers(self) -> None:
        for task in self._drain_tasks:
            task.cancel()
        for task in self._drain_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._drain_tasks = []

    def mqtt_connectors(self) -> dict[str, Any]:
        """Running MQTT connectors by device (for their counters)."""
        return {n: r.connector for n, r in self.devices.items() if r.config.protocol == "mqtt"}

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the sinks, the HTTP endpoints and every enabled device."""
        await self.forwarder.start()
        await self.http.start()
        for device in self.config.devices:
            if device.enabled:
                self._start_device(device)
        self._start_drainers()
        self._tasks = [
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._link_loop(), name="link-state"),
        ]
        log.info(
            "gateway started",
            extra={
                "gateway": self.gateway_id,
                "devices": len(self.devices),
                "signals": len(self.signals.specs),
                "metrics": f"http://{self.http.host}:{self.http.port}/metrics",
                "spool": str(self.spool.directory),
                "spooled_batches": len(self.spool),
            },
        )

    async def _watch_parent(self) -> None:
        """A worker whose supervisor died (kill -9) stops cleanly instead of running on alone."""
        parent = os.getppid()
        while os.getppid() == parent:  # noqa: ASYNC110 - no event tells a parent's death
            await asyncio.sleep(PARENT_CHECK_S)
        log.error("the supervising process is gone; stopping", extra={"gateway": self.gateway_id})
        self.request_stop()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_TICK_S)
            self.pipeline.heartbeat()

    async def _link_loop(self) -> None:
        while True:
            await asyncio.sleep(LINK_FLUSH_S)
            await self.flush_links()

    async def flush_links(self) -> None:
        """Write changed link states (skipped while the database is down)."""
        if not self.forwarder.stats.db_up:
            return
        try:
            async with self.forwarder.pool.connection() as conn:
                await self.links.flush(conn)
        except Exception as err:  # noqa: BLE001 - best effort: retried at the next tick
            log.debug("link state not written", extra={"error": str(err)})

    def request_stop(self) -> None:
        """Ask `run` to return (signal handlers call this)."""
        self._stop.set()

    async def run(self) -> None:
        """Start, serve until stopped (SIGTERM/SIGINT), reload on SIGHUP, then stop cleanly."""
        loop = asyncio.get_running_loop()
        handlers = {
            signal.SIGTERM: self.request_stop,
            signal.SIGINT: self.request_stop,
            signal.SIGHUP: lambda: asyncio.ensure_future(self.reload_from_file()),
            signal.SIGUSR1: dump_tasks,
        }
        for sig, handler in handlers.items():
            loop.add_signal_handler(sig, handler)
        try:
            await self.start()
            if self.slot is not None:
                self._tasks.append(asyncio.create_task(self._watch_parent(), name="parent"))
                sys.stdout.write(f"READY {self.http.port}\n")
                sys.stdout.flush()
            await self._stop.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            await self.stop()
            loop.remove_signal_handler(signal.SIGUSR1)

    async def stop(self, *, drain_timeout: float | None = None) -> None:
        """Stop reading, write (or spool) everything buffered, close."""
        timeout = (
            drain_timeout if drain_timeout is not None else self.settings.gateway_write_timeout
        )
        # Stop taking data: MQTT pauses reading (its connection stays open so the drained data's
        # acknowledgements reach the broker), the other devices stop now.
        self._stopping = True
        for name in [n for n, r in self.devices.items() if r.config.protocol != "mqtt"]:
            await self._stop_device(name)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        log.info(
            "stopping: devices stopped, writing what is buffered",
            extra={"queued_rows": self.forwarder.queued_rows + self.batcher.pending_rows},
        )
        self.batcher.flush()
        drained = await self.forwarder.drain(timeout)
        if not drained:  # the database is too slow: what is left goes to disk, not lost
            await self.forwarder.spool_queued()
        for name in list(self.devices):
            await self._stop_device(name)
        await self._stop_drainers()  # a session not drained yet stays, drained at the next start
        self.batcher.flush()  # messages that arrived while pausing (acknowledged when spooled)
        if not await self.forwarder.drain(min(timeout, 5.0)):
            await self.forwarder.spool_queued()
        await self.flush_links()
        await self.forwarder.close()
        await self.http.close()
        log.info(
            "gateway stopped",
            extra={
                "gateway": self.gateway_id,
                "drained": drained,
                "spooled_batches": len(self.spool),
            },
        )

    # --- reload --------------------------------------------------------------------------------

    async def reload_from_file(self) -> bool:
        """Re-read the configuration file; an invalid one is logged and the running one kept."""
        if self.config_path is None:
            return False
        try:
            config = load_config(self.config_path)
            if self.slot is not None:
                if config.gateway.workers != self.slot.count:
                    log.warning(
                        "gateway.workers changes only at restart",
                        extra={"kept": self.slot.count, "requested": config.gateway.workers},
                    )
                config = partition(config, self.slot)
        except ConfigFileError as err:
            log.error(
                "reload refused: the configuration file is invalid; still running the previous one",
                extra={"problems": err.problems},
            )
            return False
        await self.reload(config)
        return True

    async def reload(self, config: GatewayConfig) -> None:
        """Apply a new configuration: devices added, removed or changed restart; everything
        buffered (batch, queue, spool) is kept."""
        old = self.config
        for key in ("id",):
            if getattr(config.gateway, key) != getattr(old.gateway, key):
                log.warning("gateway.id changes only at restart", extra={"kept": self.gateway_id})
        if (config.spool.dir or self.settings.gateway_spool_dir) != (
            old.spool.dir or self.settings.gateway_spool_dir
        ):
            log.warning(
                "spool.dir changes only at restart", extra={"kept": str(self.spool.directory)}
            )
        self.config = config.model_copy(
            update={"gateway": config.gateway.model_copy(update={"id": self.gateway_id})}
        )
        self.batcher.max_rows = config.batch.max_rows
        self.batcher.max_delay = config.batch.max_delay_ms / 1000
        self.forwarder.max_queued_rows = config.batch.max_queued_rows
        self.spool.max_bytes = config.spool.max_bytes or self.settings.gateway_spool_max_bytes
        self.rbe.heartbeat_s = config.gateway.heartbeat_s
        self.writer.channel = config.live.channel if config.live.enabled else None
        wanted: dict[str, Device] = {d.name: d for d in config.devices if d.enabled}
        removed = [n for n in self.devices if n not in wanted]
        changed = [
            n for n, d in wanted.items() if n in self.devices and self.devices[n].config != d
        ]
        added = [n for n in wanted if n not in self.devices]
        for name in removed + changed:
            signals = [s.key for s in self.devices[name].connector.signals()]
            await self._stop_device(name)
            if name in removed:
                self.links.remove(name)
                self.rbe.forget(signals)
        for name in changed + added:
            self._start_device(wanted[name])
        self.reloads += 1
        log.info(
            "configuration reloaded",
            extra={"added": added, "removed": removed, "changed": changed},
        )

    # --- health --------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """What /healthz reports."""
        stats = self.forwarder.stats
        devices = {
            name: {
                "protocol": link.protocol,
                "state": link.state,
                "since": link.since.isoformat(),
                "reconnects": link.reconnect_count,
                "last_error": link.last_error,
                "last_data_at": link.last_data_at.isoformat() if link.last_data_at else None,
            }
            for name, link in sorted(self.links.links.items())
        }
        degraded = not stats.db_up or any(d["state"] != "connected" for d in devices.values())
        return {
            "status": "degraded" if degraded else "ok",
            "gateway": self.gateway_id,
            "database": {"up": stats.db_up, "last_error": stats.last_error},
            "spool": {
                "batches": len(self.spool),
                "rows": self.spool.rows,
                "bytes": self.spool.bytes,
                "max_bytes": self.spool.max_bytes,
                "dropped_rows": stats.rows_dropped,
            },
            "points": {
                "received": sum(self.pipeline.points_in.values()),
                "written": stats.rows_written,
                "deduplicated": stats.rows_deduplicated,
                "spooled": stats.rows_spooled,
                "replayed": stats.rows_replayed,
            },
            "devices": devices,
            "retired_sessions": {d.session.client_id: d.status() for d in self.drainers},
            "reloads": self.reloads,
        }


def dump_tasks() -> None:
    """Log every asyncio task with its stack (SIGUSR1: what is the gateway waiting for?)."""
    for task in asyncio.all_tasks():
        frames = [
            f"{f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}" for f in task.get_stack()
        ]
        log.warning("task", extra={"task": task.get_name(), "stack": frames})


async def serve(config_path: Path, settings: GatewaySettings, slot: Slot | None = None) -> None:
    """Load the file and run the gateway until SIGTERM/SIGINT (as worker `slot` of several when
    given: its share of the devices, READY and its metrics port on stdout once started, and a stop
    when the supervising process is gone)."""
    # Millions of short-lived records make no reference cycles: collect the young generation far
    # less often, and keep start-up objects out of the older collections altogether.
    gc.set_threshold(50_000, 50, 100)
    gc.freeze()
    faulthandler.register(signal.SIGUSR2)  # thread stacks to stderr, even if the loop is stuck
    if settings.log_level != "DEBUG":  # outages are logged once by the coordinators/forwarder
        for name, level in QUIET_LIBRARIES.items():
            logging.getLogger(name).setLevel(level)
    config = load_config(config_path)
    root = spool_root(config, settings.gateway_spool_dir)
    base = config.gateway.id
    retired: list[str] = []
    if slot is None:
        adopt_orphans(
            root, base, 1, max_bytes=config.spool.max_bytes or settings.gateway_spool_max_bytes
        )
        retired = record_start(root, base, 1)
    elif slot.index == 0:  # the supervisor recorded this run; worker 0 drains what retired
        retired = retired_ids(root, base, slot.count)
    sessions: list[RetiredSession] = []
    for run_id in retired:
        found = retired_sessions(config, run_id)
        if found:
            sessions.extend(found)
        else:  # no MQTT session to drain
            forget(root, base, run_id)
    if slot is not None:
        config = partition(config, slot)
    gateway = Gateway(
        config,
        settings,
        config_path=config_path,
        slot=slot,
        retired=sessions,
        forget_retired=lambda run_id: forget(root, base, run_id),
    )
    await gateway.run()
