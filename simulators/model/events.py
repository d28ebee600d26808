"""Ground-truth events and the JSONL event log (schema in docs/simulators.md).

Every line is one JSON object: `seq`, `t` (simulated seconds since the run's origin), `ts`
(RFC 3339 UTC), `type`, `machine` (absent for run-level events) and the type's fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from simulators.model.timefmt import iso_ms, to_ms

EVENT_TYPES = (
    "run_start",
    "state",
    "cycle",
    "failure_onset",
    "warning",
    "failure",
    "failure_averted",
    "maintenance_start",
    "maintenance_end",
    "alarm",
    "counter_reset",
    "counter_wrap",
    "command",
    "fault",
    "run_end",
)


@dataclass(frozen=True)
class Event:
    """Something that happened at simulated time `t`."""

    t: float
    type: str
    machine: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def record(self, seq: int, origin_s: float) -> dict[str, Any]:
        """The JSON object written to the log."""
        out: dict[str, Any] = {
            "seq": seq,
            "t": round(self.t, 3),
            "ts": iso_ms(to_ms(origin_s, self.t)),
            "type": self.type,
        }
        if self.machine is not None:
            out["machine"] = self.machine
        out.update(self.data)
        return out


class EventLog:
    """Appends events as JSON lines; `flush()` makes them visible to readers."""

    def __init__(self, path: Path | None, origin_s: float) -> None:
        self.path = path
        self.origin_s = origin_s
        self.seq = 0
        self._file: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("wb")

    def write(self, events: list[Event]) -> list[dict[str, Any]]:
        """Number, format and append `events`; returns the records."""
        records = []
        for event in events:
            self.seq += 1
            records.append(event.record(self.seq, self.origin_s))
        if self._file is not None and records:
            self._file.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
        return records

    def flush(self) -> None:
        """Push buffered lines to the file."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """The records of an event log, in order (a partly written last line is skipped)."""
    with path.open("rb") as handle:
        for line in handle:
            if line.endswith(b"\n"):
                yield orjson.loads(line)
