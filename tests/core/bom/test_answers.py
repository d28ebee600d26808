"""Explosion answers rendered from templates (core.bom.answers): byte for byte the encoding of
the whole answer, for any quantity, whatever the item texts hold."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import orjson
import pytest

from core.bom.answers import Template, flat_answer, flat_template, tree_answer, tree_template
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


def test_an_empty_explosion_renders_empty_arrays() -> None:
    empty = UnitExplosion(1, "TOP", 10, date(2026, 6, 1), (), frozenset({1}))
    assert orjson.loads(tree_answer(empty, tree_template(empty), Decimal(5)))["nodes"] == []
    assert orjson.loads(flat_answer(empty, flat_template([]), Decimal(5)))["components"] == []


def test_open_quantities_must_match_the_factors() -> None:
    with pytest.raises(ValueError, match="2 open quantities for 1 factors"):
        Template.of([{"quantity": 0, "x": 1}, {"quantity": 0, "x": 2}], [Decimal(1)])
