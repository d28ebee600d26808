"""Unit explosions kept per process across BOM changes that do not touch them.

Explosion answers of an item on a day, for any top quantity, are scaled from its unit
explosion (core.bom.service). A process keeps the unit explosions it computed, each under the
BOM generation it is known valid at. When the generation has moved on, `bom_change` (migration
0111) says which items the new generations changed, and a kept explosion is:

- kept as it is when none of its items (the item and every item in its tree) changed;
- patched (a tree) when some did: only the subtrees of the topmost changed occurrences are
  walked again, by one recursive query seeded with them. When the item itself changed (a new
  version of its BOM, say), its level-1 lines are read again first: those identical to kept
  ones keep their subtrees, the others are walked again with the other seeds;
- computed again otherwise: a TRUNCATE, or a generation older than the kept changes.

Flat explosions (sums per item) are summed from the same unit tree, so they are kept and
patched with it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.bom.answers import (
    Template,
    flat_answer,
    flat_template,
    recomposed,
    spliced,
    tree_answer,
    tree_template,
)
from core.bom.cache import ResultCache, generation
from core.bom.service import UnitExplosion, flat_rows, topmost

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

SAME_VERSIONS_SQL = text(
    """
    SELECT NOT EXISTS (
        SELECT 1 FROM bom b
        WHERE b.item_id = ANY(CAST(:items AS int[])) AND b.status <> 'draft'
          AND (b.effective_from > :lo AND b.effective_from <= :hi
               OR b.effective_to > :lo AND b.effective_to <= :hi))
    """
)
"""Whether the BOM versions of the items effective on :lo are the ones effective on :hi
(:lo < :hi): none of their versions starts or ends after :lo up to :hi."""
OTHER_DAYS_TRIED = 2  # kept explosions of other days checked before walking

ANSWERS_KEPT = 8  # encoded answers (tree or flat, by top quantity) kept with each explosion


@dataclass(slots=True)
class Kept:
    """A unit explosion, its sums per item, the templates its answers are rendered from
    (core.bom.answers) and the answers rendered (by kind and top quantity, most recent last).
    They stay valid as long as the unit explosion: one kept across a change keeps them."""

    unit: UnitExplosion
    answers: OrderedDict[Hashable, bytes] = field(default_factory=OrderedDict)
    _flat: list[tuple[Any, ...]] | None = None
    _tree_template: Template | None = None
    _flat_template: Template | None = None

    def flat_rows(self) -> list[tuple[Any, ...]]:
        """The unit explosion summed per item (`service.flat_rows`), computed once."""
        if self._flat is None:
            self._flat = flat_rows(self.unit)
        return self._flat

    def on(self, day: date) -> Kept:
        """The same explosion for `day`, whose BOM versions are the same: rows, sums and
        templates shared, answers not (they name the day)."""
        return Kept(
            replace(self.unit, at=day),
            _flat=self._flat,
            _tree_template=self._tree_template,
            _flat_template=self._flat_template,
        )

    def tree(self, quantity: Decimal) -> bytes:
        """The encoded explosion tree of `quantity` top units."""
        if self._tree_template is None:
            self._tree_template = tree_template(self.unit)
        return self._answer(("tree", quantity), tree_answer, self._tree_template, quantity)

    def flat(self, quantity: Decimal) -> bytes:
        """The encoded flat explosion of `quantity` top units."""
        if self._flat_template is None:
            self._flat_template = flat_template(self.flat_rows())
        return self._answer(("flat", quantity), flat_answer, self._flat_template, quantity)

    def _answer(self, key: Hashable, render: Render, template: Template, q: Decimal) -> bytes:
        body = self.answers.get(key)
        if body is None:
            body = self.answers[key] = render(self.unit, template, q)
            if len(self.answers) > ANSWERS_KEPT:
                self.answers.popitem(last=False)
        else:
            self.answers.move_to_end(key)
        return body


Render = Callable[[UnitExplosion, Template, Decimal], bytes]
Compute = Callable[[AsyncSession], Awaitable[UnitExplosion]]
Patch = Callable[[AsyncSession, UnitExplosion, frozenset[int]], Awaitable[UnitExplosion]]


async def changed_items(session: AsyncSession, since: int, until: int) -> frozenset[int] | None:
    """The items whose explosion inputs the generations after `since` up to `until` changed;
    None when that is unknown (a TRUNCATE, or changes no longer kept): treat all as changed."""
    now, items = (await session.execute(CHANGES_SQL, {"since": since, "until": until})).one()
    if since < now - CHANGES_KEPT or 0 in items:
        return None
    return frozenset(items)


def explosion_key(item_id: int, day: date) -> tuple[str, int, date]:
    """The key of an item's unit explosion on a day."""
    return ("explosion", item_id, day)


