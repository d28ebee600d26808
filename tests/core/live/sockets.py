"""A WebSocket client of `/ws` speaking the live protocol, and an in-process server with its
lifespan (so the live runtime runs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from tests.support.net import LOOPBACK, free_port

Message = dict[str, Any]


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` with its lifespan on a free port until the live listener is connected;
    yields `host:port`."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=LOOPBACK, port=port, lifespan="on", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not (server.started and app.state.live.listener.connected.is_set()):
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        if time.monotonic() > deadline:
            raise TimeoutError("the server or its live listener did not start in 30 s")
        await asyncio.sleep(0.05)
    try:
        yield f"{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        await task


class LiveClient:
    """An authenticated `/ws` connection that reads continuously (it is never a slow client)
    and keeps what it received."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[Message] = []
        self.inbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        address: str,
        token: str,
        *,
        renew: Callable[[], str] | None = None,
        renew_every: float = 60.0,
    ) -> AsyncIterator[LiveClient]:
        """Connect, authenticate, expect `welcome`, then read in the background; with `renew`,
        send a fresh token of the same user every `renew_every` seconds (as the UI does), so a
        session may outlive one access token."""
        async with connect(f"ws://{address}/ws", max_size=None) as ws:
            client = cls(ws)
            await client.send({"type": "auth", "token": token})
            welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout=15))
            assert welcome["type"] == "welcome", welcome
            tasks = [asyncio.create_task(client._read())]
            client._reader = tasks[0]
            if renew is not None:
                tasks.append(asyncio.create_task(client._renew(renew, renew_every)))
            try:
                yield client
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _renew(self, renew: Callable[[], str], every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self.send({"type": "auth", "token": await asyncio.to_thread(renew)})

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                message = json.loads(text)
                assert isinstance(message, dict)
                self.inbox.put_nowait(message)
        finally:
            self.inbox.put_nowait(None)  # the socket is closed

    async def send(self, message: Message) -> None:
        """Send one JSON message."""
        await self.ws.send(json.dumps(message))

    async def next(self, within: float = 15) -> Message:
        """The next message (ConnectionError once the socket is closed)."""
        message = await asyncio.wait_for(self.inbox.get(), timeout=within)
        if message is None:
            self.inbox.put_nowait(None)
            raise ConnectionError(f"the socket closed: {self.ws.close_code} {self.ws.close_reason}")
        self.received.append(message)
        return message

    async def until(self, kind: str, topic: str | None = None, within: float = 30) -> Message:
        """Skip messages until one of `kind` (and `topic`) arrives."""
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind} {topic or ''} within {within} s")
            message = await self.next(left)
            if message["type"] == kind and (topic is None or message.get("topic") == topic):
                return message

    async def subscribe(self, *topics: str) -> list[Message]:
        """Subscribe; the acknowledgement, errors and one snapshot per accepted topic."""
        await self.send({"type": "subscribe", "topics": list(topics)})
        got: list[Message] = []
        accepted: list[str] | None = None
        snapshots: set[str] = set()
        while accepted is None or snapshots != set(accepted):
            message = await self.next()
            got.append(message)
            if message["type"] == "subscribed":
                accepted = list(message["topics"])
            elif message["type"] == "snapshot":
                snapshots.add(message["topic"])
            elif message["type"] == "error" and len(
                [m for m in got if m["type"] == "error"]
            ) == len(topics):
                break
        return got
