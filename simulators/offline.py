"""Run a scenario as fast as possible, without sockets: the series and the events to files.

Series lines: `{"t": 12.0, "ts": "...Z", "machine": "CNC-101", "values": {"state": 2, ...}}`,
one per machine and sample time (signals with their own rate get their own lines).
A path ending in `.gz` is written gzip-compressed.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from simulators.model.events import Event, EventLog
from simulators.model.plant import Plant
from simulators.model.timefmt import iso_ms, to_ms
from simulators.runinfo import run_start_event
from simulators.scenario.definitions import Scenario

CHUNK_S = 600.0


@dataclass(frozen=True)
class OfflineSummary:
    """What a run produced."""

    simulated_s: float
    sample_lines: int
    values: int
    events: int


class _Output:
    """A series file, gzip-compressed (reproducibly: no name, no mtime) for `.gz` paths."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = path.open("wb")
        self._gzip = (
            gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=5, mtime=0)
            if path.suffix == ".gz"
            else None
        )

    def write(self, data: bytes) -> None:
        (self._gzip or self._raw).write(data)

    def close(self) -> None:
        if self._gzip is not None:
            self._gzip.close()
        self._raw.close()


def run_offline(
    scenario: Scenario,
    seed: int,
    *,
    duration_s: float,
    origin: datetime,
    series_path: Path | None,
    events_path: Path | None,
    every_s: float | None = None,
    cycle_events: bool = True,
) -> OfflineSummary:
    """Simulate `duration_s` seconds; write series (optionally only every `every_s`) and events."""
    plant = Plant(scenario, seed, cycle_events=cycle_events)
    origin_s = origin.timestamp()
    log = EventLog(events_path, origin_s)
    log.write([run_start_event(scenario, seed, origin=origin, mode="offline", speed=None)])
    series = _Output(series_path) if series_path is not None else None
    lines = values = events = 0
    names = [[g.names for g in m.groups] for m in plant.machines]
    codes = [m.code for m in plant.machines]
    try:
        t = 0.0
        while t < duration_s:
            t = min(duration_s, t + CHUNK_S)
            samples = plant.advance(t)
            chunk: list[bytes] = []
            for s in samples:
                if every_s is not None and not _on_grid(s.t, every_s):
                    continue
                record = {
                    "t": round(s.t, 3),
                    "ts": iso_ms(to_ms(origin_s, s.t)),
                    "machine": codes[s.machine],
                    "values": dict(zip(names[s.machine][s.group], s.values, strict=True)),
                }
                chunk.append(orjson.dumps(record))
                values += len(s.values)
            lines += len(chunk)
            if series is not None and chunk:
                series.write(b"\n".join(chunk) + b"\n")
            events += len(log.write(plant.drain_events()))
        log.write([Event(plant.now, "run_end", None, {"reason": "duration reached"})])
    finally:
        log.close()
        if series is not None:
            series.close()
    return OfflineSummary(plant.now, lines, values, events)


def _on_grid(t: float, every: float) -> bool:
    """True when `t` is (within a millisecond) a multiple of `every`.

    >>> _on_grid(10.0, 5.0), _on_grid(10.1, 5.0), _on_grid(2.9999999, 1.0)
    (True, False, True)
    """
    k = round(t / every)
    return abs(t - k * every) < 0.001
