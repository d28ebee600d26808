"""Load generators for the gateway benchmarks, each in its own process (so they do not share the
measured process's CPU): an OPC UA server whose variables change at a rate, a Modbus server whose
registers change on every read, and an MQTT publisher of batched JSON payloads.

    python -m bench.gateway_servers opcua PORT VARIABLES HZ
    python -m bench.gateway_servers modbus PORT REGISTERS
    python -m bench.gateway_servers mqtt HOST PORT MESSAGES_PER_S VALUES SECONDS CLIENT_ID PREFIX
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from tests.support.net import LOOPBACK as LOOP_HOST  # benchmarks run on loopback only


async def opcua(port: int, variables: int, hz: float) -> None:
    """Variables Objects/Bench/v<n> (ns of urn:knu-mes:bench), all rewritten `hz` times a
    second with the current time as source timestamp."""
    from asyncua import ua
    from asyncua.server.server import Server

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://{LOOP_HOST}:{port}/bench/")
    ns = await server.register_namespace("urn:knu-mes:bench")
    folder = await server.nodes.objects.add_folder(ns, "Bench")
    nodes = [
        await folder.add_variable(ua.NodeId(f"v{n}", ns), f"v{n}", 0.0)  # type: ignore[arg-type]
        for n in range(variables)
    ]
    ids = [node.nodeid for node in nodes]
    async with server:
        print("READY", flush=True)
        tick = 0
        start = time.monotonic()
        while True:
            tick += 1
            now = datetime.now(UTC)
            for n, node_id in enumerate(ids):
                dv = ua.DataValue(
                    ua.Variant(float(tick * 10_000 + n), ua.VariantType.Double),
                    SourceTimestamp=now,  # type: ignore[arg-type]
                    ServerTimestamp=now,  # type: ignore[arg-type]
                )
                await server.write_attribute_value(node_id, dv)
            delay = start + tick / hz - time.monotonic()
            await asyncio.sleep(max(0.0, delay))


async def modbus(port: int, registers: int) -> None:
    """Holding registers 0..REGISTERS-1 of unit 1, each incremented on every read."""
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    async def bump(
        function_code: int, start: int, address: int, count: int, regs: list[int], values: Any
    ) -> None:
        if values is None:
            offset = address - start
            for i in range(offset, offset + count):
                regs[i] = (regs[i] + 1) & 0xFFFF

    device = SimDevice(
        id=1,
        simdata=([SimData(0, count=16, datatype=DataType.BITS)],
                 [SimData(0, count=16, datatype=DataType.BITS)],
                 [SimData(0, count=registers, datatype=DataType.REGISTERS)],
                 [SimData(0, count=16, datatype=DataType.REGISTERS)]),
        action=bump,
    )  # fmt: skip
    server = ModbusTcpServer([device], address=(LOOP_HOST, port))
    await server.serve_forever(background=True)
    print("READY", flush=True)
    await asyncio.Event().wait()


def mqtt(
    host: str, port: int, rate: float, values: int, seconds: float, client_id: str, prefix: str
) -> None:
    """Publish `rate` messages/s of `values` readings each (QoS 1) for `seconds`; the readings'
    timestamps are the publish time. Prints SENT <messages>."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    print("READY", flush=True)
    start = time.monotonic()
    sent = 0
    infos = []
    while time.monotonic() - start < seconds:
        if rate > 0:
            delay = start + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        payload = orjson.dumps(
            {
                "ts": now,
                "values": [{"signal": f"s{n}", "value": sent + n * 0.001} for n in range(values)],
            }
        )
        infos.append(client.publish(f"{prefix}/M{sent % 10}/batch", payload, qos=1))
        sent += 1
        if len(infos) > 2000:
            infos = [i for i in infos if not i.is_published()]
            while len(infos) > 1500:  # bounded backlog: the publisher never outruns the broker
                time.sleep(0.001)
                infos = [i for i in infos if not i.is_published()]
    for info in infos:
        info.wait_for_publish(timeout=60)
    print(f"SENT {sent}", flush=True)
    client.loop_stop()
    client.disconnect()


def main() -> None:
    kind, *args = sys.argv[1:]
    if kind == "opcua":
        asyncio.run(opcua(int(args[0]), int(args[1]), float(args[2])))
    elif kind == "modbus":
        asyncio.run(modbus(int(args[0]), int(args[1])))
    elif kind == "mqtt":
        mqtt(args[0], int(args[1]), float(args[2]), int(args[3]), float(args[4]), args[5],
             args[6])  # fmt: skip
    else:
        raise SystemExit(f"unknown load {kind!r}")


if __name__ == "__main__":
    main()
