"""SPC endpoints over stored results: the charts and indices equal the pure functions on the
same data; selection by time, work order and lot; clear 4xx when a chart cannot be made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core.quality import spc
from tests.core.inventory.helpers import make_item, make_work_order
from tests.core.quality.helpers import characteristic, make_plan, record, start
from tests.support.api import AsRoles

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
# 20 subgroups of 4 around 20.000 mm; subgroup 12 is shifted up
PATTERN = [
    [20.002, 19.998, 20.001, 19.999],
    [20.000, 20.003, 19.997, 20.001],
    [19.999, 20.001, 20.002, 19.996],
    [20.001, 19.998, 20.000, 20.003],
]
SUBGROUPS = [list(PATTERN[i % 4]) for i in range(20)]
SUBGROUPS[12] = [v + 0.012 for v in SUBGROUPS[12]]

DIAMETER = {
    "code": "OD",
    "name": "Outer diameter",
    "kind": "numeric",
    "unit": "mm",
    "lsl": "19.985",
    "usl": "20.015",
    "sample_size": 4,
}


async def load(
    client: httpx.AsyncClient, plan: dict[str, Any], od: dict[str, Any], orders: list[int]
) -> list[int]:
    """One inspection per subgroup, an hour apart; the first order for the first ten."""
    ids = []
    for n, group in enumerate(SUBGROUPS):
        inspection = await start(client, plan, work_order_id=orders[0] if n < 10 else orders[1])
        at = T0 + timedelta(hours=n)
        r = await record(
            client,
            inspection,
            [
                {
                    "characteristic_id": od["id"],
                    "value": str(round(v, 6)),
                    "measured_at": (at + timedelta(seconds=k)).isoformat(),
                }
                for k, v in enumerate(group)
            ],
        )
        assert r.status_code == 200, r.text
        ids.append(inspection["id"])
    return ids


@pytest.fixture
async def data(as_roles: AsRoles) -> dict[str, Any]:
    async with as_roles("admin") as client:
        item = await make_item(client, "SHAFT")
        plan = await make_plan(
            client,
            item,
            characteristics=[
                DIAMETER,
                {**DIAMETER, "code": "OD1", "sample_size": 1},
                {"code": "VIS", "name": "Visual", "kind": "attribute"},
            ],
        )
        od = characteristic(plan, "OD")
        orders = [await make_work_order(client, item) for _ in range(3)]
        ids = await load(client, plan, od, orders)
        return {"plan": plan, "od": od, "inspections": ids, "orders": orders}


async def test_xbar_r_matches_the_pure_computation(as_roles: AsRoles, data: dict[str, Any]) -> None:
    expected = spc.xbar_r(SUBGROUPS)
    async with as_roles("operator") as client:
        r = await client.get(f"/api/v1/quality/characteristics/{data['od']['id']}/spc/xbar-r")
    assert r.status_code == 200, r.text
    chart = r.json()
    assert (chart["subgroup_size"], chart["subgroups"], chart["incomplete_skipped"]) == (4, 20, 0)
    assert chart["xbar"]["ucl"] == pytest.approx(expected.xbar.limits.ucl)
    assert chart["xbar"]["lcl"] == pytest.approx(expected.xbar.limits.lcl)
    assert chart["range"]["ucl"] == pytest.approx(expected.range.limits.ucl)
    assert chart["sigma_within"] == pytest.approx(expected.sigma_within)
    assert [p["rules"] for p in chart["xbar"]["points"]] == [
        list(p.rules) for p in expected.xbar.points
    ]
    assert [p["index"] for p in chart["xbar"]["points"] if 1 in p["rules"]] == [12]
    assert chart["xbar"]["points"][12]["inspection_id"] == data["inspections"][12]
    assert chart["xbar"]["points"][12]["at"].startswith("2026-11-02T18:00:00")
    assert {v["rule"]: v["points"] for v in chart["xbar"]["violations"]} == expected.xbar.violations
    assert (chart["lsl"], chart["usl"]) == (19.985, 20.015)


async def test_selection_by_work_order_time_and_limit(
    as_roles: AsRoles, data: dict[str, Any]
) -> None:
    url = f"/api/v1/quality/characteristics/{data['od']['id']}/spc/xbar-r"
    async with as_roles("operator") as client:
        first = (await client.get(url, params={"work_order_id": data["orders"][0]})).json()
        assert first["subgroups"] == 10
        assert first["xbar"]["center"] == pytest.approx(
            spc.xbar_r(SUBGROUPS[:10]).xbar.limits.center
        )
        window = (
            await client.get(
                url,
                params={
                    "since": (T0 + timedelta(hours=5)).isoformat(),
                    "until": (T0 + timedelta(hours=8)).isoformat(),
                },
            )
        ).json()
        assert window["subgroups"] == 3
        newest = (await client.get(url, params={"limit": 10})).json()
        # the newest 10 values: all of the last two subgroups and half of the one before
        assert newest["subgroups"] == 2 and newest["incomplete_skipped"] == 1
        assert [p["inspection_id"] for p in newest["xbar"]["points"]] == data["inspections"][18:]


async def test_individuals_and_capability(as_roles: AsRoles, data: dict[str, Any]) -> None:
    values = [v for g in SUBGROUPS for v in g]
    base = f"/api/v1/quality/characteristics/{data['od']['id']}"
    async with as_roles("quality") as client:
        chart = (await client.get(f"{base}/spc/individuals")).json()
        cap = (await client.get(f"{base}/capability")).json()
        per_order = (
            await client.get(f"{base}/capability", params={"work_order_id": data["orders"][1]})
        ).json()
    expected = spc.individuals(values)
    assert chart["values"] == 80
    assert chart["individuals"]["ucl"] == pytest.approx(expected.individuals.limits.ucl)
    assert len(chart["moving_range"]["points"]) == 79
    assert [p["rules"] for p in chart["individuals"]["points"]] == [
        list(p.rules) for p in expected.individuals.points
    ]
    within = spc.sigma_within_subgroups(SUBGROUPS)
    reference = spc.capability(values, lsl=19.985, usl=20.015, sigma_within=within)
    assert cap["sigma_method"] == "rbar/d2" and cap["n"] == 80
    for key in ("cp", "cpk", "pp", "ppk", "mean", "sigma_overall"):
        assert cap[key] == pytest.approx(getattr(reference, key)), key
    assert cap["cpk"] < cap["cp"]
    assert per_order["n"] == 40


async def test_charts_that_cannot_be_made(as_roles: AsRoles, data: dict[str, Any]) -> None:
    plan = data["plan"]
    single, visual = characteristic(plan, "OD1"), characteristic(plan, "VIS")
    async with as_roles("operator") as client:
        empty = await client.get(f"/api/v1/quality/characteristics/{single['id']}/spc/individuals")
        assert empty.status_code == 422
        assert empty.json()["error"]["code"] == "spc_unavailable"
        assert "at least 2 values, got 0" in empty.json()["error"]["message"]
        r = await client.get(f"/api/v1/quality/characteristics/{single['id']}/spc/xbar-r")
        assert r.status_code == 422 and "individuals chart" in r.json()["error"]["message"]
        r = await client.get(f"/api/v1/quality/characteristics/{visual['id']}/capability")
        assert r.status_code == 422 and "attribute" in r.json()["error"]["message"]
        assert (
            await client.get("/api/v1/quality/characteristics/999999/spc/xbar-r")
        ).status_code == 404
        r = await client.get(
            f"/api/v1/quality/characteristics/{data['od']['id']}/spc/xbar-r", params={"lot_id": 5}
        )
        assert (
            r.status_code == 422 and "at least 2 subgroups, got 0" in r.json()["error"]["message"]
        )
        r = await client.get(
            f"/api/v1/quality/characteristics/{data['od']['id']}/spc/xbar-r", params={"limit": 1}
        )
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "query.limit"
    async with as_roles("admin") as client:
        for _ in range(3):
            inspection = await start(client, plan, work_order_id=data["orders"][2])
            await record(client, inspection, [{"characteristic_id": single["id"], "value": "20.0"}])
        flat = await client.get(f"/api/v1/quality/characteristics/{single['id']}/capability")
        assert flat.status_code == 422 and "equal" in flat.json()["error"]["message"]
