"""Report-by-exception: write a value when it changes beyond its deadband (or its quality
changes), and at least every heartbeat so an unchanged signal is still seen alive."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

from gateway.records import Deadband, Record, Value, utcnow


class _State:
    __slots__ = ("deadband", "heartbeat", "pending", "quality", "value", "written_at")

    def __init__(self, value: Value, quality: int, written_at: float) -> None:
        self.value = value
        self.quality = quality
        self.written_at = written_at
        self.pending: Record | None = None
        self.deadband: Deadband | None = None
        self.heartbeat: float | None = None


class ReportByException:
    """Per-signal filter state. `filter` passes changes; `due` yields heartbeat records.

    >>> from datetime import UTC, datetime
    >>> rbe = ReportByException(heartbeat_s=60)
    >>> rbe.set_deadband("a", Deadband(kind="absolute", value=1.0))
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> [r.value for r in rbe.filter([Record("a", t, t, 10.0, 0), Record("a", t, t, 10.5, 0),
    ...                               Record("a", t, t, 12.0, 0), Record("a", t, t, 12.0, -32768)])]
    [10.0, 12.0, 12.0]
    """

    def __init__(self, *, heartbeat_s: float) -> None:
        self.heartbeat_s = heartbeat_s
        self._states: dict[str, _State] = {}
        self._order: OrderedDict[str, None] = OrderedDict()  # oldest write first
        self._deadbands: dict[str, Deadband] = {}
        self._heartbeats: dict[str, float] = {}
        self._direct: set[str] = set()  # signals whose source reports by exception itself
        self._latest: dict[str, Record] = {}  # last record of each direct signal
        self.suppressed = 0

    def set_filtered(self, signal: str, filtered: bool) -> None:
        """Filter `signal`'s values (True), or pass them all and only add heartbeats (False)."""
        if filtered:
            self._direct.discard(signal)
            self._latest.pop(signal, None)
        else:
            self._direct.add(signal)
            self._states.pop(signal, None)
            self._order.pop(signal, None)

    def set_deadband(self, signal: str, deadband: Deadband | None) -> None:
        """Use `deadband` for `signal` (None: any change is written)."""
        if deadband is None:
            self._deadbands.pop(signal, None)
        else:
            self._deadbands[signal] = deadband
        state = self._states.get(signal)
        if state is not None:
            state.deadband = deadband

    def set_heartbeat(self, signal: str, heartbeat_s: float | None) -> None:
        """Per-signal heartbeat (None: the gateway's)."""
        if heartbeat_s is None:
            self._heartbeats.pop(signal, None)
        else:
            self._heartbeats[signal] = heartbeat_s
        state = self._states.get(signal)
        if state is not None:
            state.heartbeat = heartbeat_s

    def forget(self, signals: Iterable[str]) -> None:
        """Drop the state of signals no longer configured."""
        for signal in signals:
            self._direct.discard(signal)
            self._latest.pop(signal, None)
            self._states.pop(signal, None)
            self._order.pop(signal, None)
            self._deadbands.pop(signal, None)
            self._heartbeats.pop(signal, None)

    def filter(self, records: Iterable[Record]) -> list[Record]:
        """The records to write; the others are remembered for the heartbeat."""
        out: list[Record] = []
        states = self._states
        order = self._order
        direct = self._direct
        latest = self._latest
        now = time.monotonic()
        for record in records:
            if record.signal in direct:
                latest[record.signal] = record
                out.append(record)
                continue
            state = states.get(record.signal)
            if state is None:
                state = _State(record.value, record.quality, now)
                state.deadband = self._deadbands.get(record.signal)
                state.heartbeat = self._heartbeats.get(record.signal)
                states[record.signal] = state
                order[record.signal] = None
                out.append(record)
                continue
            value = record.value
            last = state.value
            if record.quality != state.quality or (
                value != last
                and (
                    state.deadband is None
                    or not isinstance(value, float)
                    or not isinstance(last, float)
                    or state.deadband.exceeded(last, value)
                )
            ):
                state.value = value
                state.quality = record.quality
                state.written_at = now
                state.pending = None
                order.move_to_end(record.signal)
                out.append(record)
            else:
                state.pending = record
                self.suppressed += 1
        return out

    def due(self, *, now: float | None = None, wall: datetime | None = None) -> list[Record]:
        """Heartbeat records for signals not written for their heartbeat interval."""
        now = time.monotonic() if now is None else now
        wall = wall or utcnow()
        shortest = min([self.heartbeat_s, *self._heartbeats.values()])
        out: list[Record] = []
        touched: list[str] = []
        for signal in self._order:
            state = self._states[signal]
            if state.written_at > now - shortest:
                break
            if state.written_at > now - (state.heartbeat or self.heartbeat_s):
                continue
            pending = state.pending
            if pending is not None:
                out.append(pending)
                state.value = pending.value
                state.quality = pending.quality
            else:
                out.append(Record(signal, None, wall, state.value, state.quality))
            state.pending = None
            state.written_at = now
            touched.append(signal)
        for signal in touched:
            self._order.move_to_end(signal)
        for signal, record in list(self._latest.items()):
            beat = self._heartbeats.get(signal, self.heartbeat_s)
            if (wall - record.gateway_ts).total_seconds() >= beat:
                again = Record(signal, None, wall, record.value, record.quality)
                self._latest[signal] = again
                out.append(again)
        return out
