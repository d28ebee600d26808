"""Store-and-forward: batches go to the database while it answers, to the durable spool while it
does not (or while the write queue is too deep), and the spool is replayed in order, with the
original timestamps, as soon as the database is back, while new data keeps flowing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field

import psycopg
from prometheus_client import Histogram
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gateway.pipeline.batcher import Batch
from gateway.records import Record, utcnow
from gateway.sinks import codec
from gateway.sinks.signals import SignalRegistry
from gateway.sinks.spool import Spool, SpoolEntry
from gateway.sinks.writer import ReadingWriter, WriteResult

log = logging.getLogger("gateway.forwarder")

UNREACHABLE = (psycopg.OperationalError, PoolTimeout, TimeoutError, OSError)
REPLAY_ATTEMPTS = 3  # a spooled batch the database refuses this often (not an outage) is set aside
LATENCY_SAMPLE = 64  # rows per batch whose source-to-commit latency is observed


@dataclass
class ForwarderStats:
    """Counters since start (exported by the metrics collector)."""

    rows_written: int = 0
    rows_deduplicated: int = 0
    rows_spooled: int = 0
    rows_replayed: int = 0
    rows_dropped: int = 0  # spool overflow
    rows_rejected: int = 0  # refused by the database repeatedly, or corrupt spool files
    rows_lost: int = 0  # neither written nor spooled (disk failure while the database is down)
    batches_written: int = 0
    batches_spooled: int = 0
    batches_dropped: int = 0
    spool_errors: int = 0
    db_errors: int = 0
    last_error: str | None = None
    db_up: bool = False
    since: float = field(default_factory=time.time)


class StoreAndForward:
    """Owns the connection pool, the write queue, the spool and the replay."""

    def __init__(
        self,
        *,
        conninfo: str,
        writer: ReadingWriter,
        registry: SignalRegistry,
        spool: Spool,
        max_queued_rows: int,
        write_timeout: float,
        connect_timeout: float,
        batch_seconds: Histogram,
        latency_seconds: Histogram,
    ) -> None:
        self.writer = writer
        self.registry = registry
        self.spool = spool
        self.max_queued_rows = max_queued_rows
        self.write_timeout = write_timeout
        self.connect_timeout = connect_timeout
        self.stats = ForwarderStats()
        self._batch_seconds = batch_seconds
        self._latency_seconds = latency_seconds
        self.pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=3,
            open=False,
            timeout=connect_timeout,
            check=AsyncConnectionPool.check_connection,
            kwargs={"autocommit": False},
            name="gateway",
        )
        self._queue: deque[Batch] = deque()
        self.queued_rows = 0
        self._wake = asyncio.Event()
        self._db_wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._attempts: dict[int, int] = {}
        self._announced = False

    # --- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the pool (without waiting for the database) and start the loops."""
        await self.pool.open(wait=False)
        try:  # one quick attempt, so a reachable database is written to from the first batch
            async with self.pool.connection(timeout=self.connect_timeout) as conn:
                await self.registry.resolve(conn)
                await conn.commit()
        except (*UNREACHABLE, psycopg.Error) as err:
            self._down(err)
        else:
            self._up()
        self._tasks = [
            asyncio.create_task(self._forward_loop(), name="forward"),
            asyncio.create_task(self._replay_loop(), name="replay"),
            asyncio.create_task(self._probe_loop(), name="db-probe"),
        ]

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109 - a deadline, not a wrapper
        """Wait until every queued batch is written or spooled; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue or not self._idle.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), min(remaining, 0.2))
        return True

    async def spool_queued(self) -> int:
        """Move every batch still waiting for the database to the spool (at shutdown, when the
        database is too slow to drain in time); returns the batches spooled."""
        moved = 0
        while self._queue:
            batch = self._queue.popleft()
            self.queued_rows -= len(batch.records)
            if not batch.records or await self._to_spool(batch.records):
                batch.acknowledge()
            moved += 1
        return moved

    async def close(self) -> None:
        """Stop the loops and close the pool (call `drain` first)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.pool.close()

    # --- intake --------------------------------------------------------------------------------

    def put(self, batch: Batch) -> None:
        """Queue a batch (called by the batcher; never blocks)."""
        self._queue.append(batch)
        self.queued_rows += len(batch.records)
        self._idle.clear()
        self._wake.set()

    # --- loops ---------------------------------------------------------------------------------

    async def _forward_loop(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._queue.popleft()
            self.queued_rows -= len(batch.records)
            try:
                await self._forward(batch)
            finally:
                if not self._queue:
                    self._idle.set()

    async def _forward(self, batch: Batch) -> None:
        if not batch.records:
            batch.acknowledge()
            return
        if self.stats.db_up and self.queued_rows < self.max_queued_rows:
            started = time.monotonic()
            try:
                result = await asyncio.wait_for(
                    self._write(batch.records, notify=True), self.write_timeout
                )
            except UNREACHABLE as err:
                self._down(err)
            except psycopg.Error as err:
                self._down(err)  # spooled and retried by the replay; set aside if it persists
            else:
                self._written(batch.records, result, started, live=True)
                batch.acknowledge()
                return
        if await self._to_spool(batch.records):
            batch.acknowledge()
        # else: not acknowledged; an MQTT broker redelivers it on the next session

    async def _write(self, records: list[Record], *, notify: bool) -> WriteResult:
        async with self.pool.connection() as conn:
            return await self.writer.write(conn, records, notify=notify)

    def _written(
        self, records: list[Record], result: WriteResult, started: float, *, live: bool
    ) -> None:
        now = time.monotonic()
        self.stats.rows_written += result.inserted + result.text_inserted
        self.stats.rows_deduplicated += result.deduplicated
        self.stats.batches_written += 1
        self._batch_seconds.observe(now - started)
        if live:
            wall = utcnow()
            step = max(1, len(records) // LATENCY_SAMPLE)
            observe = self._latency_seconds.observe
            for record in records[::step]:
                observe(max(0.0, (wall - (record.source_ts or record.gateway_ts)).total_seconds()))

    async def _to_spool(self, records: list[Record]) -> bool:
        specs = {key: self.registry.spec(key) for key in {r.signal for r in records}}
        try:
            data = codec.encode(records, specs)
            dropped = await asyncio.to_thread(self.spool.append, data, len(records))
        except OSError as err:
            self.stats.spool_errors += 1
            self.stats.rows_lost += len(records)
            self.stats.last_error = f"spool: {err}"
            log.error(
                "cannot spool a batch; its data is lost unless its source resends it",
                extra={"rows": len(records), "error": str(err)},
            )
            return False
        self.stats.rows_spooled += len(records)
        self.stats.batches_spooled += 1
        if dropped.batches:
            self.stats.rows_dropped += dropped.rows
            self.stats.batches_dropped += dropped.batches
            log.warning(
                "spool full: dropped the oldest batches",
                extra={
                    "batches": dropped.batches,
                    "rows": dropped.rows,
                    "bytes": dropped.bytes,
                    "max_bytes": self.spool.max_bytes,
                    "rows_dropped_total": self.stats.rows_dropped,
                },
            )
        return True

    def _down(self, err: BaseException) -> None:
        self.stats.db_errors += 1
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        self.stats.last_error = f"database: {reason}"
        if self.stats.db_up or not self._announced:
            self._announced = True
            log.warning(
                "database unavailable: spooling batches until it returns",
                extra={"error": reason},
            )
            self.stats.db_up = False
            self.stats.since = time.time()
        self._db_wake.set()

    def _up(self) -> None:
        if not self.stats.db_up:
            self._announced = True
            log.info(
                "database reachable: writing and replaying the spool",
                extra={"spooled_batches": len(self.spool), "spooled_rows": self.spool.rows},
            )
            self.stats.db_up = True
            self.stats.since = time.time()
            self._db_wake.set()

    async def _probe_loop(self) -> None:
        delay = 0.2
        while True:
            if self.stats.db_up:
                self._db_wake.clear()
                await self._db_wake.wait()
                delay = 0.2
                continue
            try:
                async with self.pool.connection() as conn:
                    await conn.execute("SELECT 1")
                    await self.registry.resolve(conn)
                    await conn.commit()
            except (*UNREACHABLE, psycopg.Error) as err:
                self._down(err)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, 5.0)
            else:
                self._up()

    async def _replay_loop(self) -> None:
        while True:
            if not self.stats.db_up or not len(self.spool):
                await asyncio.sleep(0.1)
                continue
            entry = self.spool.oldest()
            if entry is None:
                continue
            try:
                await self._replay(entry)
            finally:
                self.spool.release(entry)

    async def _replay(self, entry: SpoolEntry) -> None:
        try:
            data = await asyncio.to_thread(self.spool.read, entry)
            records, specs = codec.decode(data)
        except (OSError, codec.SpoolFormatError) as err:
            target = self.spool.quarantine(entry)
            self.stats.rows_rejected += entry.rows
            log.error(
                "corrupt spool file set aside",
                extra={"file": str(target), "rows": entry.rows, "error": str(err)},
            )
            return
        self.registry.declare_missing(specs)
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(self._write(records, notify=False), self.write_timeout)
        except UNREACHABLE as err:
            self._down(err)
            return
        except psycopg.Error as err:
            attempts = self._attempts.get(entry.seq, 0) + 1
            self._attempts[entry.seq] = attempts
            if attempts < REPLAY_ATTEMPTS:
                log.warning(
                    "database refused a spooled batch; retrying",
                    extra={"file": entry.path.name, "attempt": attempts, "error": str(err)},
                )
                await asyncio.sleep(attempts)
                return
            target = self.spool.quarantine(entry)
            self._attempts.pop(entry.seq, None)
            self.stats.rows_rejected += entry.rows
            log.error(
                "database refused a spooled batch repeatedly; set aside",
                extra={"file": str(target), "rows": entry.rows, "error": str(err)},
            )
            return
        self._written(records, result, started, live=False)
        self.stats.rows_replayed += len(records)
        self.spool.remove(entry)
        self._attempts.pop(entry.seq, None)
