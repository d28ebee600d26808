"""How large a `scale` plant one core of simulator sustains at 1 Hz per signal, per protocol.

    python -m bench.sim_throughput [--protocols opcua,modbus,mqtt] [--window 20]

For each protocol, `mes sim --scenario scale --only <protocol>` runs pinned to CPU 0 with plants
of growing size (process signals at 1 Hz); a real client pinned to CPU 1 receives during a
window: an asyncua subscription to every process signal and a paho subscriber, both counting
the updates whose source timestamp falls in the window, and a pymodbus poller reading every
register twice a second and counting the values that changed. A size is sustained
when the client receives at least 98 % of the offered updates and the simulator's process uses
under 95 % of its core. The baseline, measured in the same run at the largest sustained size with
the same client, is the bare protocol stack publishing the same values (no model, no fault
proxy, no event log): the ratio shows what the simulator costs on top of its library.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import random
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psutil

from tests.support.envfile import load_env_sh
from tests.support.mosquitto import Broker, private_broker
from tests.support.net import LOOPBACK, free_port

NAME = "sim_throughput"
RESULTS = Path(__file__).resolve().parent / "results"
MES = str(Path(sys.executable).parent / "mes")
SIM_CPU, CLIENT_CPU = 0, 1  # with --pin
CLIENTS = {"opcua": 1, "modbus": 1, "mqtt": 1}  # client processes (shards of the signals)
TARGET = 10_000  # signal updates per second per protocol (issue 4)
RECEIVED_MIN = 0.98
CPU_MAX = 0.95
# (machines, process signals per machine) in increasing size
LADDER = {
    "opcua": [(25, 100), (50, 100), (100, 100), (150, 100), (200, 100)],
    "modbus": [(25, 200), (50, 200), (100, 200), (150, 200), (200, 200)],
    "mqtt": [(25, 200), (50, 200), (100, 200), (200, 200), (200, 400)],
}
STANDARD = 5  # state, counters, alarm, cycle time: not counted (they rarely change)
POLL_S = 0.5  # Modbus client: every unit twice per update period, so no update is missed
GRACE_S = 3.0  # after the window, updates stamped inside it may still arrive


@dataclass
class Run:
    """One measurement."""

    protocol: str
    kind: str  # simulator | baseline
    machines: int
    signals: int  # process signals in the plant (1 Hz each)
    offered_per_s: float
    received_per_s: float
    server_cpu: float  # cores used by the server process during the window
    busy_ratio: float | None  # simulator: share of the window spent in its tick loop
    max_tick_s: float | None
    startup_s: float
    failed: str | None = None

    @property
    def received_share(self) -> float:
        """Received / offered."""
        return self.received_per_s / self.offered_per_s if self.offered_per_s else 0.0

    @property
    def cpu_ms_per_1k(self) -> float:
        """Server CPU milliseconds per 1,000 updates."""
        return 1e6 * self.server_cpu / self.offered_per_s if self.offered_per_s else 0.0

    @property
    def one_core_estimate(self) -> float:
        """Updates per second one full core would sustain at this cost."""
        return self.offered_per_s / self.server_cpu if self.server_cpu else 0.0

    @property
    def sustained(self) -> bool:
        """The client got (almost) everything and the server's core was not saturated."""
        return self.received_share >= RECEIVED_MIN and self.server_cpu < CPU_MAX


# --- orchestration --------------------------------------------------------------------------------


PIN = False


def _pin(pid: int, cpu: int) -> None:
    if PIN and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(pid, {cpu})


