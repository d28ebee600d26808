"""MQTT devices (paho-mqtt, driven by the asyncio loop: no thread per client).

Each MQTT machine is its own client (`knu-sim-<machine>`), with a retained birth `online` and a
last will `offline` on `<site>/<area>/<line>/<machine>/status`. Values go to
`<prefix>/<signal>` as `{"value", "ts", "q"}` at QoS 1, or, for signals marked `batch` and
whenever a tick holds more than `batch_threshold` values (e.g. at high speed), as one
`<prefix>/batch` message `{"ts", "values": [{"signal", "value", "ts", "q"}, ...]}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulators.faults import Fault, FaultBook
from simulators.model.plant import Sample
from simulators.model.timefmt import iso_ms, to_ms
from simulators.scenario.definitions import MachineDef, Scenario

log = logging.getLogger(__name__)
MAX_BATCH = 500  # values per batch message
MALFORMED = (
    b'{"value": 12.5, "ts": ',  # truncated JSON
    b'{"value": "n/a", "ts": "%s", "q": "good"}',  # not a number
    b'{"ts": "%s", "q": "good"}',  # no value
    b"\xff\xfe\x00garbage",  # not UTF-8
    b'{"value": 1.0, "ts": "yesterday", "q": "good"}',  # not a timestamp
)
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 5.0
FLUSH_ATTEMPTS = 50


@dataclass(frozen=True)
class MqttConnection:
    """Broker address and credentials."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


