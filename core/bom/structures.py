"""Unit explosions kept per process across BOM changes that do not touch them.

Explosion answers of an item on a day, for any top quantity, are scaled from its unit
explosion (core.bom.service). A process keeps the unit explosions it computed, each under the
BOM generation it is known valid at. When the generation has moved on, `bom_change` (migration
0111) says which items the new generations changed, and a kept explosion is:

- kept as it is when none of its items (the item and every item in its tree) changed;
- patched (a tree) when some did, but not the item itself: only the subtrees of the topmost
  changed occurrences are walked again, by one recursive query seeded with them;
- computed again otherwise: a flat explosion (its sums), a changed top item, a TRUNCATE, or a
  generation older than the kept changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from functools import partial

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.bom.cache import ResultCache, generation
from core.bom.service import UnitExplosion

CHANGES_KEPT = 100_000  # generations of `bom_change` rows the writers keep (migration 0111)

CHANGES_SQL = text(
    """
    SELECT (SELECT value FROM bom_generation WHERE id = 1),
           ARRAY(SELECT DISTINCT coalesce(c.item_id, 0) FROM bom_change c
                 WHERE c.generation > :since AND c.generation <= :until)
    """
)
"""The current generation and the items changed after :since up to :until (0: every item), in
one snapshot: rows the writers pruned are older than the generation read with them."""

Compute = Callable[[AsyncSession], Awaitable[UnitExplosion]]
Patch = Callable[[AsyncSession, UnitExplosion, frozenset[int]], Awaitable[UnitExplosion]]


async def changed_items(session: AsyncSession, since: int, until: int) -> frozenset[int] | None:
    """The items whose explosion inputs the generations after `since` up to `until` changed;
    None when that is unknown (a TRUNCATE, or changes no longer kept): treat all as changed."""
    now, items = (await session.execute(CHANGES_SQL, {"since": since, "until": until})).one()
    if since < now - CHANGES_KEPT or 0 in items:
        return None
    return frozenset(items)


async def unit_explosion(
    cache: ResultCache[UnitExplosion],
    session: AsyncSession,
    key: Hashable,
    compute: Compute,
    patch: Patch | None = None,
) -> UnitExplosion:
    """The unit explosion for `key`: kept, patched (with `patch`) or computed (with `compute`)
    as the changes since it was kept allow. Concurrent callers share one computation or patch;
    errors are not kept."""
    if not cache.enabled:
        return await compute(session)
    current = await generation(session)
    kept = cache.peek(key, current)
    if kept is not None:
        at, unit = kept
        if at >= current:  # as new as this reader's generation, or newer
            return unit
        changed = await changed_items(session, at, current)
        if changed is not None and changed.isdisjoint(unit.items):
            cache.put(key, current, unit)
            cache.metric.labels("kept").inc()
            return unit
        if changed is not None and patch is not None and unit.item_id not in changed:
            work = partial(patch, session, unit, changed)
            return await cache.computed(key, current, work, outcome="patched")
    return await cache.computed(key, current, partial(compute, session))