def _status(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/status", timeout=30) as response:
        return dict(json.loads(response.read()))


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


class Client:
    """A benchmark client in its own process (see `client_main`)."""

    def __init__(self, protocol: str, spec: dict[str, Any]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.sim_throughput", "client", protocol, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        _pin(self.process.pid, CLIENT_CPU)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"{protocol} client failed to start: {line!r}")

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        assert self.process.stdout is not None and self.process.stdin is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        data = dict(json.loads(self.process.stdout.readline()))
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()  # the count is in; a client that hangs on exit is not the result
            self.process.wait(timeout=10)
        return data


def measure(
    protocol: str, kind: str, machines: int, signals: int, broker: Broker, window: float,
    workdir: Path,
) -> Run:  # fmt: skip
    """Start a server (simulator or baseline), attach the client, count for `window` seconds."""
    port, control = free_port(), free_port()
    env = {**os.environ, "MES_MQTT_PORT": str(broker.port), "MES_LOG_LEVEL": "WARNING"}
    if kind == "simulator":
        command = [
            MES, "sim", "--scenario", "scale", "--param", f"machines={machines}",
            "--param", f"signals={signals + STANDARD}", "--param", f"protocol={protocol}",
            "--param", "failures=false", "--only", protocol, "--speed", "1", "--seed", "1",
            "--opcua-port", str(port), "--modbus-port", str(port), "--control-port", str(control),
            "--event-log", str(workdir / "events.jsonl"), "--no-cycle-events",
        ]  # fmt: skip
    else:
        spec = {"machines": machines, "signals": signals, "port": port, "broker": broker.port}
        command = [
            sys.executable,
            "-m",
            "bench.sim_throughput",
            "baseline",
            protocol,
            json.dumps(spec),
        ]
    began = time.monotonic()
    log = (workdir / f"{kind}-{protocol}-{machines}x{signals}.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    _pin(server.pid, SIM_CPU)
    try:
        if kind == "simulator":
            _wait(lambda: _status(control)["ready"], 600, "the simulator")
        else:
            _wait(lambda: _ready_file(port), 600, "the baseline")
        startup = time.monotonic() - began
        shards = CLIENTS[protocol]
        clients = [
            Client(protocol, {"port": port, "broker": broker.port, "machines": machines,
                              "signals": signals, "shard": i, "shards": shards})
            for i in range(shards)
        ]  # fmt: skip
        time.sleep(5.0)  # warm-up: subscriptions primed, first polls done
        proc = psutil.Process(server.pid)
        cpu0, wall0 = sum(proc.cpu_times()[:2]), time.monotonic()
        busy0 = _status(control)["load"]["busy_s"] if kind == "simulator" else 0.0
        for client in clients:
            client.go()
        time.sleep(window)
        cpu1, wall1 = sum(proc.cpu_times()[:2]), time.monotonic()
        status = _status(control) if kind == "simulator" else None
        results = [client.result() for client in clients]
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        Path(tempfile.gettempdir(), f"sim-bench-baseline-{port}.ready").unlink(missing_ok=True)
    elapsed = wall1 - wall0
    return Run(
        protocol=protocol,
        kind=kind,
        machines=machines,
        signals=machines * signals,
        offered_per_s=float(machines * signals),
        received_per_s=sum(r["received"] / r["elapsed"] for r in results),
        server_cpu=(cpu1 - cpu0) / elapsed,
        busy_ratio=None if status is None else (status["load"]["busy_s"] - busy0) / elapsed,
        max_tick_s=None if status is None else status["load"]["max_tick_s"],
        startup_s=startup,
    )


def attempt(
    protocol: str, kind: str, machines: int, signals: int, broker: Broker, window: float,
    workdir: Path,
) -> Run:  # fmt: skip
    """`measure`, with a failure (a server that stops answering) recorded as nothing received."""
    try:
        return measure(protocol, kind, machines, signals, broker, window, workdir)
    except (OSError, TimeoutError, RuntimeError, ValueError, subprocess.SubprocessError) as err:
        print(f"{protocol} {kind} {machines}x{signals}: failed: {err}", file=sys.stderr)
        return Run(protocol, kind, machines, machines * signals, float(machines * signals), 0.0,
                   1.0, None, None, 0.0, failed=str(err))  # fmt: skip


def _ready_file(port: int) -> bool:
    return Path(tempfile.gettempdir(), f"sim-bench-baseline-{port}.ready").exists()


# --- clients --------------------------------------------------------------------------------------


def _control_lines() -> asyncio.Queue[str]:
    """stdin lines ("go", "stop") as an asyncio queue."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: queue.put_nowait(sys.stdin.readline().strip()))
    return queue


async def _count_window(counter: dict[str, float], grace: float = GRACE_S) -> None:
    """ready -> "go" opens the window -> "stop" closes it -> late arrivals for `grace` seconds
    -> print {"received", "elapsed"}: updates stamped inside the window and its length."""
    lines = _control_lines()
    print("ready", flush=True)
    await lines.get()
    counter["start"], counter["end"] = time.time(), float("inf")
    await lines.get()
    counter["end"] = time.time()
    await asyncio.sleep(grace)
    elapsed = counter["end"] - counter["start"]
    print(json.dumps({"received": counter["received"], "elapsed": elapsed}), flush=True)


def _in_window(counter: dict[str, float], stamp: float) -> bool:
    return counter["start"] <= stamp < counter["end"]


def keys(machines: int, signals: int) -> list[str]:
    """Process signal keys of a generated plant."""
    return [f"M{m + 1:05d}.p{s + 1:03d}" for m in range(machines) for s in range(signals)]


async def opcua_client(spec: dict[str, Any]) -> None:
    """An asyncua subscription to every process signal; counts the data changes in each
    decoded Publish response (asyncua's per-notification handler tasks would make the
    client, not the server, the bottleneck)."""
    from asyncua import ua
    from asyncua.client.client import Client as UaClient
    from asyncua.common.subscription import Subscription

    counter = {"received": 0.0, "start": float("inf"), "end": float("inf")}

    class Counting(Subscription):
        async def publish_callback(self, publish_result: ua.PublishResult) -> None:
            data = publish_result.NotificationMessage.NotificationData
            for notification in data or ():
                if isinstance(notification, ua.DataChangeNotification):
                    for item in notification.MonitoredItems:
                        ts = item.Value.SourceTimestamp
                        if ts is not None and _in_window(
                            counter, ts.replace(tzinfo=UTC).timestamp()
                        ):
                            counter["received"] += 1

    class Handler:
        def status_change_notification(self, status: Any) -> None:
            print(f"status change: {status}", file=sys.stderr)

    url = f"opc.tcp://{LOOPBACK}:{spec['port']}/knu-mes/"
    async with UaClient(url, timeout=30, watchdog_intervall=30) as client:
        ns = await client.get_namespace_index("urn:knu-mes:simulator")
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=500, RequestedLifetimeCount=10000,
            RequestedMaxKeepAliveCount=client.get_keepalive_count(500),
            MaxNotificationsPerPublish=0, PublishingEnabled=True, Priority=0,
        )  # fmt: skip
        subscription = Counting(client.uaclient.session, params, Handler())
        await subscription.init()
        mine = keys(spec["machines"], spec["signals"])[spec["shard"] :: spec["shards"]]
        nodes = [client.get_node(f"ns={ns};s={k}") for k in mine]
        for i in range(0, len(nodes), 1000):
            await subscription.subscribe_data_change(nodes[i : i + 1000], queuesize=4)
        await _count_window(counter)


async def modbus_client(spec: dict[str, Any]) -> None:
    from pymodbus.client import AsyncModbusTcpClient

    counter = {"received": 0.0, "start": float("inf"), "end": float("inf")}
    client = AsyncModbusTcpClient(LOOPBACK, port=spec["port"], timeout=10)
    await client.connect()
    registers = 8 + 2 * spec["signals"]
    previous: dict[int, list[int]] = {}

    async def poll() -> None:
        """Read every unit twice a second; count the values that changed."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            for unit in range(1, spec["machines"] + 1):
                words: list[int] = []
                for start in range(8, registers, 124):
                    count = min(124, registers - start)
                    response = await client.read_input_registers(start, count=count, device_id=unit)
                    words += response.registers
                before = previous.get(unit)
                if before is not None and _in_window(counter, time.time()):
                    counter["received"] += sum(
                        1 for i in range(0, len(words), 2) if words[i : i + 2] != before[i : i + 2]
                    )
                previous[unit] = words
            due += POLL_S
            await asyncio.sleep(max(0.0, due - loop.time()))

    task = asyncio.create_task(poll())
    try:
        await _count_window(counter, grace=0.0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # retrieved: no "never retrieved" noise
        client.close()


async def mqtt_client(spec: dict[str, Any]) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    counter = {"received": 0.0, "start": float("inf"), "end": float("inf")}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{os.getpid()}")
    stamps: dict[str, float] = {}

    def inside(ts: str) -> bool:
        if ts not in stamps:
            stamps[ts] = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        return _in_window(counter, stamps[ts])

    def on_message(c: Any, _: Any, msg: Any) -> None:
        if msg.topic.endswith("/status"):
            return
        data = orjson.loads(msg.payload)
        if "values" in data:
            counter["received"] += sum(
                1 for v in data["values"] if v["signal"].startswith("p") and inside(v["ts"])
            )
        elif msg.topic.rsplit("/", 1)[1].startswith("p") and inside(data["ts"]):
            counter["received"] += 1

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("KNU/#", qos=1)
    client.connect(LOOPBACK, spec["broker"])
    client.loop_start()
    try:
        await _count_window(counter)
    finally:
        client.loop_stop()


# --- bare protocol stacks (the baselines) -----------------------------------------------------


async def _tick_forever(update: Any, machines: int) -> None:
    """Call update(machine) for every machine once per second, spread over the second; a
    period that is over is skipped, not caught up (so no signal updates faster than 1 Hz)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    k = 0
    while True:
        for m in range(machines):
            due = start + k + m / machines
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await update(m)
        k = max(k + 1, int(loop.time() - start))


def _announce(port: int) -> None:
    Path(tempfile.gettempdir(), f"sim-bench-baseline-{port}.ready").touch()


async def opcua_baseline(spec: dict[str, Any]) -> None:
    from asyncua import ua
    from asyncua.server.server import Server
    from asyncua.ua.attribute_ids import AttributeIds

    from simulators.protocols.opcua import SharedDataValue, _Nodes, node_id, stamp, std
    from simulators.scenario.catalog import generic_signal

    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://{LOOPBACK}:{spec['port']}/knu-mes/")
    ns = await server.register_namespace("urn:knu-mes:simulator")
    nodes = _Nodes(ns)
    objects = std(85)
    names = [generic_signal(s + 1).name for s in range(spec["signals"])]
    for m in range(spec["machines"]):
        machine = node_id(f"M{m + 1:05d}", ns)
        nodes.obj(machine, f"M{m + 1:05d}", objects, False, 35)
        for name in names:
            nid = node_id(f"M{m + 1:05d}.{name}", ns)
            nodes.var(nid, name, machine, ua.Variant(0.0, ua.VariantType.Float), 10, 63)
    await server.iserver.isession.add_nodes(nodes.items)
    aspace = server.iserver.aspace
    ids = [[node_id(f"M{m + 1:05d}.{n}", ns) for n in names] for m in range(spec["machines"])]
    rng = random.Random(1)

    async def update(m: int) -> None:
        now = stamp(datetime.now(UTC))
        for nid in ids[m]:
            dv = SharedDataValue(ua.Variant(rng.random() * 100, ua.VariantType.Float),
                                 SourceTimestamp=now, ServerTimestamp=now)  # fmt: skip
            await aspace.write_attribute_value(nid, AttributeIds.Value, dv)

    async with server:
        _announce(spec["port"])
        await _tick_forever(update, spec["machines"])


async def modbus_baseline(spec: dict[str, Any]) -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    size = 8 + 2 * spec["signals"]
    images = {u: [0] * size for u in range(1, spec["machines"] + 1)}
    rng = random.Random(1)

    async def action(unit: int, fc: int, start: int, address: int, count: int,
                     registers: list[int], values: Any) -> None:  # fmt: skip
        offset = address - start
        registers[offset : offset + count] = images[unit][address : address + count]

    devices = [
        SimDevice(
            id=u,
            simdata=[SimData(0, count=size, values=0, datatype=DataType.REGISTERS)],
            action=functools.partial(action, u),
        )
        for u in images
    ]

    async def update(m: int) -> None:
        image = images[m + 1]
        for i in range(8, size, 2):
            image[i : i + 2] = struct.unpack(">HH", struct.pack(">f", rng.random() * 100))

    server = ModbusTcpServer(devices, address=(LOOPBACK, spec["port"]))
    await server.serve_forever(background=True)
    _announce(spec["port"])
    await _tick_forever(update, spec["machines"])


async def mqtt_baseline(spec: dict[str, Any]) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    clients = []
    for m in range(spec["machines"]):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"base-{m}")
        client.max_inflight_messages_set(1000)
        client.connect(LOOPBACK, spec["broker"])
        client.loop_start()
        clients.append(client)
    rng = random.Random(1)
    names = [f"p{s + 1:03d}" for s in range(spec["signals"])]

    async def update(m: int) -> None:
        ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        values = [{"signal": n, "value": rng.random() * 100, "ts": ts, "q": "good"} for n in names]
        for i in range(0, len(values), 500):
            payload = orjson.dumps({"ts": ts, "values": values[i : i + 500]})
            clients[m].publish(f"KNU/SCALE/S01/M{m + 1:05d}/batch", payload, qos=1)

    _announce(spec["port"])
    await _tick_forever(update, spec["machines"])


# --- report -----------------------------------------------------------------------------------


def table(rows: list[Run]) -> str:
    head = ["protocol", "server", "machines", "signals", "offered/s", "received/s", "received",
            "server cpu", "cpu ms/1k", "1-core est/s", "tick busy", "max tick s",
            "sustained"]  # fmt: skip
    cells = [head] + [
        [r.protocol, r.kind, str(r.machines), str(r.signals), f"{r.offered_per_s:,.0f}",
         f"{r.received_per_s:,.0f}", f"{r.received_share:.1%}", f"{r.server_cpu:.0%}",
         f"{r.cpu_ms_per_1k:.1f}", f"{r.one_core_estimate:,.0f}",
         "-" if r.busy_ratio is None else f"{r.busy_ratio:.0%}",
         "-" if r.max_tick_s is None else f"{r.max_tick_s:.2f}", "yes" if r.sustained else "no"]
        for r in rows
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1m": os.getloadavg()[0],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sim_throughput")
    parser.add_argument("--protocols", default="opcua,modbus,mqtt")
    parser.add_argument("--window", type=float, default=20.0, help="seconds counted per size")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (median reported)")
    parser.add_argument("--steps", type=int, default=len(LADDER["opcua"]), help="sizes at most")
    parser.add_argument("--pin", action="store_true", help="simulator on CPU 0, clients on CPU 1")
    args = parser.parse_args(argv)
    global PIN
    PIN = args.pin
    load_env_sh()
    rows: list[Run] = []
    summary: dict[str, Any] = {}
    workdir = Path(tempfile.mkdtemp(prefix="sim-bench-"))
    with private_broker() as broker:
        for protocol in args.protocols.split(","):
            best: Run | None = None
            for machines, signals in LADDER[protocol][: args.steps]:
                runs = [
                    attempt(protocol, "simulator", machines, signals, broker, args.window, workdir)
                    for _ in range(args.repeat)
                ]
                run = sorted(runs, key=lambda r: r.received_per_s)[len(runs) // 2]
                rows.append(run)
                print(table([run]).splitlines()[-1], flush=True)
                if not run.sustained:
                    break
                best = run
            size = best or rows[-1]
            base = attempt(protocol, "baseline", size.machines, size.signals // size.machines,
                           broker, args.window, workdir)  # fmt: skip
            rows.append(base)
            print(table([base]).splitlines()[-1], flush=True)
            summary[protocol] = {
                "largest_sustained_signals": best.signals if best else 0,
                "largest_sustained_updates_per_s": round(best.received_per_s) if best else 0,
                "target_per_s": TARGET,
                "meets_target": bool(best and best.received_per_s >= TARGET),
                "baseline_at_that_size": asdict(base),
                "received_ratio_vs_baseline": round(size.received_per_s / base.received_per_s, 3)
                if base.received_per_s else None,
                "cpu_ratio_vs_baseline": round(size.server_cpu / base.server_cpu, 3)
                if base.server_cpu else None,
            }  # fmt: skip
    print()
    print(table(rows))
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "benchmark": NAME,
        "date": datetime.now(UTC).isoformat(),
        "machine": machine_info(),
        "method": __doc__,
        "window_s": args.window,
        "runs": [
            asdict(r)
            | {
                "sustained": r.sustained,
                "cpu_ms_per_1k": round(r.cpu_ms_per_1k, 2),
                "one_core_estimate_per_s": round(r.one_core_estimate),
            }
            for r in rows
        ],
        "summary": summary,
        "median_received_share": statistics.median(r.received_share for r in rows),
    }
    (RESULTS / f"{NAME}.json").write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
    print(f"\nwrote {RESULTS / f'{NAME}.json'}")
    return 0


def client_main(protocol: str, spec: dict[str, Any]) -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)  # the client libraries' chatter is not the result
    runner = {"opcua": opcua_client, "modbus": modbus_client, "mqtt": mqtt_client}[protocol]
    asyncio.run(runner(spec))


def baseline_main(protocol: str, spec: dict[str, Any]) -> None:
    runner = {"opcua": opcua_baseline, "modbus": modbus_baseline, "mqtt": mqtt_baseline}[protocol]
    asyncio.run(runner(spec))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("client", "baseline"):
        target = client_main if sys.argv[1] == "client" else baseline_main
        target(sys.argv[2], json.loads(sys.argv[3]))
    else:
        sys.exit(main(sys.argv[1:]))
