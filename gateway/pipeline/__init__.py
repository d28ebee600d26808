"""normalise -> report-by-exception -> batch, in front of the sinks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from gateway.pipeline.batcher import Ack, Batch, Batcher
from gateway.pipeline.rbe import ReportByException
from gateway.records import Record

__all__ = ["Ack", "Batch", "Batcher", "Pipeline", "ReportByException"]


class Pipeline:
    """What connectors publish into: records pass report-by-exception, then the batcher."""

    def __init__(self, *, rbe: ReportByException, batcher: Batcher) -> None:
        self.rbe = rbe
        self.batcher = batcher
        self.points_in: Counter[str] = Counter()  # per device
        self.listeners: list[Callable[[str, int], None]] = []

    def submit(self, device: str, records: Sequence[Record], ack: Ack | None = None) -> None:
        """Take records from `device`; `ack` runs once their batch is committed or spooled."""
        if records:
            self.points_in[device] += len(records)
            passed = self.rbe.filter(records)
        else:
            passed = []
        self.batcher.add(passed, ack)

    def heartbeat(self) -> int:
        """Write the signals whose heartbeat is due; returns how many."""
        due = self.rbe.due()
        if due:
            self.batcher.add(due)
        return len(due)