async def item_explosion(
    cache: ResultCache[Kept],
    session: AsyncSession,
    item_id: int,
    day: date,
    compute: Compute,
    patch: Patch | None = None,
) -> Kept:
    """The item's unit explosion on `day` (`unit_explosion`). The first read of a day (the day
    after, or another planning date) reuses the item's explosion kept for another day when
    the BOM versions of its items effective on both days are the same."""
    key = explosion_key(item_id, day)
    if cache.enabled and key not in cache:
        current = await generation(session)
        others = [
            kept
            for other, kept in cache.values(current)
            if isinstance(other, tuple) and other != key and other[:2] == key[:2]
        ]
        others.sort(key=lambda kept: abs(kept.unit.at - day))
        for kept in others[:OTHER_DAYS_TRIED]:
            lo, hi = sorted((kept.unit.at, day))
            params = {"items": list(kept.unit.items), "lo": lo, "hi": hi}
            if await session.scalar(SAME_VERSIONS_SQL, params):
                moved = kept.on(day)
                cache.put(key, current, moved)
                cache.metric.labels("other_day").inc()
                return moved
    return await unit_explosion(cache, session, key, compute, patch)


async def unit_explosion(
    cache: ResultCache[Kept],
    session: AsyncSession,
    key: Hashable,
    compute: Compute,
    patch: Patch | None = None,
) -> Kept:
    """The unit explosion for `key` (with the answers kept with it): kept, patched (with
    `patch`) or computed (with `compute`) as the changes since it was kept allow. Concurrent
    callers share one computation or patch; errors are not kept."""
    if not cache.enabled:
        return Kept(await compute(session))
    current = await generation(session)
    found = cache.peek(key, current)
    if found is not None:
        at, kept = found
        if at >= current:  # as new as this reader's generation, or newer
            return kept
        changed = await changed_items(session, at, current)
        if changed is not None and changed.isdisjoint(kept.unit.items):
            cache.put(key, current, kept)
            cache.metric.labels("kept").inc()
            return kept
        if changed is not None and patch is not None:
            work = partial(_patched, patch, session, kept, changed)
            return await cache.computed(key, current, work, outcome="patched")
    return await cache.computed(key, current, partial(_computed, compute, session))


async def _computed(compute: Compute, session: AsyncSession) -> Kept:
    return Kept(await compute(session))


async def _patched(
    patch: Patch, session: AsyncSession, kept: Kept, changed: frozenset[int]
) -> Kept:
    """`kept` patched after changes to the `changed` items. Its tree template, if it has one,
    is spliced (only the subtrees walked again are encoded); after a change to the top item
    it is first recomposed at level 1 (`answers.recomposed`)."""
    unit = await patch(session, kept.unit, changed)
    patched = Kept(unit)
    template = kept._tree_template
    if template is None:
        return patched
    seeds = [row[0] for row in topmost(kept.unit.rows, changed)[1]]
    if unit.item_id in changed:  # level 1 anew, then the changes below kept level-1 nodes
        template = recomposed(template, unit)
        if template is None:
            return patched
        encoded = set(template.keys)
        seeds = [key for key in seeds if key in encoded]
    patched._tree_template = spliced(template, unit, seeds)
    return patched
