"""Explosion answers rendered from templates (core.bom.answers): byte for byte the encoding of
the whole answer, for any quantity, whatever the item texts hold."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest

from core.bom.answers import (
    Template,
    flat_answer,
    flat_template,
    recomposed,
    spliced,
    tree_answer,
    tree_template,
)
from core.bom.service import UnitExplosion, flat_payload, flat_rows, scaled_tree

# (node, parent, line, bom, level, item, code, name, unit, per, scrap, op_seq, factor per unit)
ROWS = (
    ("1", "", 1, 10, 1, 100, "SUB", 'Sub "quantity":7, assembly', "pcs", 2.0, 0.0, 10, Decimal(2)),
    ("2", "", 2, 10, 1, 101, "BOLT", "Bolt \\", "pcs", 4.0, 0.0, None, Decimal(4)),
    ("1.5", "1", 5, 11, 2, 102, "BAR", "Bar\n\u00e9\u6f22", "m", 0.25, 0.02, 20, Decimal("1.02")),
    ("1.6", "1", 6, 11, 2, 101, "BOLT", "Bolt \\", "pcs", 1.0, 0.0, None, Decimal(2)),
    (
        "1.5.9",
        "1.5",
        9,
        12,
        3,
        103,
        'quantity":1,',
        "x",
        "kg",
        0.5,
        0.1,
        None,
        Decimal("0.000001234567890123456789"),
    ),
    ("2.8", "2", 8, 13, 2, 104, "NUT", "Nut", "pcs", 3.0, 0.0, None, Decimal("12.0000025")),
)
UNIT = UnitExplosion(1, "TOP", 10, date(2026, 6, 1), ROWS, frozenset({1, 100, 101, 102, 103}))
QUANTITIES = ["1", "10", "0.5", "3.333333", "123456789012.123456", "0.000001", "7"]


@pytest.mark.parametrize("quantity", [Decimal(q) for q in QUANTITIES])
def test_tree_answers_are_the_whole_encoding(quantity: Decimal) -> None:
    template = tree_template(UNIT)
    assert len(template.segments) == len(ROWS) + 1
    assert tree_answer(UNIT, template, quantity) == orjson.dumps(scaled_tree(UNIT, quantity))


@pytest.mark.parametrize("quantity", [Decimal(q) for q in QUANTITIES])
def test_flat_answers_are_the_whole_encoding(quantity: Decimal) -> None:
    rows = flat_rows(UNIT)
    answer = flat_answer(UNIT, flat_template(rows), quantity)
    assert answer == orjson.dumps(flat_payload(UNIT, quantity, rows))


def test_template_keeps_encoding_order_of_nested_objects() -> None:
    template = tree_template(UNIT)
    # depth first: SUB, BAR, x, BOLT (under SUB), BOLT, NUT
    assert template.factors == tuple(ROWS[i][-1] for i in (0, 2, 4, 3, 1, 5))
    nodes = orjson.loads(tree_answer(UNIT, template, Decimal(10)))["nodes"]
    assert [n["quantity"] for n in nodes] == [20, 40]
    assert nodes[0]["children"][0]["children"][0]["item_code"] == 'quantity":1,'
    assert nodes[0]["children"][0]["children"][0]["quantity"] == 0.000012


def _random_rows(seed: int) -> tuple[tuple[Any, ...], ...]:
    """A random unit tree: up to 6 levels, 0-4 children each, some names needing escapes."""
    rng = random.Random(seed)
    names = ["plain", 'q"uote', "back\\slash", "\u00e9t\u00e9", '"quantity":0}', "tab\t"]
    levels: list[list[tuple[Any, ...]]] = [[]]
    lines = iter(range(1, 10_000))
    parents: list[str] = [""]
    for level in range(1, 7):
        current = []
        for parent in parents:
            for _ in range(rng.randrange(5) if parent or level == 1 else 0):
                line = next(lines)
                key = f"{parent}.{line}" if parent else str(line)
                per = rng.choice([1.0, 2.5, 0.125, 1e-06, 3.0])
                current.append(
                    (
                        key,
                        parent,
                        line,
                        level,
                        level,
                        rng.randrange(100, 200),
                        f"C{line}",
                        rng.choice(names),
                        "pcs",
                        per,
                        rng.choice([0.0, 0.02]),
                        rng.choice([None, 10]),
                        Decimal(rng.randrange(1, 10**9)).scaleb(-rng.randrange(0, 24)),
                    )
                )
        levels.append(current)
        parents = [row[0] for row in current]
    return tuple(row for level_rows in levels for row in level_rows)


@pytest.mark.parametrize("seed", range(20))
def test_random_trees_render_as_their_whole_encoding(seed: int) -> None:
    rows = _random_rows(seed)
    unit = UnitExplosion(1, "TOP", 10, date(2026, 6, 1), rows, frozenset(r[5] for r in rows))
    template = tree_template(unit)
    assert len(template.segments) == len(rows) + 1
    for quantity in (Decimal(1), Decimal("2.5"), Decimal("123456.000001")):
        assert tree_answer(unit, template, quantity) == orjson.dumps(scaled_tree(unit, quantity))


def test_an_empty_explosion_renders_empty_arrays() -> None:
    empty = UnitExplosion(1, "TOP", 10, date(2026, 6, 1), (), frozenset({1}))
    assert orjson.loads(tree_answer(empty, tree_template(empty), Decimal(5)))["nodes"] == []
    assert orjson.loads(flat_answer(empty, flat_template([]), Decimal(5)))["components"] == []


def test_open_quantities_must_match_the_factors() -> None:
    with pytest.raises(ValueError, match="2 open quantities for 1 factors"):
        Template.of([{"quantity": 0, "x": 1}, {"quantity": 0, "x": 2}], [Decimal(1)])


def _row(key: str, item: int, factor: str, name: str = "x") -> tuple[Any, ...]:
    parent, _, line = key.rpartition(".")
    level = key.count(".") + 1
    return (
        key,
        parent,
        int(line),
        10 + level,
        level,
        item,
        f"C{item}",
        name,
        "pcs",
        1.0,
        0.0,
        None,
        Decimal(factor),
    )


def _patch(
    rows: Sequence[Sequence[Any]], walked: dict[str, list[tuple[Any, ...]]]
) -> UnitExplosion:
    """UNIT with each seed (key of `walked`) replaced in place by its first new row and the
    rest of its new subtree appended, as `service.patched_tree` merges rows."""
    gone = set(walked)
    kept = []
    for row in rows:
        if str(row[1]) in gone or any(str(row[0]).startswith(f"{k}.") for k in walked):
            gone.add(str(row[0]))
            continue
        kept.append(walked[str(row[0])][0] if row[0] in walked else row)
    merged = (*kept, *(row for new in walked.values() for row in new[1:]))
    return UnitExplosion(1, "TOP", 10, UNIT.at, merged, frozenset(r[5] for r in merged) | {1})


SPLICES = {
    "a subtree grows": {
        "1.5": [
            _row("1.5", 102, "1.02", "Bar, rev"),
            _row("1.5.9", 103, "3"),
            _row("1.5.11", 105, "0.5"),
        ]
    },
    "a leaf gets children": {"2.8": [_row("2.8", 104, "12"), _row("2.8.12", 106, "24")]},
    "an assembly becomes a leaf": {"1": [_row("1", 100, "2", 'Sub "quantity":0,')]},
    "two seeds": {
        "1.6": [_row("1.6", 101, "2"), _row("1.6.13", 107, "4")],
        "2": [_row("2", 101, "4"), _row("2.14", 107, "8"), _row("2.14.15", 108, "8")],
    },
}


@pytest.mark.parametrize("walked", SPLICES.values(), ids=SPLICES.keys())
def test_spliced_templates_are_the_whole_encoding(
    walked: dict[str, list[tuple[Any, ...]]],
) -> None:
    after = _patch(ROWS, walked)
    spliced_template = spliced(tree_template(UNIT), after, list(walked))
    assert spliced_template == tree_template(after)
    assert tree_answer(after, spliced_template, Decimal(7)) == orjson.dumps(
        scaled_tree(after, Decimal(7))
    )


def test_a_seed_missing_after_the_patch_is_not_spliced() -> None:
    after = _patch(ROWS, {"1.5": [_row("1.5", 102, "1.02")]})
    gone = UnitExplosion(1, "TOP", 10, UNIT.at, after.rows[1:], after.items)
    assert spliced(tree_template(UNIT), gone, ["1"]) is None
    assert spliced(tree_template(UNIT), after, ["9.9"]) is None


def _revised(
    level_one: list[tuple[Any, ...]], keep: set[str], walked: list[tuple[Any, ...]]
) -> UnitExplosion:
    """UNIT after a new version of its top BOM, as `service.patched_tree` merges rows: the
    level-1 rows as they are now, the kept rows below the level-1 keys in `keep`, then the
    rows walked again."""
    below = [row for row in ROWS if row[4] > 1 and row[0].split(".", 1)[0] in keep]
    rows = (*level_one, *below, *walked)
    return UnitExplosion(1, "TOP", 20, UNIT.at, rows, frozenset(r[5] for r in rows) | {1})


def _line(row: tuple[Any, ...], line: int, bom: int) -> tuple[Any, ...]:
    return (row[0], row[1], line, bom, *row[4:])


REVISIONS = {
    "a line added before the kept one": (
        [_row("31", 109, "3"), _line(ROWS[0], 30, 20)],
        {"1"},
        [_row("31.32", 110, "6")],
        [],
    ),
    "a line dropped, one changed below": (
        [_line(ROWS[1], 33, 20)],
        {"2"},
        [],
        ["2.8"],
    ),
    "every line new": ([_row("34", 111, "1")], set(), [_row("34.35", 112, "2")], []),
    "no lines left": ([], set(), [], []),
}


@pytest.mark.parametrize("revision", REVISIONS.values(), ids=REVISIONS.keys())
def test_recomposed_templates_are_the_whole_encoding(
    revision: tuple[list[tuple[Any, ...]], set[str], list[tuple[Any, ...]], list[str]],
) -> None:
    level_one, keep, walked, seeds = revision
    after = _revised(level_one, keep, walked)
    if seeds:  # a change below a kept level-1 node, walked again in place
        after = _patch(after.rows, {"2.8": [_row("2.8", 104, "12"), _row("2.8.36", 113, "5")]})
    base = recomposed(tree_template(UNIT), after)
    assert base is not None
    template = spliced(base, after, seeds)
    assert template == tree_template(after)
    assert tree_answer(after, template, Decimal(3)) == orjson.dumps(scaled_tree(after, Decimal(3)))
