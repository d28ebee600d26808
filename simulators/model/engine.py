"""The discrete-event core: a time-ordered queue of actions and the events they emit.

Actions at the same simulated time run in the order they were scheduled, so a run does not
depend on how the caller slices time (`advance(10)` == `advance(4); advance(10)`).
"""

from __future__ import annotations

import heapq
from enum import IntEnum
from typing import Any

from simulators.model.events import Event


class Kind(IntEnum):
    """What a queued action does."""

    SAMPLE = 0  # arg: sample group
    CYCLE_END = 1
    SETUP_END = 2
    REPAIR_START = 3  # down -> maintenance (repair)
    MAINTENANCE_END = 4
    MILESTONE = 5  # a running-time degradation milestone is due
    SCHEDULED = 6  # arg: wear index * 4 + phase; token: the wear's token
    PREVENTIVE = 7  # preventive maintenance is due


Entry = tuple[float, int, int, int, int, int]  # (t, seq, kind, machine, arg, token)


class Engine:
    """Queue of (time, action) and the list of events not yet collected."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[Entry] = []
        self._seq = 0
        self._events: list[Event] = []

    def schedule(self, t: float, kind: Kind, machine: int, arg: int = 0, token: int = 0) -> None:
        """Queue an action at simulated time `t` (never before now)."""
        self._seq += 1
        heapq.heappush(self._queue, (max(t, self.now), self._seq, int(kind), machine, arg, token))

    def pop_due(self, until: float) -> Entry | None:
        """The next action at or before `until`, advancing `now` to it."""
        if self._queue and self._queue[0][0] <= until:
            entry = heapq.heappop(self._queue)
            self.now = entry[0]
            return entry
        return None

    def emit(self, t: float, type_: str, machine: str | None = None, **data: Any) -> None:
        """Record an event."""
        self._events.append(Event(t, type_, machine, data))

    def drain_events(self) -> list[Event]:
        """Events since the last call, in order."""
        events, self._events = self._events, []
        return events
