"""A bounded MQTT load for fault tests: batches of values with unique timestamps, published at
a steady rate from a thread, remembering exactly what the broker acknowledged."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

BASE = datetime(2026, 1, 1, tzinfo=UTC)


class BatchLoad:
    """Publishes `messages` batch messages of `values` readings each on `topic`, `rate` per second.

    Reading n of message m has signal `<machine>.s<n>` and timestamp BASE + m ms (+ n us), so
    every published (signal, ts) is unique and the expected rows are known exactly."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        machine: str = "TEST-204",
        messages: int,
        values: int,
        rate: float,
        client_id: str,
    ) -> None:
        self.machine = machine
        self.messages = messages
        self.values = values
        self.rate = rate
        self.topic = f"KNU/ASSY/L2/{machine}/batch"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, port)
        self.client.loop_start()
        self.published = 0  # acknowledged by the broker
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop = False

    def ts(self, message: int, value: int) -> datetime:
        """Timestamp of one reading."""
        return BASE + timedelta(milliseconds=message, microseconds=value)

    def expected(self) -> set[tuple[str, datetime]]:
        """Every (signal key, ts) published."""
        return {
            (f"{self.machine}.s{n}", self.ts(m, n))
            for m in range(self.messages)
            for n in range(self.values)
        }

    def payload(self, m: int) -> bytes:
        return orjson.dumps(
            {
                "values": [
                    {
                        "signal": f"s{n}",
                        "value": float(m * 1000 + n),
                        "ts": self.ts(m, n).isoformat().replace("+00:00", "Z"),
                    }
                    for n in range(self.values)
                ]
            }
        )

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        pending = []
        for m in range(self.messages):
            if self._stop:
                break
            due = start + m / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pending.append(self.client.publish(self.topic, self.payload(m), qos=1))
            while pending and pending[0].is_published():
                pending.pop(0)
                self.published += 1
        for info in pending:
            info.wait_for_publish(timeout=120)
            self.published += 1

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("publisher did not finish")

    def close(self) -> None:
        self._stop = True
        self.client.loop_stop()
        self.client.disconnect()
