"""Nesting of unit explosion rows into the JSON-ready tree (tree_payload): parents before
children, children in row order, quantities scaled from the per-unit factors, integral numbers
as int, and leaves holding only atomic values (not tracked by the cyclic garbage collector)."""

from __future__ import annotations

import gc
from decimal import Decimal

import orjson

from core.bom.service import tree_payload

# (node, parent, line, bom, level, item, code, name, unit, per, scrap, op_seq, factor per unit)
ROWS = [
    ("1", "", 1, 10, 1, 100, "SUB", "Sub-assembly", "pcs", 2.0, 0.0, 10, Decimal(2)),
    ("2", "", 2, 10, 1, 101, "BOLT", "Bolt", "pcs", 4.0, 0.0, None, Decimal(4)),
    ("1.5", "1", 5, 11, 2, 102, "BAR", 'Bar "C45"', "m", 0.25, 0.02, 20, Decimal("1.02")),
    ("1.6", "1", 6, 11, 2, 101, "BOLT", "Bolt", "pcs", 1.0, 0.0, None, Decimal(2)),
]
TEN = Decimal(10)


def test_rows_nest_in_order_with_json_numbers() -> None:
    nodes = tree_payload(ROWS, TEN)
    assert [n["item_code"] for n in nodes] == ["SUB", "BOLT"]
    sub, bolt = nodes
    assert sub["has_bom"] is True and [c["line_id"] for c in sub["children"]] == [5, 6]
    assert bolt["has_bom"] is False and list(bolt["children"]) == []
    bar = sub["children"][0]
    assert (bar["quantity_per"], bar["scrap_factor"], bar["quantity"]) == (0.25, 0.02, 10.2)
    assert type(sub["quantity"]) is int and type(sub["quantity_per"]) is int
    assert (bar["level"], bar["bom_id"], bar["operation_seq"]) == (2, 11, 20)
    decoded = orjson.loads(orjson.dumps(nodes))
    assert decoded[1]["children"] == [] and decoded[0]["children"][0]["item_name"] == 'Bar "C45"'
    assert orjson.dumps(nodes).startswith(b'[{"line_id":1,"bom_id":10,"level":1,"item_id":100,')


def test_leaves_are_not_tracked_by_the_garbage_collector() -> None:
    sub, bolt = tree_payload(iter(ROWS), TEN)  # any iterable of rows
    leaves = [bolt, *sub["children"]]
    assert [gc.is_tracked(leaf) for leaf in leaves] == [False, False, False]
    assert gc.is_tracked(sub)  # a parent holds its children's list


def with_factors(*factors: str) -> list[tuple[object, ...]]:
    return [(*row[:-1], Decimal(f)) for row, f in zip(ROWS, factors, strict=True)]


def test_quantities_are_the_top_quantity_times_the_factor_rounded_half_up() -> None:
    rows = with_factors("1.0000005", "2.25", "3", "0.5")
    sub, bolt = tree_payload(rows, Decimal("0.5"))
    assert (sub["quantity"], bolt["quantity"]) == (0.5, 1.125)  # 0.50000025 -> 0.5
    assert [c["quantity"] for c in sub["children"]] == [1.5, 0.25]
    sub, bolt = tree_payload(with_factors("2.0000005", "1", "1", "1"), Decimal(1))
    assert sub["quantity"] == 2.000001  # a tie goes away from zero, as PostgreSQL's round()


def test_no_rows_no_nodes() -> None:
    assert tree_payload([], TEN) == []
