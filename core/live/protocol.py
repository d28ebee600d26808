"""The live protocol on `/ws` after `welcome` (docs/live.md).

Client -> server: `{"type": "subscribe", "topics": [...]}`, `{"type": "unsubscribe",
"topics": [...]}`, `{"type": "ping"}` (and `auth` renewals, handled by core.auth.websocket).
Server -> client: `subscribed` / `unsubscribed` acknowledgements, then per topic a `snapshot`
followed by `update`s; `error` for unknown topics or messages; `pong`.

Everything a connection is sent after its first subscription goes through its hub client, one
message at a time in order, so replies never interleave with updates.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocketDisconnect

from core.auth.websocket import CLOSE_TRY_AGAIN_LATER, AuthenticatedSocket, Message

if TYPE_CHECKING:
    from core.live.hub import Client
    from core.live.runtime import LiveRuntime

MAX_TOPICS = 100


class LiveConnection:
    """One authenticated socket's subscriptions."""

    def __init__(self, runtime: LiveRuntime | None) -> None:
        self.runtime = runtime
        self.client: Client | None = None
        self._pump: asyncio.Task[None] | None = None

    async def reply(self, socket: AuthenticatedSocket, message: Message) -> None:
        """Send a reply in order with the updates (through the hub client once there is one)."""
        if self.client is not None:
            self.client.send_direct(message)
        else:
            await socket.send(message)

    async def handle(self, socket: AuthenticatedSocket, message: Message) -> None:
        """Answer one client message."""
        kind = message.get("type")
        if kind == "ping":
            await self.reply(socket, {"type": "pong"})
        elif kind in ("subscribe", "unsubscribe"):
            await self._topics(socket, kind, message.get("topics"))
        else:
            await self.reply(
                socket,
                {
                    "type": "error",
                    "code": "unknown_message",
                    "message": f"unknown message type {kind!r}",
                },
            )

    async def _topics(self, socket: AuthenticatedSocket, kind: str, topics: Any) -> None:
        if not isinstance(topics, list) or not topics or len(topics) > MAX_TOPICS:
            await self.reply(
                socket,
                {"type": "error", "code": "bad_request",
                 "message": f"`topics` is a list of 1 to {MAX_TOPICS} topic names"},
            )  # fmt: skip
            return
        if self.runtime is None:
            await self.reply(
                socket,
                {"type": "error", "code": "unavailable", "message": "live updates are not running"},
            )
            return
        client = self._client(socket)
        if kind == "unsubscribe":
            names = [t for t in topics if isinstance(t, str)]
            self.runtime.hub.unsubscribe(client, names)
            client.send_direct({"type": "unsubscribed", "topics": names})
            return
        good: list[str] = []
        for topic in dict.fromkeys(t if isinstance(t, str) else repr(t) for t in topics):
            problem = await self.runtime.topics.problem(topic)
            if problem is None:
                good.append(topic)
            else:
                client.send_direct(
                    {"type": "error", "code": "unknown_topic", "topic": topic, "message": problem}
                )
        if good:
            client.send_direct({"type": "subscribed", "topics": good})
            await self.runtime.hub.subscribe(client, good)

    def _client(self, socket: AuthenticatedSocket) -> Client:
        assert self.runtime is not None
        if self.client is None:
            name = socket.principal.username
            self.client = self.runtime.hub.register(socket.send, name=name)
            self._pump = asyncio.create_task(self._run(socket, self.client))
        return self.client

    @staticmethod
    async def _run(socket: AuthenticatedSocket, client: Client) -> None:
        try:
            await client.run()
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the socket went away while sending; the reader ends the connection
        if client.dropped:
            await socket.close(CLOSE_TRY_AGAIN_LATER, "too slow to keep up; reconnect")

    async def close(self) -> None:
        """Leave every topic and stop sending."""
        if self.client is not None:
            self.client.close()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
