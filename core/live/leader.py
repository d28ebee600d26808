"""One leader among the API processes, by a PostgreSQL session advisory lock.

Each process tries to take the lock on a dedicated connection; the one that holds it runs the
work, the others retry. The lock belongs to the connection, so when the leader dies (or its
connection does) PostgreSQL releases it and another process takes over on its next try. The
leader checks its connection regularly and stops the work the moment it is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from prometheus_client import Gauge

log = logging.getLogger(__name__)

LEADER = Gauge("mes_live_leader", "1 while this process leads the live derivation")
LOCK_KEY = 0x4D45_5300  # "MES\0": one lock for the derivation engine
CHECK_INTERVAL = 2.0


class Leadership:
    """Runs `work` while this process holds the lock; `is_leader` tells who leads."""

    def __init__(
        self,
        conninfo: str,
        work: Callable[[], Coroutine[Any, Any, None]],
        *,
        retry_s: float,
        key: int = LOCK_KEY,
    ) -> None:
        self.conninfo = conninfo
        self.work = work
        self.retry_s = retry_s
        self.key = key
        self.is_leader = False
        self.terms = 0
        self.attempts = 0

    async def run(self) -> None:
        """Try, lead while holding the lock, try again; until cancelled."""
        try:
            while True:
                try:
                    await self._term()
                except (psycopg.OperationalError, psycopg.InterfaceError) as err:
                    log.warning("leadership connection failed: %s", err)
                await asyncio.sleep(self.retry_s)
        finally:
            self._step_down()

    async def _term(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
            self.attempts += 1
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = await cursor.fetchone()
            if not row or not row[0]:
                return
            self.is_leader, self.terms = True, self.terms + 1
            LEADER.set(1)
            log.info("leading the live derivation", extra={"term": self.terms})
            worker = asyncio.create_task(self.work())
            try:
                while not worker.done():
                    done, _ = await asyncio.wait({worker}, timeout=CHECK_INTERVAL)
                    if not done:
                        await conn.execute("SELECT 1")  # raises when the lock's session is gone
                if worker.done() and not worker.cancelled() and worker.exception() is not None:
                    log.error("live derivation stopped", exc_info=worker.exception())
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker
                self._step_down()

    def _step_down(self) -> None:
        if self.is_leader:
            log.info("no longer leading the live derivation")
        self.is_leader = False
        LEADER.set(0)
