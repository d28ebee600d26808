"""Per-process cache of explosion and where-used answers, invalidated through the database.

Each API process keeps its own LRU of encoded JSON answers. An entry records the value of the
`bom_generation` counter it was computed under; triggers give the counter a new, never reused
value in every statement that changes what an answer reads (a BOM version or its lines, an
item's code, name or unit, a deleted item) and record which items it changed (`bom_change`,
migration 0111, used by core.bom.structures). A request reads the counter first (one
primary-key lookup) and uses an entry only when the counter still has that value, so a change
committed through any process invalidates every process's entries. The data read after the
counter is at least as new as the counter's value, never older.

Concurrent misses of one key under one generation share a single computation: the first caller
computes, the others await its answer (or its error). A burst of readers right after a BOM
change costs one explosion per process, not one per reader.

Answers are refreshed ahead of their readers: a serving process checks the generation every
`bom_cache_refresh_s` and, once a change has been quiet for one check, recomputes the answers
read in the last `RECENT_S` (at most `REFRESH_MAX` of them, each through the same shared
computation a reader would join), so the first read after an engineering change is a hit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import orjson
from fastapi import FastAPI
from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

GENERATION_SQL = text("SELECT value FROM bom_generation WHERE id = 1")
RECENT_S = 600.0  # answers read within this many seconds are refreshed after a change
REFRESH_MAX = 8  # answers refreshed per change, most recently read first
MAX_BACKOFF_S = 5.0  # longest pause between checks while the database is unreachable

STRUCTURES_MAX = 16  # unit explosions kept per process (answers for any quantity scale from one)

ANSWERS = Counter(
    "mes_bom_answers_total",
    "Explosion and where-used answers by how they were obtained: hit (cached), computed (by the "
    "reader), shared (another reader's computation), refreshed (recomputed ahead of readers)",
    ["outcome"],
)
STRUCTURES = Counter(
    "mes_bom_structures_total",
    "Unit explosions (what explosion answers of any quantity are scaled from) by how they were "
    "obtained: hit (cached), kept (no item of theirs changed since), patched (changed subtrees "
    "walked again), other_day (another day's, with the same BOM versions), computed (walked "
    "whole), shared (another caller's walk or patch)",
    ["outcome"],
)
T = TypeVar("T")

Compute = Callable[[AsyncSession], Awaitable[Any]]
"""Computes a JSON-ready answer with the session it is given."""


async def generation(session: AsyncSession) -> int:
    """The current BOM generation as this transaction sees it."""
    value = await session.scalar(GENERATION_SQL)
    if value is None:
        raise RuntimeError("bom_generation has no row: the database is not migrated to 0108")
    return int(value)


@dataclass(slots=True)
class Entry(Generic[T]):
    """A value (an encoded answer), the generation it was computed under, how to compute it
    again and when it was last read (`time.monotonic()`). A stale entry keeps its place and
    recipe, not its value."""

    generation: int
    body: T | None
    compute: Compute | None = None
    read_at: float = 0.0


class ResultCache(Generic[T]):
    """A bounded LRU of values (encoded answers, or unit explosions) keyed by every parameter
    they depend on; 0 entries disables it. `metric` counts them by outcome.

    `hits` and `misses` count lookups (misses include stale entries found).
    """

    def __init__(self, entries: int, metric: Counter = ANSWERS) -> None:
        if entries < 0:
            raise ValueError(f"entries must be >= 0, not {entries}")
        self.capacity = entries
        self.metric = metric
        self.hits = 0
        self.misses = 0
        self.shared = 0  # misses answered by another caller's computation
        self.refreshed = 0  # answers recomputed ahead of their readers
        self._entries: OrderedDict[Hashable, Entry[T]] = OrderedDict()
        self._computing: dict[tuple[Hashable, int], asyncio.Future[T]] = {}

    @property
    def enabled(self) -> bool:
        """Whether answers are kept at all."""
        return self.capacity > 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def get(self, key: Hashable, current: int) -> T | None:
        """The value for `key` if it was computed under generation `current`; a read either way
        (a stale entry drops its value and keeps its recipe for the refresh)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.read_at = time.monotonic()
            self._entries.move_to_end(key)
        if entry is None or entry.generation != current or entry.body is None:
            if entry is not None:
                entry.body = None
            self.misses += 1
            return None
        self.hits += 1
        self.metric.labels("hit").inc()
        return entry.body

    def peek(self, key: Hashable, current: int) -> tuple[int, T] | None:
        """The value kept for `key` and its generation, also an older generation's (for the
        caller to validate): a read, counted as a hit when it is of `current` or newer."""
        entry = self._entries.get(key)
        if entry is None or entry.body is None:
            self.misses += 1
            return None
        entry.read_at = time.monotonic()
        self._entries.move_to_end(key)
        if entry.generation >= current:
            self.hits += 1
            self.metric.labels("hit").inc()
        else:
            self.misses += 1
        return entry.generation, entry.body

    def values(self, current: int) -> list[tuple[Hashable, T]]:
        """The keys and values kept under generation `current` or newer (not counted as reads)."""
        return [
            (key, entry.body)
            for key, entry in self._entries.items()
            if entry.body is not None and entry.generation >= current
        ]

    def fresh(self, key: Hashable, current: int) -> bool:
        """Whether `key` holds an answer of generation `current` (not counted as a read)."""
        entry = self._entries.get(key)
        return entry is not None and entry.body is not None and entry.generation == current

    def put(self, key: Hashable, current: int, body: T, compute: Compute | None = None) -> None:
        """Keep a value computed under generation `current`, evicting the least recently used."""
        if not self.enabled:
            return
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = Entry(current, body, compute, time.monotonic())
        else:
            entry.generation, entry.body = current, body
            entry.compute = compute or entry.compute
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def due(self, current: int, now: float | None = None) -> list[tuple[Hashable, Compute]]:
        """Stale answers read within `RECENT_S`, the most recently read first, at most
        `REFRESH_MAX`: what a refresh recomputes."""
        now = time.monotonic() if now is None else now
        out: list[tuple[Hashable, Compute]] = []
        for key, entry in reversed(self._entries.items()):
            if now - entry.read_at > RECENT_S or len(out) == REFRESH_MAX:
                break  # entries are in read order: the rest were read earlier
            if entry.compute is not None and (entry.body is None or entry.generation != current):
                out.append((key, entry.compute))
        return out

    async def refresh(
        self: ResultCache[bytes],
        sessions: async_sessionmaker[AsyncSession],
        now: float | None = None,
    ) -> int:
        """Recompute the answers `due` under the current generation; returns how many were
        computed here. An answer that can no longer be computed (its item or BOM is gone) is
        dropped."""
        async with sessions() as session:
            due = self.due(await generation(session), now)
        computed = 0
        for key, compute in due:
            async with sessions() as session:
                current = await generation(session)
                if key not in self._entries or self.fresh(key, current):
                    continue  # evicted, or a reader computed it meanwhile
                try:
                    await self.computed(
                        key,
                        current,
                        partial(_encoded, compute, session),
                        compute,
                        outcome="refreshed",
                    )
                except Exception as err:  # noqa: BLE001 - a reader gets the error itself
                    log.info("BOM answer %r not refreshed, dropped: %s", key, err)
                    self._entries.pop(key, None)
                else:
                    computed += 1
        self.refreshed += computed
        return computed

    async def computed(
        self,
        key: Hashable,
        current: int,
        compute: Callable[[], Awaitable[T]],
        recipe: Compute | None = None,
        *,
        outcome: str = "computed",
    ) -> T:
        """`compute()`'s value for `key` under generation `current`, kept (with `recipe`, how to
        compute it again); a caller arriving while the same value is being computed awaits that
        computation instead."""
        flight = (key, current)
        pending = self._computing.get(flight)
        if pending is not None:
            try:
                body = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this caller was cancelled
                # the computing caller was cancelled: compute here instead
            else:
                self.shared += 1
                self.metric.labels("shared").inc()
                return body
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)
        self._computing[flight] = future
        try:
            body = await compute()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as err:
            future.set_exception(err)
            raise
        finally:
            if self._computing.get(flight) is future:
                del self._computing[flight]
        future.set_result(body)
        self.put(key, current, body, recipe)
        self.metric.labels(outcome).inc()
        return body

    def clear(self) -> None:
        """Drop every entry (counters are kept)."""
        self._entries.clear()


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark an error as seen when no other caller was waiting for it."""
    if not future.cancelled():
        future.exception()


def for_app(app: FastAPI) -> ResultCache[bytes]:
    """The app's answer cache, created on first use with `bom_cache_entries` from its settings."""
    cache: ResultCache[bytes] | None = getattr(app.state, "bom_cache", None)
    if cache is None:
        cache = ResultCache(app.state.settings.bom_cache_entries)
        app.state.bom_cache = cache
    return cache


