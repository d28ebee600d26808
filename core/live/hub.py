"""Topic fan-out to WebSocket clients.

`Hub.publish` never waits: each client has one pending message per topic, and a newer message for
a topic still pending is merged into it (coalescing), so a slow client receives fewer, fresher
messages and never holds up the others. Each client's own sender task drains its pending
messages; a client whose send does not finish within `send_timeout` is dropped. Subscribing sends a
snapshot of the topic first; updates that arrive meanwhile are merged into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

Message = dict[str, Any]
Sender = Callable[[Message], Awaitable[None]]
SnapshotProvider = Callable[[str], Awaitable[dict[str, Any] | None]]

CLIENTS = Gauge("mes_ws_clients", "Connected WebSocket clients")
SENT = Counter("mes_ws_messages_sent_total", "Messages sent to WebSocket clients", ["type"])
COALESCED = Counter("mes_ws_messages_coalesced_total", "Updates merged into a pending message")
DROPPED = Counter("mes_ws_clients_dropped_total", "Clients dropped for being too slow")


def _newer(a: Any, b: Any) -> Any:
    """Of two values for one key, the one with the later `ts` (b when either has none)."""
    if isinstance(a, dict) and isinstance(b, dict) and "ts" in a and "ts" in b:
        return a if a["ts"] > b["ts"] else b
    return b


def merge(pending: Message, newer: Message) -> Message:
    """Coalesce two messages for one topic: `values` maps merge per key (the later `ts` wins),
    other data keys take the newer value; a pending snapshot stays a snapshot.

    >>> merge({"type": "snapshot", "data": {"values": {"a": 1, "b": 2}, "state": "idle"}},
    ...       {"type": "update", "data": {"values": {"b": 3}, "state": "running"}})
    {'type': 'snapshot', 'data': {'values': {'a': 1, 'b': 3}, 'state': 'running'}}
    >>> merge({"data": {"values": {"a": {"ts": 2, "v": 9}}}},
    ...       {"data": {"values": {"a": {"ts": 1, "v": 5}}}})["data"]
    {'values': {'a': {'ts': 2, 'v': 9}}}
    """
    old, new = pending.get("data") or {}, newer.get("data") or {}
    data = {**old, **new}
    if isinstance(old.get("values"), dict) and isinstance(new.get("values"), dict):
        values = dict(old["values"])
        for key, value in new["values"].items():
            values[key] = _newer(values[key], value) if key in values else value
        data["values"] = values
    extra = {k: v for k, v in newer.items() if k not in {"type", "data"}}
    return {**pending, **extra, "data": data}


class Client:
    """One connected socket's subscriptions and pending messages."""

    def __init__(self, hub: Hub, send: Sender, *, name: str) -> None:
        self.hub = hub
        self.name = name
        self._send = send
        self.topics: set[str] = set()
        self._pending: dict[str, Message] = {}
        self._held: dict[str, Message | None] = {}  # topics awaiting their snapshot
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self.dropped = False

    def offer(self, topic: str, message: Message) -> None:
        """Queue `message` for sending, merging it into a pending one for the same topic."""
        if self._closed.is_set():
            return
        if topic in self._held:  # the snapshot goes first; keep updates until it is queued
            held = self._held[topic]
            self._held[topic] = message if held is None else merge(held, message)
            return
        pending = self._pending.get(topic)
        if pending is None:
            self._pending[topic] = message
        else:
            self._pending[topic] = merge(pending, message)
            COALESCED.inc()
        self._ready.set()

    def hold(self, topic: str) -> None:
        """Keep updates of `topic` back until `release` (while its snapshot is read)."""
        self._held.setdefault(topic, None)

    def release(self, topic: str, snapshot: Message | None) -> None:
        """Queue the snapshot, then the updates held meanwhile merged on top of it."""
        held = self._held.pop(topic, None)
        if snapshot is not None:
            self.offer(topic, snapshot)
        if held is not None:
            self.offer(topic, held)

    def send_direct(self, message: Message) -> None:
        """Queue a message that is not about a topic (pong, errors, acks) in send order."""
        self.offer(f"\x00direct:{id(message)}", message)

    async def run(self) -> None:
        """Send pending messages until closed; drop the client if one send is too slow."""
        try:
            while not self._closed.is_set():
                await self._ready.wait()
                self._ready.clear()
                while self._pending and not self._closed.is_set():
                    topic = next(iter(self._pending))
                    message = self._pending.pop(topic)
                    try:
                        await asyncio.wait_for(self._send(message), timeout=self.hub.send_timeout)
                    except TimeoutError:
                        self.dropped = True
                        DROPPED.inc()
                        log.warning("dropping slow WebSocket client", extra={"client": self.name})
                        return
                    SENT.labels(message.get("type", "?")).inc()
        finally:
            self.close()

    def close(self) -> None:
        """Stop sending and leave every topic."""
        if not self._closed.is_set():
            self._closed.set()
            self._ready.set()
            self.hub.unregister(self)

    @property
    def closed(self) -> bool:
        """True once closed or dropped."""
        return self._closed.is_set()


