"""One coordinator per device: connects, polls on schedule or streams, marks the device's signals
Bad while it is unreachable, reconnects with backoff, and logs an outage once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from gateway import quality
from gateway.backoff import Backoff
from gateway.connectors.base import Connector, DeviceRefused, LinkLost, PollGroup
from gateway.linkstate import LinkState
from gateway.pipeline import Pipeline
from gateway.pipeline.batcher import Ack
from gateway.records import Record, utcnow

log = logging.getLogger("gateway.device")

STABLE_S = 10.0  # a link that stayed up this long resets the backoff


class DeviceCoordinator:
    """Runs one connector until cancelled."""

    def __init__(
        self,
        *,
        name: str,
        connector: Connector,
        pipeline: Pipeline,
        link: LinkState,
        backoff: Backoff,
    ) -> None:
        self.name = name
        self.connector = connector
        self.pipeline = pipeline
        self.link = link
        self.backoff = backoff
        self.failures = 0
        self.stopping = False  # set before cancelling: no reconnect, no new poll
        self._down_since: float | None = None

    def emit(self, records: Sequence[Record], ack: Ack | None = None) -> None:
        """Publish records from this device."""
        if records:
            self.link.last_data_at = records[-1].gateway_ts
            self.link.dirty = True
        self.pipeline.submit(self.name, records, ack)

    async def run(self) -> None:
        """Connect, read, reconnect: forever (until the task is cancelled)."""
        try:
            while not self.stopping:
                self.link.set("disconnected")
                try:
                    await self.connector.connect()
                except LinkLost as err:
                    await self.connector.close()
                    self._failed(err)
                    await self._wait()
                    continue
                up_at = time.monotonic()
                self._connected()
                try:
                    await self._read()
                    raise LinkLost("the device closed the link")
                except* LinkLost as group:
                    if self.stopping:
                        # a read that failed while being cancelled must not turn the cancellation
                        # into a reconnect (TaskGroup reports the error instead). Not
                        # `Task.cancelling()`: a failing child task raises that too (3.11).
                        raise asyncio.CancelledError from None
                    lost = group.exceptions[0]
                    await self.connector.close()
                    if time.monotonic() - up_at >= STABLE_S:
                        self.backoff.reset()
                    self._failed(lost if isinstance(lost, LinkLost) else LinkLost(str(lost)))
                    await self._wait()
        finally:
            await self.connector.close()

    async def _read(self) -> None:
        groups = self.connector.poll_groups()
        if not groups:
            await self.connector.stream(self.emit)
            return
        async with asyncio.TaskGroup() as tasks:
            for group in groups:
                tasks.create_task(self._poll_loop(group), name=f"{self.name}-group{group.index}")

    async def _poll_loop(self, group: PollGroup) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not self.stopping:
            records = await self.connector.poll(group)
            self.emit(records)
            due += group.interval_s
            now = loop.time()
            if due < now:  # overran: skip the missed slots, keep the phase
                due += ((now - due) // group.interval_s + 1) * group.interval_s
            await asyncio.sleep(due - now)

    def _connected(self) -> None:
        if self._down_since is not None:
            log.info(
                "device reachable again",
                extra={
                    "device": self.name,
                    "attempts": self.failures,
                    "down_s": round(time.monotonic() - self._down_since, 3),
                },
            )
        self.failures = 0
        self._down_since = None
        self.link.connected()

    def _failed(self, err: LinkLost) -> None:
        reason = str(err) or type(err).__name__
        self.failures += 1
        self.link.set("backoff", error=reason)
        if self._down_since is None:
            self._down_since = time.monotonic()
            level = logging.ERROR if isinstance(err, DeviceRefused) else logging.WARNING
            log.log(
                level,
                "device unavailable; its signals are Bad until it returns",
                extra={"device": self.name, "endpoint": self.connector.endpoint, "error": reason},
            )
            self._mark_bad()
        else:
            log.debug("device still unavailable", extra={"device": self.name, "error": reason})

    def _mark_bad(self) -> None:
        now = utcnow()
        bad = [
            Record(spec.key, None, now, None, quality.BAD_NO_COMMUNICATION)
            for spec in self.connector.signals()
        ]
        if bad:
            self.pipeline.submit(self.name, bad)

    async def _wait(self) -> None:
        await asyncio.sleep(self.backoff.next())
