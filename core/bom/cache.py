"""Per-process cache of explosion and where-used answers, invalidated through the database.

Each API process keeps its own LRU of encoded JSON answers. An entry records the value of the
`bom_generation` counter it was computed under; triggers give the counter a new, never reused
value in every transaction that writes `bom` or `bom_line`, or an item's code, name or unit
(the item columns an answer shows), or deletes an item. A request reads the counter first (one
primary-key lookup) and uses an entry only when the counter still has that value, so a change
committed through any process invalidates every process's entries. The data read after the
counter is at least as new as the counter's value, never older.

Concurrent misses of one key under one generation share a single computation: the first caller
computes, the others await its answer (or its error). A burst of readers right after a BOM
change costs one explosion per process, not one per reader.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

GENERATION_SQL = text("SELECT value FROM bom_generation WHERE id = 1")


async def generation(session: AsyncSession) -> int:
    """The current BOM generation as this transaction sees it."""
    value = await session.scalar(GENERATION_SQL)
    if value is None:
        raise RuntimeError("bom_generation has no row: the database is not migrated to 0108")
    return int(value)


@dataclass(slots=True)
class Entry:
    """An encoded answer and the generation it was computed under."""

    generation: int
    body: bytes


class ResultCache:
    """A bounded LRU of encoded answers keyed by every request parameter; 0 entries disables it.

    `hits` and `misses` count lookups (misses include stale entries found and dropped).
    """

    def __init__(self, entries: int) -> None:
        if entries < 0:
            raise ValueError(f"entries must be >= 0, not {entries}")
        self.capacity = entries
        self.hits = 0
        self.misses = 0
        self.shared = 0  # misses answered by another caller's computation
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._computing: dict[tuple[Hashable, int], asyncio.Future[bytes]] = {}

    @property
    def enabled(self) -> bool:
        """Whether answers are kept at all."""
        return self.capacity > 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def get(self, key: Hashable, current: int) -> bytes | None:
        """The answer for `key` if it was computed under generation `current`."""
        entry = self._entries.get(key)
        if entry is None or entry.generation != current:
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.body

    def put(self, key: Hashable, current: int, body: bytes) -> None:
        """Keep an answer computed under generation `current`, evicting the least recently used."""
        if not self.enabled:
            return
        self._entries[key] = Entry(current, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    async def computed(
        self, key: Hashable, current: int, compute: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """`compute()`'s answer for `key` under generation `current`, kept; a caller arriving
        while the same answer is being computed awaits that computation instead."""
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
                return body
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
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
        self.put(key, current, body)
        return body

    def clear(self) -> None:
        """Drop every entry (counters are kept)."""
        self._entries.clear()


def _retrieved(future: asyncio.Future[bytes]) -> None:
    """Mark an error as seen when no other caller was waiting for it."""
    if not future.cancelled():
        future.exception()


def for_app(app: FastAPI) -> ResultCache:
    """The app's cache, created on first use with `bom_cache_entries` from its settings."""
    cache: ResultCache | None = getattr(app.state, "bom_cache", None)
    if cache is None:
        cache = ResultCache(app.state.settings.bom_cache_entries)
        app.state.bom_cache = cache
    return cache


async def cached_json(
    cache: ResultCache,
    session: AsyncSession,
    key: Hashable,
    compute: Callable[[], Awaitable[Any]],
) -> bytes:
    """The JSON encoding of `compute()`'s JSON-ready result, from the cache when still valid.

    Errors raised by `compute` are not cached; callers that were sharing the computation get
    the same error.
    """
    if not cache.enabled:
        return orjson.dumps(await compute())
    current = await generation(session)
    body = cache.get(key, current)
    if body is not None:
        return body
    return await cache.computed(key, current, lambda: _encoded(compute))


async def _encoded(compute: Callable[[], Awaitable[Any]]) -> bytes:
    return orjson.dumps(await compute())
