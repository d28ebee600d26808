"""Device link state: per gateway and device, kept in memory for /healthz and /metrics and
written to the `gateway_device_link` table for the monitoring pages."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import psycopg

from gateway.records import utcnow

log = logging.getLogger("gateway.link")

State = Literal["connected", "disconnected", "backoff"]

UPSERT = """
INSERT INTO gateway_device_link (gateway_id, device, protocol, endpoint, state, since,
                                 last_error, reconnect_count, last_data_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (gateway_id, device) DO UPDATE SET
    protocol = EXCLUDED.protocol, endpoint = EXCLUDED.endpoint, state = EXCLUDED.state,
    since = EXCLUDED.since, last_error = EXCLUDED.last_error,
    reconnect_count = EXCLUDED.reconnect_count, last_data_at = EXCLUDED.last_data_at,
    updated_at = now()
"""


@dataclass
class LinkState:
    """The link to one device."""

    device: str
    protocol: str
    endpoint: str
    state: State = "disconnected"
    since: datetime = field(default_factory=utcnow)
    last_error: str | None = None
    reconnect_count: int = 0
    last_data_at: datetime | None = None
    ever_connected: bool = False
    dirty: bool = True

    def set(self, state: State, *, error: str | None = None) -> None:
        """Change state (the time of the change is kept); `error` replaces the last error."""
        if state != self.state:
            self.state = state
            self.since = utcnow()
        if error is not None:
            self.last_error = error
        self.dirty = True

    def connected(self) -> None:
        """The link is up (counts a reconnect when it was up before)."""
        if self.ever_connected:
            self.reconnect_count += 1
        self.ever_connected = True
        self.set("connected")

    def data(self) -> None:
        """Data arrived from the device."""
        self.last_data_at = utcnow()
        self.dirty = True


class LinkBook:
    """Every device's link state; `flush` writes the changed ones."""

    def __init__(self, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.links: dict[str, LinkState] = {}
        self.removed: set[str] = set()

    def add(self, device: str, protocol: str, endpoint: str) -> LinkState:
        """The state of a device, created when new (a re-added device keeps its counters)."""
        self.removed.discard(device)
        link = self.links.get(device)
        if link is None or link.protocol != protocol or link.endpoint != endpoint:
            link = LinkState(device=device, protocol=protocol, endpoint=endpoint)
            self.links[device] = link
        return link

    def remove(self, device: str) -> None:
        """A device left the configuration."""
        if self.links.pop(device, None) is not None:
            self.removed.add(device)

    async def flush(self, conn: psycopg.AsyncConnection) -> int:
        """Write changed states (and delete removed devices); returns rows written."""
        dirty = [link for link in self.links.values() if link.dirty]
        removed = sorted(self.removed)
        if not dirty and not removed:
            return 0
        async with conn.transaction(), conn.cursor() as cur:
            if dirty:
                await cur.executemany(
                    UPSERT,
                    [
                        (
                            self.gateway_id,
                            link.device,
                            link.protocol,
                            link.endpoint,
                            link.state,
                            link.since,
                            link.last_error,
                            link.reconnect_count,
                            link.last_data_at,
                        )
                        for link in dirty
                    ],
                )
            if removed:
                await cur.execute(
                    "DELETE FROM gateway_device_link WHERE gateway_id = %s AND device = ANY(%s)",
                    (self.gateway_id, removed),
                )
        for link in dirty:
            link.dirty = False
        self.removed.difference_update(removed)
        return len(dirty) + len(removed)