def structures_for_app(app: FastAPI) -> ResultCache[Any]:
    """The app's cache of unit explosions (`core.bom.structures.Kept`): at most
    `STRUCTURES_MAX`, none when answers are not kept (`bom_cache_entries` 0)."""
    cache: ResultCache[Any] | None = getattr(app.state, "bom_structures", None)
    if cache is None:
        entries = min(app.state.settings.bom_cache_entries, STRUCTURES_MAX)
        cache = ResultCache(entries, STRUCTURES)
        app.state.bom_structures = cache
    return cache


async def cached_json(
    cache: ResultCache[bytes], session: AsyncSession, key: Hashable, compute: Compute
) -> bytes:
    """The JSON encoding of `compute(session)`'s JSON-ready result (or its bytes, if it encoded
    them), from the cache when still valid.

    Errors raised by `compute` are not cached; callers that were sharing the computation get
    the same error.
    """
    if not cache.enabled:
        return await _encoded(compute, session)
    current = await generation(session)
    body = cache.get(key, current)
    if body is not None:
        return body
    return await cache.computed(key, current, partial(_encoded, compute, session), compute)


async def _encoded(compute: Compute, session: AsyncSession) -> bytes:
    """`compute(session)`'s answer as JSON (an answer already encoded is used as it is)."""
    answer = await compute(session)
    return answer if isinstance(answer, bytes) else orjson.dumps(answer)


async def refresh_loop(
    cache: ResultCache[bytes], sessions: async_sessionmaker[AsyncSession], interval: float
) -> None:
    """Check the generation every `interval` seconds; once a change has stayed the newest for
    one check (an edit of many lines is refreshed once), refresh the answers `due`. While the
    database is unreachable, checks back off to `MAX_BACKOFF_S` and the failure is logged once."""
    previous: int | None = None
    delay, failing = interval, False
    while True:
        await asyncio.sleep(delay)
        try:
            async with sessions() as session:
                current = await generation(session)
            if current == previous and cache.due(current):
                await cache.refresh(sessions)
            previous = current
        except Exception as err:  # noqa: BLE001 - logged once per outage, retried
            if not failing:
                log.warning("BOM answer refresh paused (retrying): %s", err)
            delay, failing = min(max(delay, interval) * 2, MAX_BACKOFF_S), True
        else:
            if failing:
                log.info("BOM answer refresh resumed")
            delay, failing = interval, False
