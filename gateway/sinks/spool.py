"""Durable on-disk spool: one file per batch, written to a temporary name, fsynced and renamed,
bounded in bytes (the oldest batches are dropped, counted and logged)."""

from __future__ import annotations

import logging
import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("gateway.spool")

_NAME = re.compile(r"^(\d{16})-(\d+)\.batch$")


@dataclass(frozen=True)
class SpoolEntry:
    """One spooled batch."""

    seq: int
    rows: int
    size: int
    path: Path


@dataclass
class DropReport:
    """What an overflow dropped."""

    batches: int = 0
    rows: int = 0
    bytes: int = 0


class Spool:
    """Files `<seq>-<rows>.batch` in `directory`; oldest first."""

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "corrupt").mkdir(exist_ok=True)
        self._entries: deque[SpoolEntry] = deque()
        self._busy: set[int] = set()  # being replayed: never dropped underneath the reader
        self.bytes = 0
        self.rows = 0
        self._scan()
        self._next = (self._entries[-1].seq + 1) if self._entries else 1

    def _scan(self) -> None:
        for stale in self.directory.glob("*.tmp"):
            stale.unlink(missing_ok=True)  # an interrupted write: its batch was never acknowledged
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append(SpoolEntry(int(match[1]), int(match[2]), path.stat().st_size, path))
        for entry in sorted(found, key=lambda e: e.seq):
            self._entries.append(entry)
            self.bytes += entry.size
            self.rows += entry.rows

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def next_seq(self) -> int:
        """The sequence number the next appended batch gets."""
        return self._next

    def append(self, data: bytes, rows: int) -> DropReport:
        """Store one batch durably (fsync of file and directory); returns what overflow dropped.

        A batch larger than the whole spool is refused with OSError (nothing else is dropped).
        """
        if len(data) > self.max_bytes:
            raise OSError(f"batch of {len(data)} bytes exceeds the spool's max_bytes")
        dropped = self._make_room(len(data))
        seq = self._next
        self._next += 1
        final = self.directory / f"{seq:016d}-{rows}.batch"
        tmp = final.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        self._fsync_dir()
        self._entries.append(SpoolEntry(seq, rows, len(data), final))
        self.bytes += len(data)
        self.rows += rows
        return dropped

    def _make_room(self, size: int) -> DropReport:
        report = DropReport()
        while self.bytes + size > self.max_bytes:
            victim = next((e for e in self._entries if e.seq not in self._busy), None)
            if victim is None:
                break
            self._entries.remove(victim)
            victim.path.unlink(missing_ok=True)
            self.bytes -= victim.size
            self.rows -= victim.rows
            report.batches += 1
            report.rows += victim.rows
            report.bytes += victim.size
        return report

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def oldest(self) -> SpoolEntry | None:
        """The oldest batch, marked busy until `remove` or `release`."""
        if not self._entries:
            return None
        entry = self._entries[0]
        self._busy.add(entry.seq)
        return entry

    def read(self, entry: SpoolEntry) -> bytes:
        """The bytes of a spooled batch."""
        return entry.path.read_bytes()

    def release(self, entry: SpoolEntry) -> None:
        """Stop protecting `entry` (it stays spooled)."""
        self._busy.discard(entry.seq)

    def remove(self, entry: SpoolEntry) -> None:
        """Delete a batch that was committed (trims the spool)."""
        self._busy.discard(entry.seq)
        try:
            self._entries.remove(entry)
        except ValueError:
            return
        entry.path.unlink(missing_ok=True)
        self.bytes -= entry.size
        self.rows -= entry.rows

    def quarantine(self, entry: SpoolEntry) -> Path:
        """Move a corrupt batch aside (kept for inspection, no longer replayed)."""
        self._busy.discard(entry.seq)
        if entry in self._entries:
            self._entries.remove(entry)
            self.bytes -= entry.size
            self.rows -= entry.rows
        target = self.directory / "corrupt" / entry.path.name
        os.replace(entry.path, target)
        return target