class Hub:
    """Clients by topic, snapshot providers by topic prefix."""

    def __init__(self, *, send_timeout: float = 10.0) -> None:
        self.send_timeout = send_timeout
        self._subscribers: dict[str, set[Client]] = defaultdict(set)
        self._clients: set[Client] = set()
        self._providers: dict[str, SnapshotProvider] = {}

    def register(self, send: Sender, *, name: str = "") -> Client:
        """A new client; start `client.run()` as its sender task."""
        client = Client(self, send, name=name)
        self._clients.add(client)
        CLIENTS.set(len(self._clients))
        return client

    def unregister(self, client: Client) -> None:
        """Forget a client and its subscriptions."""
        for topic in client.topics:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(client)
                if not subscribers:
                    del self._subscribers[topic]
        client.topics.clear()
        self._clients.discard(client)
        CLIENTS.set(len(self._clients))

    def provide(self, prefix: str, provider: SnapshotProvider) -> None:
        """Register the snapshot provider for topics starting with `prefix`."""
        self._providers[prefix] = provider

    async def snapshot(self, topic: str) -> dict[str, Any] | None:
        """Current state of `topic` from its provider (None when it has none)."""
        for prefix, provider in self._providers.items():
            if topic.startswith(prefix):
                return await provider(topic)
        return None

    async def subscribe(self, client: Client, topics: Iterable[str]) -> None:
        """Subscribe, then queue each topic's snapshot (updates arriving meanwhile merge in)."""
        new = [t for t in topics if t not in client.topics]
        for topic in new:
            client.topics.add(topic)
            self._subscribers[topic].add(client)
            client.hold(topic)
        for topic in new:
            try:
                data = await self.snapshot(topic)
            except BaseException:
                client.release(topic, None)
                raise
            snapshot = None if data is None else {"type": "snapshot", "topic": topic, "data": data}
            client.release(topic, snapshot)

    def unsubscribe(self, client: Client, topics: Iterable[str]) -> None:
        """Leave topics."""
        for topic in topics:
            client.topics.discard(topic)
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(client)
                if not subscribers:
                    del self._subscribers[topic]

    def publish(self, topic: str, data: dict[str, Any]) -> int:
        """Offer an update to every subscriber of `topic`; returns how many. Never waits."""
        subscribers = self._subscribers.get(topic)
        if not subscribers:
            return 0
        message = {"type": "update", "topic": topic, "data": data}
        for client in list(subscribers):
            client.offer(topic, message)
        return len(subscribers)

    def subscribed(self, topic: str) -> bool:
        """True when some client listens to `topic`."""
        return bool(self._subscribers.get(topic))

    def topics(self) -> list[str]:
        """Every topic with at least one subscriber."""
        return list(self._subscribers)

    async def resnapshot(self) -> None:
        """Send every subscriber a fresh snapshot of its topics (after the feed was interrupted)."""
        for topic in list(self._subscribers):
            data = await self.snapshot(topic)
            if data is None:
                continue
            for client in list(self._subscribers.get(topic, ())):
                client.offer(topic, {"type": "snapshot", "topic": topic, "data": data})

    async def close(self) -> None:
        """Close every client."""
        for client in list(self._clients):
            client.close()
        with contextlib.suppress(Exception):
            await asyncio.sleep(0)
