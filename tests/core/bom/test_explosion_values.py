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
