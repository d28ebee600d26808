"""Explosion answers encoded once per unit explosion and rendered for any top quantity.

A big explosion answer is megabytes of JSON in which only the quantities depend on the top
quantity. A `Template` is that JSON encoded once with each node's (or component's) quantity
left open; an answer for a quantity is the template's bytes with the scaled quantities put in
place, byte for byte what encoding the whole answer would give (`service.scaled_tree`,
`service.flat_payload`), at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import orjson

from core.bom.service import (
    UnitExplosion,
    flat_component,
    flat_quantities,
    header,
    json_number,
    node_fields,
    tree_quantities,
)

QUANTITY_FIELD = b'"quantity":'
OPEN = QUANTITY_FIELD + b"0,"
"""An open quantity in an encoded template (every quantity is 0 there). Only keys match:
inside an encoded string every quote is escaped, so `y":` (an unescaped quote after
`quantity`) never occurs in one."""


@dataclass(frozen=True, slots=True)
class Template:
    """A JSON array of objects encoded once, each object's `quantity` left open: `segments` are
    the bytes around the open quantities, `factors` the per-unit factor of each open quantity,
    both in encoding order."""

    segments: tuple[bytes, ...]
    factors: tuple[Decimal, ...]
    keys: tuple[str, ...] = ()
    """A tree's occurrence keys, in the same order (what `spliced` finds subtrees by)."""
    levels: tuple[int, ...] = ()
    """A tree's levels, in the same order."""

    @classmethod
    def of(
        cls, objects: list[dict[str, Any]], factors: Sequence[Decimal], **tree: tuple[Any, ...]
    ) -> Template:
        """Encode `objects` (nested or not), each with quantity 0; `factors` are those
        quantities' factors in encoding order (depth first)."""
        segments = orjson.dumps(objects).split(OPEN)
        if len(segments) != len(factors) + 1:
            raise ValueError(f"{len(segments) - 1} open quantities for {len(factors)} factors")
        return cls(tuple(segments), tuple(factors), **tree)

    def render(self, quantities: Sequence[int | float]) -> bytes:
        """The array with `quantities` (in encoding order) in place of the open ones."""
        if not quantities:
            return self.segments[0]
        # `"quantity":<n>,` for each, n exactly as orjson encodes it, split at a byte (NUL)
        # that encoded numbers never hold
        numbers = orjson.dumps(quantities)[1:-1].replace(b",", b",\0" + QUANTITY_FIELD)
        parts: list[bytes] = [b""] * (2 * len(quantities) + 1)
        parts[0::2] = self.segments
        parts[1::2] = (QUANTITY_FIELD + numbers + b",").split(b"\0")
        return b"".join(parts)


def _answer(head: dict[str, Any], key: bytes, body: bytes) -> bytes:
    """`head` with one more field, `key`, holding the already encoded `body`."""
    return b"".join((orjson.dumps(head)[:-1], b',"', key, b'":', body, b"}"))


def tree_template(unit: UnitExplosion) -> Template:
    """The unit explosion's tree nodes, encoded once."""
    return _tree_template(unit.rows)


HEAD_END = QUANTITY_FIELD + b"0}"  # how a node's fields end in `_heads`: its quantity, 0
BRANCH = b'"has_bom":true,"children":['  # what follows an assembly's quantity
LEAF_END = b'"has_bom":false,"children":[]}'  # how a leaf's object ends, after its quantity


