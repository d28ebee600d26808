"""The control endpoint: a small HTTP/JSON server (stdlib asyncio) to inspect the running plant,
command machines and inject faults at run time.

    GET    /status                      run facts, servers, ports, counters
    GET    /machines                    every machine's state, counters and latest values
    GET    /machines/{code}             one machine
    POST   /machines/{code}/command     {"command": "stop"} | {"command": "setpoint", "value": 80}
                                        | {"command": "fail", "mode": "sudden", "response": 60,
                                           "duration": 300} | {"command": "maintain", ...}
    GET    /faults                      active and pending faults
    POST   /faults                      {"target": "modbus", "kind": "drop", "at": 0, "for": 10}
    DELETE /faults/{id}                 end one fault
    DELETE /faults                      end every fault
    PUT    /speed                       {"speed": 60}

Errors are `{"error": {"message": ..., "field": ...}}` with status 400 or 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20
REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


class HttpError(Exception):
    """An error answer: status, message and the offending field if any."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class Controllable(Protocol):
    """What the endpoint drives (the simulator runtime)."""

    def status(self) -> dict[str, Any]: ...
    def machines(self) -> list[dict[str, Any]]: ...
    def machine(self, code: str) -> dict[str, Any]: ...
    def command(self, code: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def faults(self) -> list[dict[str, Any]]: ...
    def add_fault(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def clear_fault(self, fault_id: int) -> dict[str, Any]: ...
    def clear_faults(self) -> list[dict[str, Any]]: ...
    def set_speed(self, body: dict[str, Any]) -> dict[str, Any]: ...


def route(target: Controllable, method: str, path: str, body: Any) -> tuple[int, Any]:
    """Dispatch one request; HttpError for bad requests."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if method != "GET" and method != "DELETE" and not isinstance(body, dict):
        raise HttpError(400, "the body must be a JSON object")
    match (method, parts):
        case ("GET", ["status"]):
            return 200, target.status()
        case ("GET", ["machines"]):
            return 200, target.machines()
        case ("GET", ["machines", code]):
            return 200, target.machine(code)
        case ("POST", ["machines", code, "command"]):
            return 200, target.command(code, body)
        case ("GET", ["faults"]):
            return 200, target.faults()
        case ("POST", ["faults"]):
            return 201, target.add_fault(body)
        case ("DELETE", ["faults"]):
            return 200, target.clear_faults()
        case ("DELETE", ["faults", fault_id]):
            if not fault_id.isdigit():
                raise HttpError(404, f"no fault {fault_id!r}")
            return 200, target.clear_fault(int(fault_id))
        case ("PUT", ["speed"]):
            return 200, target.set_speed(body)
        case (_, ["status" | "machines" | "faults" | "speed", *_]):
            raise HttpError(405, f"{method} is not allowed on {path}")
    raise HttpError(404, f"no such endpoint: {method} {path}")


class ControlServer:
    """HTTP/1.1, one request per connection, JSON in and out."""

    def __init__(self, target: Controllable, host: str, port: int) -> None:
        self.target = target
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        if self.port == 0:
            self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await asyncio.wait_for(self._answer(reader), 30)
        except HttpError as err:
            status, payload = err.status, {"error": {"message": err.message, "field": err.field}}
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        body = orjson.dumps(payload)
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        request = (await reader.readline()).decode("latin-1").split()
        if len(request) != 3:
            raise HttpError(400, "malformed request line")
        method, path = request[0].upper(), request[1]
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise HttpError(400, "bad Content-Length") from None
        if length > MAX_BODY:
            raise HttpError(413, "body too large")
        body: Any = None
        if length:
            raw = await reader.readexactly(length)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as err:
                raise HttpError(400, f"the body is not JSON: {err}") from None
        return route(self.target, method, path, body)
