"""Batches of records with size and time triggers, carrying the acknowledgements of their
sources (an MQTT message is acknowledged when the batch holding its data is durable)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.records import Record

Ack = Callable[[], None]


@dataclass(eq=False)
class Batch:
    """Records to write together, and what to acknowledge once they are committed or spooled."""

    seq: int
    records: list[Record] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    created: float = field(default_factory=time.monotonic)
    live: bool = True  # False for batches replayed from the spool

    def acknowledge(self) -> None:
        """The batch is durable: acknowledge its sources (in arrival order)."""
        acks, self.acks = self.acks, []
        for ack in acks:
            ack()


class Batcher:
    """Fills a batch; hands it to `deliver` when it has `max_rows` records, when its oldest entry
    is `max_delay` old, or when it carries acknowledgements and input paused for `idle`."""

    def __init__(
        self,
        *,
        max_rows: int,
        max_delay: float,
        deliver: Callable[[Batch], None],
        idle: float = 0.01,
    ) -> None:
        self.max_rows = max_rows
        self.max_delay = max_delay
        self.idle = idle
        self._deliver = deliver
        self._seq = itertools.count(1)
        self._batch = Batch(next(self._seq))
        self._deadline: asyncio.TimerHandle | None = None
        self._idle: asyncio.TimerHandle | None = None

    def add(self, records: list[Record], ack: Ack | None = None) -> None:
        """Append records (and the acknowledgement of the message that carried them)."""
        batch = self._batch
        if not batch.records and not batch.acks:
            batch.created = time.monotonic()
            self._deadline = asyncio.get_running_loop().call_later(self.max_delay, self.flush)
        if records:
            batch.records.extend(records)
        if ack is not None:
            batch.acks.append(ack)
        if len(batch.records) >= self.max_rows:
            self.flush()
        elif batch.acks:
            if self._idle is not None:
                self._idle.cancel()
            self._idle = asyncio.get_running_loop().call_later(self.idle, self.flush)

    @property
    def pending_rows(self) -> int:
        """Records in the batch being filled."""
        return len(self._batch.records)

    def flush(self) -> None:
        """Deliver the current batch now (nothing happens when it is empty)."""
        for handle in (self._deadline, self._idle):
            if handle is not None:
                handle.cancel()
        self._deadline = self._idle = None
        batch = self._batch
        if not batch.records and not batch.acks:
            return
        self._batch = Batch(next(self._seq))
        self._deliver(batch)
