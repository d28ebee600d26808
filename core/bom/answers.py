"""Explosion answers encoded once per unit explosion and rendered for any top quantity.

A big explosion answer is megabytes of JSON in which only the quantities depend on the top
quantity. A `Template` is that JSON encoded once with each node's (or component's) quantity
left open; an answer for a quantity is the template's bytes with the scaled quantities put in
place, byte for byte what encoding the whole answer would give (`service.scaled_tree`,
`service.flat_payload`), at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from core.bom.service import (
    UnitExplosion,
    flat_component,
    flat_quantities,
    header,
    json_number,
    tree_nodes,
    tree_quantities,
)

OPEN = b'"quantity":'
"""Where a quantity is left open (followed by its row's index and a comma). Only keys match:
inside an encoded string every quote is escaped, so `y":` (an unescaped quote after
`quantity`) never occurs in one."""


@dataclass(frozen=True, slots=True)
class Template:
    """A JSON array of objects encoded once, each object's `quantity` left open: `segments` are
    the bytes around the open quantities, `factors` the per-unit factor of each open quantity,
    both in encoding order."""

    segments: tuple[bytes, ...]
    factors: tuple[Decimal, ...]

    @classmethod
    def of(cls, objects: list[dict[str, Any]], factors: Sequence[Decimal]) -> Template:
        """Encode `objects` (nested or not), whose quantities are the indexes of their
        factors in `factors`."""
        first, *pieces = orjson.dumps(objects).split(OPEN)
        if len(pieces) != len(factors):
            raise ValueError(f"{len(pieces)} open quantities for {len(factors)} factors")
        segments, ordered = [first + OPEN], []
        for piece in pieces:  # each starts with the index, then the rest of its object
            end = piece.index(b",")
            ordered.append(factors[int(piece[:end])])
            segments.append(piece[end:] + OPEN)
        segments[-1] = segments[-1].removesuffix(OPEN)
        return cls(tuple(segments), tuple(ordered))

    def render(self, quantities: Sequence[int | float]) -> bytes:
        """The array with `quantities` (in encoding order) in place of the open ones."""
        if not quantities:
            return self.segments[0]
        numbers = orjson.dumps(quantities)[1:-1].split(b",")  # exactly as orjson encodes each
        parts: list[bytes] = [b""] * (2 * len(numbers) + 1)
        parts[0::2] = self.segments
        parts[1::2] = numbers
        return b"".join(parts)


def _answer(head: dict[str, Any], key: bytes, body: bytes) -> bytes:
    """`head` with one more field, `key`, holding the already encoded `body`."""
    return b"".join((orjson.dumps(head)[:-1], b',"', key, b'":', body, b"}"))


def tree_template(unit: UnitExplosion) -> Template:
    """The unit explosion's tree nodes, encoded once."""
    rows = unit.rows
    return Template.of(tree_nodes(rows, range(len(rows))), [row[-1] for row in rows])


def tree_answer(unit: UnitExplosion, template: Template, quantity: Decimal) -> bytes:
    """The encoded explosion tree (ExplosionTree) of `quantity` top units."""
    nodes = template.render(tree_quantities(template.factors, quantity))
    return _answer(header(unit, json_number(quantity)), b"nodes", nodes)


def flat_template(rows: Sequence[Sequence[Any]]) -> Template:
    """The components of a unit explosion (its `service.flat_rows`), encoded once."""
    components = [flat_component(row, index) for index, row in enumerate(rows)]
    return Template.of(components, [row[4] for row in rows])


def flat_answer(unit: UnitExplosion, template: Template, quantity: Decimal) -> bytes:
    """The encoded flat explosion (ExplosionFlat) of `quantity` top units."""
    components = template.render(flat_quantities(template.factors, quantity))
    return _answer(header(unit, float(quantity)), b"components", components)
