"""Independent protocol clients for the simulator tests (asyncua, pymodbus, paho)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.net import LOOPBACK


@dataclass
class Message:
    """One received MQTT message."""

    topic: str
    payload: bytes
    retain: bool
    received: float

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return orjson.loads(self.payload)


@dataclass
class Subscriber:
    """A paho client (its own network thread) that records every message on `topics`."""

    port: int
    topics: list[str]
    host: str = LOOPBACK
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    client: mqtt.Client | None = None

    def __enter__(self) -> Subscriber:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-test-{id(self)}")
        connected = threading.Event()

        def on_connect(c: mqtt.Client, _: Any, flags: Any, reason: Any, props: Any) -> None:
            for topic in self.topics:
                c.subscribe(topic, qos=1)
            connected.set()

        def on_message(c: mqtt.Client, _: Any, msg: mqtt.MQTTMessage) -> None:
            with self.lock:
                self.messages.append(
                    Message(msg.topic, bytes(msg.payload), bool(msg.retain), time.time())
                )

        client.on_connect = on_connect
        client.on_message = on_message
        client.connect(self.host, self.port)
        client.loop_start()
        if not connected.wait(20):
            raise TimeoutError("MQTT subscriber did not connect")
        self.client = client
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()

    def snapshot(self) -> list[Message]:
        """Messages so far."""
        with self.lock:
            return list(self.messages)

    def wait(
        self, check: Callable[[list[Message]], bool], timeout: float, what: str
    ) -> list[Message]:
        """Poll until `check(messages)`; TimeoutError naming `what` otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.snapshot()
            if check(messages):
                return messages
            time.sleep(0.1)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