class MqttDevice:
    """One machine's client."""

    def __init__(
        self,
        machine: MachineDef,
        conn: MqttConnection,
        *,
        qos: int,
        keepalive: float,
        batch_threshold: int,
    ) -> None:
        self.machine = machine
        self.batch_threshold = batch_threshold
        self.conn = conn
        self.qos = qos
        self.keepalive = int(keepalive)
        self.prefix = machine.topic_prefix
        self.status_topic = f"{self.prefix}/status"
        self.batch_signals = frozenset(s.name for s in machine.signals if s.batch)
        self.connected = False
        self.allowed = True  # faults (restart, offline) keep the device disconnected
        self.reconnect_at = 0.0
        self.backoff = RECONNECT_MIN_S
        self.malformed_count = 0
        self.frozen: dict[str, float | int] = {}
        self.published = 0
        self.dropped = 0
        self._loop = asyncio.get_running_loop()
        self.client = self._client()

    def _client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"knu-sim-{self.machine.code}")
        client.will_set(self.status_topic, "offline", qos=1, retain=True)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        if self.conn.tls:
            client.tls_set()
        if self.conn.username:
            client.username_pw_set(self.conn.username, self.conn.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        return client

    # --- paho on asyncio -----------------------------------------------------------------------

    def _on_socket_open(self, client: mqtt.Client, _: Any, sock: Any) -> None:
        self._loop.add_reader(sock, client.loop_read)

    def _on_socket_close(self, client: mqtt.Client, _: Any, sock: Any) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)

    def _on_register_write(self, client: mqtt.Client, _: Any, sock: Any) -> None:
        self._loop.add_writer(sock, client.loop_write)

    def _on_unregister_write(self, client: mqtt.Client, _: Any, sock: Any) -> None:
        self._loop.remove_writer(sock)

    def _on_connect(self, client: mqtt.Client, _: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT %s: connection refused: %s", self.machine.code, reason)
            return
        self.connected = True
        self.backoff = RECONNECT_MIN_S
        client.publish(self.status_topic, "online", qos=1, retain=True)

    def _on_disconnect(
        self, client: mqtt.Client, _: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected = False
        self.reconnect_at = self._loop.time() + self.backoff
        self.backoff = min(RECONNECT_MAX_S, self.backoff * 2)

    def supervise(self) -> None:
        """Keepalive and reconnects; call about every second."""
        if self.client.socket() is not None:
            self.client.loop_misc()
        elif self.allowed and self._loop.time() >= self.reconnect_at:
            self.connect()

    def connect(self) -> None:
        """Open the connection (a refused connection is retried by `supervise`)."""
        try:
            self.client.connect(self.conn.host, self.conn.port, keepalive=self.keepalive)
        except OSError as err:
            log.info("MQTT %s: broker unreachable: %s", self.machine.code, err)
            self.reconnect_at = self._loop.time() + self.backoff
            self.backoff = min(RECONNECT_MAX_S, self.backoff * 2)

    def cut(self) -> None:
        """Lose the connection without a DISCONNECT (the broker sends the last will)."""
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Say offline and disconnect cleanly (what is queued is written before the socket goes)."""
        if self.connected:
            self.client.publish(self.status_topic, "offline", qos=1, retain=True)
            self.client.disconnect()
            for _ in range(FLUSH_ATTEMPTS):
                if self.client.socket() is None or not self.client.want_write():
                    break
                self.client.loop_write()
        sock = self.client.socket()
        if sock is not None:
            self._on_socket_close(self.client, None, sock)

    # --- values --------------------------------------------------------------------------------

    def send(
        self,
        values: list[tuple[float, str, float | int]],
        origin_s: float,
        faults: dict[str, Fault],
    ) -> None:
        """Publish one tick's values as single messages or batches."""
        if not values:
            return
        if not self.connected or "stall" in faults:
            self.dropped += len(values)
            return
        skew_ms = round(faults["skew"].params["skew_s"] * 1000) if "skew" in faults else 0
        quality = "bad" if "bad_quality" in faults else "good"
        batched = len(values) > self.batch_threshold
        singles: list[tuple[str, dict[str, Any]]] = []
        batch: list[dict[str, Any]] = []
        for t, name, value in values:
            value = self._fault_value(name, value, faults)
            record = {"value": value, "ts": iso_ms(to_ms(origin_s, t) + skew_ms), "q": quality}
            if batched or name in self.batch_signals:
                batch.append({"signal": name, **record})
            else:
                singles.append((name, record))
        malformed = "malformed" in faults
        for name, record in singles:
            payload = self._malformed(str(record["ts"])) if malformed else orjson.dumps(record)
            self.client.publish(f"{self.prefix}/{name}", payload, qos=self.qos)
        for start in range(0, len(batch), MAX_BATCH):
            chunk = batch[start : start + MAX_BATCH]
            if malformed:
                payload = self._malformed(str(chunk[-1]["ts"]))
            else:
                payload = orjson.dumps({"ts": chunk[-1]["ts"], "values": chunk})
            self.client.publish(f"{self.prefix}/batch", payload, qos=self.qos)
        self.published += len(values)

    def _fault_value(self, name: str, value: float | int, faults: dict[str, Fault]) -> float | int:
        if "freeze" in faults:
            return self.frozen.setdefault(name, value)
        self.frozen.pop(name, None)
        if "out_of_range" in faults and isinstance(value, float) and name != "cycle_time":
            sig = self.machine.signal(name)
            return sig.high + (sig.high - sig.low)
        return value

    def _malformed(self, ts: str) -> bytes:
        template = MALFORMED[self.malformed_count % len(MALFORMED)]
        self.malformed_count += 1
        return template.replace(b"%s", ts.encode()) if b"%s" in template else template


class MqttPublisher:
    """Every MQTT machine of the plant."""

    def __init__(
        self, scenario: Scenario, faults: FaultBook, conn: MqttConnection, origin_s: float
    ) -> None:
        self.scenario = scenario
        self.faults = faults
        self.conn = conn
        self.origin_s = origin_s
        self.devices: dict[int, MqttDevice] = {}
        self._task: asyncio.Task[None] | None = None
        faults.listeners.append(self._on_fault)

    async def start(self) -> None:
        """Create the clients and connect them."""
        spec = self.scenario.mqtt
        for m in self.scenario.by_protocol("mqtt"):
            device = MqttDevice(
                m,
                self.conn,
                qos=spec.qos,
                keepalive=spec.keepalive,
                batch_threshold=spec.batch_threshold,
            )
            self.devices[m.index] = device
            device.connect()
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    @property
    def connected(self) -> int:
        """Devices connected to the broker."""
        return sum(d.connected for d in self.devices.values())

    async def _supervise(self) -> None:
        while True:
            for device in self.devices.values():
                device.supervise()
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        """Disconnect every device cleanly (status offline)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for device in self.devices.values():
            device.close()

    def publish(self, samples: Iterable[Sample], names: list[list[list[str]]]) -> None:
        """Publish one tick's samples."""
        pending: dict[int, list[tuple[float, str, float | int]]] = {}
        for s in samples:
            if s.machine in self.devices:
                bucket = pending.setdefault(s.machine, [])
                bucket.extend(
                    (s.t, n, v) for n, v in zip(names[s.machine][s.group], s.values, strict=True)
                )
        for index, values in pending.items():
            device = self.devices[index]
            device.send(values, self.origin_s, self.faults.on_machine(device.machine.code))

    @property
    def values_published(self) -> int:
        """Values sent so far."""
        return sum(d.published for d in self.devices.values())

    def _on_fault(self, fault: Fault, active: bool) -> None:
        if fault.protocol != "mqtt" or fault.kind not in ("drop", "restart", "offline"):
            return
        for device in self.devices.values():
            if device.machine.code not in fault.machines:
                continue
            if active:
                device.allowed = fault.kind == "drop"
                device.cut()
            else:
                device.allowed = True
                device.reconnect_at = 0.0