def _heads(rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """Each row's node encoded up to its quantity (`{"line_id":...,"operation_seq":..,`),
    as one orjson call over flat objects whose last field is `"quantity":0`."""
    encoded = orjson.dumps([node_fields(row, 0) for row in rows])
    # n + 1 pieces: `[` or `,` then a head, and a last `]`
    return [piece[1:] for piece in encoded.split(HEAD_END)[:-1]]


def _tree_template(rows: Sequence[Sequence[Any]]) -> Template:
    """The nested nodes of unit tree rows (parents first, children in position order; rows
    whose parent is not among them are roots), encoded once: byte for byte what orjson gives
    for `service.tree_nodes`, but assembled from each node's encoded head (`_heads`) depth
    first, without building the nested objects."""
    heads = _heads(rows)
    index: dict[str, int] = {}
    children: list[list[int] | None] = [None] * len(rows)
    roots: list[int] = []
    for position, row in enumerate(rows):
        parent = index.get(row[1]) if row[1] else None
        index[row[0]] = position
        if parent is None:
            roots.append(position)
        elif (siblings := children[parent]) is None:
            children[parent] = [position]
        else:
            siblings.append(position)
    segments: list[bytes] = []
    order: list[int] = []
    pending: list[bytes] = [b"["]  # the bytes since the last open quantity
    stack: list[int | bytes] = [b"]"]  # nodes to encode and bytes to write, last first

    def push(nodes: list[int]) -> None:
        stack.append(nodes[-1])
        for node in reversed(nodes[:-1]):
            stack.extend((b",", node))

    if roots:
        push(roots)
    while stack:
        step = stack.pop()
        if isinstance(step, bytes):
            pending.append(step)
            continue
        pending.append(heads[step])
        segments.append(b"".join(pending))
        order.append(step)
        below = children[step]
        if below is None:
            pending = [LEAF_END]
        else:
            pending = [BRANCH]
            stack.append(b"]}")
            push(below)
    segments.append(b"".join(pending))
    ordered = [rows[position] for position in order]
    return Template(
        tuple(segments),
        tuple(row[-1] for row in ordered),
        tuple(row[0] for row in ordered),
        tuple(row[4] for row in ordered),
    )


NODE = b'{"line_id":'  # where a node's object starts (as a key, never inside a string)


@dataclass(frozen=True, slots=True)
class _Fragment:
    """One node's subtree in a tree template, without the array around it: `segments[0]`
    starts at the node's `{` and the last segment ends at its `}`."""

    segments: Sequence[bytes]
    factors: Sequence[Decimal]
    keys: Sequence[str]
    levels: Sequence[int]


def _cut(template: Template, first: int, end: int) -> _Fragment | None:
    """The fragment of the subtree whose open quantities are `first` up to `end` (the node's,
    then every deeper one); None where the bytes are not as expected."""
    head, tail = template.segments[first], template.segments[end]
    start, depth = head.rfind(NODE), template.levels[end - 1] - template.levels[first]
    cut = len(LEAF_END) + 2 * depth
    if start < 0 or tail[:cut] != LEAF_END + b"]}" * depth:
        return None
    segments = [head[start:], *template.segments[first + 1 : end], tail[:cut]]
    return _Fragment(
        segments,
        template.factors[first:end],
        template.keys[first:end],
        template.levels[first:end],
    )


def _encoded(subtree: Sequence[Sequence[Any]]) -> _Fragment:
    """The fragment of a subtree's rows (its top first), encoded."""
    new = _tree_template(subtree)  # `[<the subtree's node>]`
    segments = [new.segments[0][1:], *new.segments[1:-1], new.segments[-1][:-1]]
    return _Fragment(segments, new.factors, new.keys, new.levels)


def _subtrees(unit: UnitExplosion) -> tuple[dict[str, Sequence[Any]], dict[str, list[Any]]]:
    """The unit's rows by key, and each key's child rows in position order."""
    rows: dict[str, Sequence[Any]] = {}
    below: dict[str, list[Sequence[Any]]] = {}
    for row in unit.rows:
        rows[row[0]] = row
        below.setdefault(row[1], []).append(row)
    return rows, below


def _subtree(below: dict[str, list[Any]], top: Sequence[Any]) -> list[Sequence[Any]]:
    """`top` and every row below it, breadth first (parents first, children in order)."""
    subtree = [top]
    for node in subtree:
        subtree.extend(below.get(node[0], ()))
    return subtree


def _end(template: Template, first: int) -> int:
    """Where the run of open quantities of the subtree whose top is at `first` ends."""
    end, level = first + 1, template.levels[first]
    while end < len(template.levels) and template.levels[end] > level:
        end += 1
    return end


def spliced(old: Template, unit: UnitExplosion, seeds: Sequence[str]) -> Template | None:
    """The tree template of `unit`, a patch of the explosion `old` was encoded from in which
    only the subtrees of the `seeds` (occurrence keys) were walked again: `old` with each seed's
    subtree encoded anew in place. Byte for byte `tree_template(unit)`, for the cost of the
    new subtrees; None where a seed is not in both (encode the whole tree instead).

    In encoding order a subtree is one run of open quantities: the seed's, then every deeper
    one after it. Its bytes start at the last node start before the seed's quantity and end
    after the leaf that closes the run and the closing brackets of the levels in between."""
    if not seeds:
        return old
    position = {key: index for index, key in enumerate(old.keys)}
    rows, below = _subtrees(unit)
    spans = []
    for key in seeds:
        first, seed = position.get(key), rows.get(key)
        if first is None or seed is None:
            return None
        spans.append((first, _end(old, first), _subtree(below, seed)))
    segments, factors = list(old.segments), list(old.factors)
    keys, levels = list(old.keys), list(old.levels)
    for first, end, subtree in sorted(spans, key=lambda span: span[0], reverse=True):
        was = _cut(old, first, end)
        if was is None:
            return None
        head, tail = segments[first], segments[end]  # a later span may have changed `tail`
        before, after = head[: -len(was.segments[0])], tail[len(was.segments[-1]) :]
        new = _encoded(subtree)
        joined = [before + new.segments[0], *new.segments[1:-1], new.segments[-1] + after]
        segments[first : end + 1] = joined
        factors[first:end], keys[first:end] = new.factors, new.keys
        levels[first:end] = new.levels
    return Template(tuple(segments), tuple(factors), tuple(keys), tuple(levels))


def recomposed(old: Template, unit: UnitExplosion) -> Template | None:
    """The tree template of `unit`, a patch of the explosion `old` was encoded from after its
    top item's BOM changed (`service.patched_tree`): a level-1 node whose key `old` holds at
    level 1 keeps its encoded subtree, its own fields encoded anew (its line and version are
    the new version's); other level-1 nodes are encoded with their subtrees. Changes deeper in
    the kept subtrees are left to `spliced`. None where `old`'s bytes are not as expected."""
    level_one = [index for index, level in enumerate(old.levels) if level == 1]
    kept = {old.keys[first]: first for first in level_one}
    below = _subtrees(unit)[1]
    tops = below.get("", [])
    heads = _heads(tops)
    fragments: list[_Fragment] = []
    for top, head in zip(tops, heads, strict=True):
        first = kept.get(top[0])
        if first is None:
            fragments.append(_encoded(_subtree(below, top)))
            continue
        fragment = _cut(old, first, _end(old, first))
        if fragment is None:
            return None
        fragments.append(replace(fragment, segments=[head, *fragment.segments[1:]]))
    segments: list[bytes] = []
    pending = b"["
    for fragment in fragments:
        segments.append(pending + fragment.segments[0])
        segments.extend(fragment.segments[1:-1])
        pending = fragment.segments[-1] + b","
    segments.append(pending[:-1] + b"]" if fragments else b"[]")
    return Template(
        tuple(segments),
        tuple(factor for fragment in fragments for factor in fragment.factors),
        tuple(key for fragment in fragments for key in fragment.keys),
        tuple(level for fragment in fragments for level in fragment.levels),
    )


def tree_answer(unit: UnitExplosion, template: Template, quantity: Decimal) -> bytes:
    """The encoded explosion tree (ExplosionTree) of `quantity` top units."""
    nodes = template.render(tree_quantities(template.factors, quantity))
    return _answer(header(unit, json_number(quantity)), b"nodes", nodes)


def flat_template(rows: Sequence[Sequence[Any]]) -> Template:
    """The components of a unit explosion (its `service.flat_rows`), encoded once."""
    components = [flat_component(row, 0) for row in rows]
    return Template.of(components, [row[4] for row in rows])


def flat_answer(unit: UnitExplosion, template: Template, quantity: Decimal) -> bytes:
    """The encoded flat explosion (ExplosionFlat) of `quantity` top units."""
    components = template.render(flat_quantities(template.factors, quantity))
    return _answer(header(unit, float(quantity)), b"components", components)
