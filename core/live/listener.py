"""LISTEN to PostgreSQL channels on one dedicated connection, reconnecting by itself.

Every API process runs one listener, so an event committed through any process (or the gateway)
reaches the WebSocket clients of every process; no broker besides PostgreSQL is needed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

import psycopg
from prometheus_client import Counter, Gauge
from psycopg import sql

log = logging.getLogger(__name__)

Handler = Callable[[str], Awaitable[None]]

NOTIFICATIONS = Counter("mes_live_notifications_total", "NOTIFY messages received", ["channel"])
HANDLER_ERRORS = Counter("mes_live_handler_errors_total", "Notifications a handler failed on")
CONNECTED = Gauge("mes_live_listener_connected", "1 while the LISTEN connection is up")
HEALTH_INTERVAL = 5.0


class Listener:
    """Dispatches each notification's payload to the handler of its channel."""

    def __init__(
        self,
        conninfo: str,
        handlers: Mapping[str, Handler],
        *,
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        max_backoff: float = 10.0,
    ) -> None:
        self.conninfo = conninfo
        self.handlers = dict(handlers)
        self.on_reconnect = on_reconnect
        self.max_backoff = max_backoff
        self.connected = asyncio.Event()
        self.connections = 0

    async def run(self) -> None:
        """Listen until cancelled; on a lost connection wait (backoff) and listen again."""
        delay = 0.2
        while True:
            try:
                await self._listen()
            except (psycopg.OperationalError, psycopg.InterfaceError) as err:
                self.connected.clear()
                CONNECTED.set(0)
                log.warning("LISTEN connection lost, reconnecting in %.1fs: %s", delay, err)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
            else:
                delay = 0.2

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        async with conn:
            for channel in self.handlers:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.connections += 1
            if self.connections > 1 and self.on_reconnect is not None:
                await self.on_reconnect()  # clients may have missed updates: resend state
            self.connected.set()
            CONNECTED.set(1)
            while True:
                async for note in conn.notifies(timeout=HEALTH_INTERVAL):
                    NOTIFICATIONS.labels(note.channel).inc()
                    handler = self.handlers.get(note.channel)
                    if handler is None:
                        continue
                    try:
                        await handler(note.payload)
                    except Exception:  # one bad payload must not stop the feed; logged
                        HANDLER_ERRORS.inc()
                        log.exception("live handler failed", extra={"channel": note.channel})
                await conn.execute("SELECT 1")  # detects a dead connection between bursts
