"""Explosion values on deep structures: quantities carried through many levels of base
quantities and scrap (12 decimals per level) still round to the exact value; children come in
line-position order whatever order the lines were added in."""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from tests.core.bom.helpers import make_bom, make_item
from tests.support.api import AsRoles

LEVELS = 12


def rounded(value: Fraction) -> float:
    """The exact value rounded to the 6 returned decimals, as the API returns it."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


async def test_deep_chain_quantities_round_to_the_exact_values(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        chain = [await make_item(client, f"C{i}", type="semi_finished") for i in range(LEVELS)]
        # 7 per 3 of the parent with 3.7 % scrap, level after level
        for parent, child in itertools.pairwise(chain):
            await make_bom(client, parent["id"], [(child["id"], "7", "0.037")], quantity="3")
        top, leaf = chain[0]["id"], chain[-1]["id"]
        tree = (
            await client.get(f"/api/v1/bom/items/{top}/explosion", params={"quantity": "5"})
        ).json()
        flat = (
            await client.get(f"/api/v1/bom/items/{top}/explosion/flat", params={"quantity": "5"})
        ).json()
        used = (await client.get(f"/api/v1/bom/items/{leaf}/where-used")).json()
    step = Fraction(7, 3) * Fraction(1037, 1000)
    expected = [rounded(5 * step**level) for level in range(1, LEVELS)]
    got, nodes = [], tree["nodes"]
    while nodes:
        [node] = nodes
        got.append(node["quantity"])
        nodes = node["children"]
    assert got == expected
    assert [c["quantity"] for c in flat["components"]] == expected
    per_leaf, parents = [], used["nodes"]
    while parents:
        [node] = parents
        per_leaf.append(node["quantity"])
        parents = node["parents"]
    # where-used: how much of the leaf one unit of each parent needs
    assert per_leaf == [rounded(step**level) for level in range(1, LEVELS)]


async def test_children_follow_line_positions(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        top = await make_item(client, "TOP", type="finished")
        sub = await make_item(client, "SUB", type="semi_finished")
        parts = [await make_item(client, f"P{i}") for i in range(4)]
        bom = await make_bom(client, sub["id"], [], activate=False)
        for part, position in zip(parts, [40, 10, 30, 20], strict=True):
            body: dict[str, Any] = {
                "component_item_id": part["id"],
                "quantity": "1",
                "position": position,
            }
            r = await client.post(f"/api/v1/bom/{bom['id']}/lines", json=body)
            assert r.status_code == 201, r.text
        r = await client.post(f"/api/v1/bom/{bom['id']}/activate", json={})
        assert r.status_code == 200, r.text
        await make_bom(client, top["id"], [(sub["id"], "2")])
        tree = (await client.get(f"/api/v1/bom/items/{top['id']}/explosion")).json()
    [node] = tree["nodes"]
    assert node["has_bom"] is True
    assert [c["item_code"] for c in node["children"]] == ["P1", "P3", "P2", "P0"]
    assert [c["has_bom"] for c in node["children"]] == [False] * 4


async def test_flat_sums_every_occurrence_across_levels(as_roles: AsRoles) -> None:
    """TOP <- 2 SUB1 (10 % scrap) + 3 bolt (5 %) + 1 SUB2; SUB1 (per 2) <- 3 SUB2 (2 %) + 5 bolt;
    SUB2 (per 4) <- 7 bolt (10 %) + 0.25 l PAINT: bolt occurs at levels 1, 2, 2 and 3."""
    async with as_roles("engineer") as client:
        top = await make_item(client, "TOP", type="finished")
        sub1, sub2 = [await make_item(client, c, type="semi_finished") for c in ("SUB1", "SUB2")]
        bolt = await make_item(client, "bolt")
        paint = await make_item(client, "PAINT", unit="l")
        await make_bom(
            client, sub2["id"], [(bolt["id"], "7", "0.1"), (paint["id"], "0.25")], quantity="4"
        )
        await make_bom(
            client, sub1["id"], [(sub2["id"], "3", "0.02"), (bolt["id"], "5")], quantity="2"
        )
        await make_bom(
            client,
            top["id"],
            [(sub1["id"], "2", "0.1"), (bolt["id"], "3", "0.05"), (sub2["id"], "1")],
        )
        r = await client.get(
            f"/api/v1/bom/items/{top['id']}/explosion/flat",
            params={"quantity": "10", "at": "2030-01-01"},
        )
    assert r.status_code == 200, r.text
    flat = r.json()
    assert (flat["item_code"], flat["quantity"], flat["at"]) == ("TOP", 10, "2030-01-01")
    rows = [
        (c["item_code"], c["quantity"], c["min_level"], c["max_level"], c["occurrences"])
        for c in flat["components"]
    ]
    # by lowest level, then code in code-point order (upper case before lower case)
    assert rows == [
        ("SUB1", 22, 1, 1, 1),  # 10 x 2 x 1.1
        ("SUB2", 43.66, 1, 2, 2),  # 10 x 1 + 22 / 2 x 3 x 1.02
        # 10 x 3 x 1.05 + 22 / 2 x 5 + 10 / 4 x 7 x 1.1 + 33.66 / 4 x 7 x 1.1
        ("bolt", 170.5455, 1, 3, 4),
        ("PAINT", 2.72875, 2, 3, 2),  # 10 / 4 x 0.25 + 33.66 / 4 x 0.25
    ]
    assert {c["item_code"]: c["has_bom"] for c in flat["components"]} == {
        "SUB1": True,
        "SUB2": True,
        "bolt": False,
        "PAINT": False,
    }
    assert {c["item_code"]: (c["item_id"], c["item_name"], c["unit"]) for c in flat["components"]}[
        "PAINT"
    ] == (paint["id"], "PAINT name", "l")


async def test_flat_totals_round_ties_to_even(as_roles: AsRoles) -> None:
    """Totals are exact sums rounded to 6 decimals with ties to even (as Decimal.quantize does):
    0.0000025 -> 0.000002 and 0.0000035 -> 0.000004."""
    async with as_roles("engineer") as client:
        kit = await make_item(client, "KIT", type="finished")
        nut, washer = [await make_item(client, code) for code in ("NUT", "WASHER")]
        await make_bom(client, kit["id"], [(nut["id"], "0.000005"), (washer["id"], "0.000007")])
        flat = (
            await client.get(
                f"/api/v1/bom/items/{kit['id']}/explosion/flat", params={"quantity": "0.5"}
            )
        ).json()
    assert [(c["item_code"], c["quantity"]) for c in flat["components"]] == [
        ("NUT", 0.000002),
        ("WASHER", 0.000004),
    ]
