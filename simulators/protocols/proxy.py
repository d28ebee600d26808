"""A TCP relay in front of a protocol server, so network faults can be injected at will:
drop every connection, stall traffic (bytes are held, clients time out), refuse connections
(a server that is down), and corrupt responses (malformed frames).

Clients connect to the public port; each connection gets its own connection to the server's
private port. With no fault active the relay only copies bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
CHUNK = 1 << 16


class _Link:
    """One client connection and its server-side partner."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.server: asyncio.StreamWriter | None = None

    def abort(self) -> None:
        for writer in (self.client, self.server):
            if writer is not None:
                writer.transport.abort()


class FaultProxy:
    """Listens on (host, port) and relays to the backend address given by `backend()`."""

    def __init__(
        self, name: str, host: str, port: int, backend: Callable[[], tuple[str, int]]
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.backend = backend
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.corrupt: Callable[[bytes], bytes] | None = None
        self.connections_total = 0
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        """True while connections are accepted."""
        return self._server is not None

    @property
    def connections(self) -> int:
        """Open client connections."""
        return len(self._links)

    async def start(self) -> None:
        """Listen on the public port (the port of the first start is kept across restarts)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        if self.port == 0:
            self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("%s listening on port %s", self.name, self.port)

    async def stop(self) -> None:
        """Stop listening and drop every connection (a server that went away)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.drop()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)

    def drop(self) -> None:
        """Abort every open connection (a cable pulled); new connections are accepted."""
        for link in list(self._links):
            link.abort()
        self._links.clear()

    def stall(self, on: bool) -> None:
        """Hold (on) or release (off) the bytes in both directions."""
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            await self._relay(reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(writer)
        self.connections_total += 1
        try:
            host, port = self.backend()
            server_reader, server_writer = await asyncio.open_connection(host, port)
        except OSError as err:
            log.warning("%s: backend unreachable: %s", self.name, err)
            writer.transport.abort()
            return
        link.server = server_writer
        self._links.add(link)
        try:
            await asyncio.gather(
                self._pump(reader, server_writer, corrupt=False),
                self._pump(server_reader, writer, corrupt=True),
            )
        finally:
            self._links.discard(link)
            link.abort()

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, corrupt: bool
    ) -> None:
        try:
            while data := await src.read(CHUNK):
                if not self._flowing.is_set():
                    await self._flowing.wait()
                if corrupt and self.corrupt is not None:
                    data = self.corrupt(data)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.transport.abort()
