"""A small asyncio HTTP server for `/healthz` (JSON) and `/metrics` (Prometheus text)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger("gateway.http")


Health = Callable[[], dict[str, Any] | Awaitable[dict[str, Any]]]


class HealthServer:
    """Serves `/healthz` from `health()` and `/metrics` from `registry` (or from `render()`, an
    exposition gathered elsewhere, e.g. from worker processes)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry | None = None,
        health: Health,
        render: Callable[[], Awaitable[bytes]] | None = None,
    ) -> None:
        if registry is None and render is None:
            raise ValueError("a registry or a render function is needed")
        self.host = host
        self.port = port
        self.registry = registry
        self.health = health
        self.render = render
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (port 0 picks a free port; `port` is updated)."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, _, rest = request.decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path == "/metrics":
                status, ctype = "200 OK", CONTENT_TYPE_LATEST
                if self.render is not None:
                    body = await self.render()
                else:
                    assert self.registry is not None
                    body = generate_latest(self.registry)
            elif path == "/healthz":
                status, ctype = "200 OK", "application/json"
                health = self.health()
                if inspect.isawaitable(health):
                    health = await health
                body = orjson.dumps(health, option=orjson.OPT_INDENT_2)
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"try /healthz or /metrics\n"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head if method == "HEAD" else head + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
