"""Minimal real protocol servers for the gateway tests: a pymodbus TCP server, an asyncua server
and an MQTT publisher, each on a free loopback port, each stoppable and restartable."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import paho.mqtt.client as mqtt
from asyncua import ua
from asyncua.server.server import Server
from paho.mqtt.enums import CallbackAPIVersion
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.support.net import LOOPBACK, free_port

FC = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}


def float32_registers(value: float) -> list[int]:
    """Big-endian float32 as two registers."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


@dataclass
class ModbusTestServer:
    """A Modbus TCP server with 1000 registers of each kind per unit id."""

    units: tuple[int, ...] = (1,)
    port: int = field(default_factory=free_port)
    size: int = 1000
    server: ModbusTcpServer | None = None
    _memory: dict[tuple[int, str, int], int | bool] = field(default_factory=dict)

    def _devices(self) -> list[SimDevice]:
        return [
            SimDevice(
                id=unit,
                simdata=(
                    [SimData(0, count=self.size, datatype=DataType.BITS)],
                    [SimData(0, count=self.size, datatype=DataType.BITS)],
                    [SimData(0, count=self.size, datatype=DataType.REGISTERS)],
                    [SimData(0, count=self.size, datatype=DataType.REGISTERS)],
                ),
            )
            for unit in self.units
        ]

    async def start(self) -> None:
        """Listen (again) on the same port, with the values last set."""
        self.server = ModbusTcpServer(self._devices(), address=(LOOPBACK, self.port))
        await self.server.serve_forever(background=True)
        for (unit, table, address), value in list(self._memory.items()):
            await self.server.async_setValues(unit, FC[table], address, [value])  # type: ignore[list-item]

    async def stop(self) -> None:
        """Close the listener and every client connection (the device is 'unplugged')."""
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None

    async def set(
        self, table: str, address: int, values: Iterable[int | bool], unit: int = 1
    ) -> None:
        """Write registers (or bits) into the server's memory."""
        vals = list(values)
        for n, value in enumerate(vals):
            self._memory[(unit, table, address + n)] = value
        if self.server is not None:
            await self.server.async_setValues(unit, FC[table], address, vals)  # type: ignore[arg-type]


@dataclass
class OpcuaTestServer:
    """An asyncua server with variables under Objects/Plant/<folder>/<name>."""

    uri: str = "urn:knu-mes:test"
    port: int = field(default_factory=free_port)
    server: Server | None = None
    ns: int = 0
    nodes: dict[str, Any] = field(default_factory=dict)
    layout: dict[str, dict[str, Any]] = field(default_factory=dict)  # folder -> name -> initial
    users: dict[str, str] | None = None
    security: tuple[Any, Any] | None = None  # (certificate path, private key path)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{LOOPBACK}:{self.port}/test/"

    async def start(self) -> None:
        """Create the address space and listen."""
        server = Server(user_manager=cast(Any, _Users(self.users)) if self.users else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        if self.security is not None:
            cert, key = self.security
            await server.load_certificate(str(cert))
            await server.load_private_key(str(key))
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        self.ns = await server.register_namespace(self.uri)
        plant = await server.nodes.objects.add_folder(self.ns, "Plant")
        self.nodes = {}
        for folder_name, variables in self.layout.items():
            folder = await plant.add_folder(self.ns, folder_name)
            for name, initial in variables.items():
                node_id = ua.NodeId(f"{folder_name}.{name}", self.ns)  # type: ignore[arg-type]
                var = await folder.add_variable(node_id, name, initial)
                self.nodes[f"{folder_name}.{name}"] = var
        await server.start()
        self.server = server

    async def stop(self) -> None:
        """Stop listening (clients see the connection drop)."""
        if self.server is not None:
            with contextlib.suppress(Exception):
                await self.server.stop()
            self.server = None

    async def write(
        self,
        path: str,
        value: Any,
        *,
        source_ts: datetime | None = None,
        status: int = 0,
        variant: ua.VariantType | None = None,
    ) -> None:
        """Set a variable's value, with a source timestamp and status code."""
        var = self.nodes[path]
        dv = ua.DataValue(
            ua.Variant(value, variant) if variant is not None else ua.Variant(value),
            StatusCode=ua.StatusCode(status),  # type: ignore[arg-type]
            SourceTimestamp=source_ts,  # type: ignore[arg-type]
            ServerTimestamp=source_ts,  # type: ignore[arg-type]
        )
        await var.write_value(dv)


class _Users:
    """User manager accepting the configured user names and passwords."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> Any:  # fmt: skip
        from asyncua.crypto.permission_rules import User, UserRole

        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


class Publisher:
    """A paho client publishing at QoS 1 to a broker (blocking calls, small volumes)."""

    def __init__(self, host: str, port: int, client_id: str = "test-publisher") -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(1000)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        """Publish and wait until the broker has it."""
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=30)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def publish_all(publisher: Publisher, items: list[tuple[str, bytes | str]]) -> None:
    """Publish messages without blocking the event loop."""

    def run() -> None:
        for topic, payload in items:
            publisher.publish(topic, payload)

    await asyncio.to_thread(run)
