"""Non-conformances: sources, life cycle open -> under_review -> closed, invalid transitions,
audit with users, concurrent transitions, list."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from tests.core.inventory.helpers import lot_by_code, make_location, make_work_order, receive
from tests.core.quality.helpers import NewOrder, characteristic, make_plan, record, start
from tests.support.api import AsRoles


@pytest.fixture
async def failed(as_roles: AsRoles) -> dict[str, Any]:
    """A failed inspection of lot SH-1 from a work order."""
    async with as_roles("admin") as client:
        plan = await make_plan(client)
        order = await make_work_order(client, {"id": plan["item_id"]})
        store = await make_location(client, "STORE")
        await receive(client, {"id": plan["item_id"]}, store, 50, "SH-1")
        lot = await lot_by_code(client, plan["item_id"], "SH-1")
        inspection = await start(client, plan, lot_id=lot["id"], work_order_id=order)
        burr = characteristic(plan, "BURR")
        await record(client, inspection, [{"characteristic_id": burr["id"], "passed": False}])
        return {"plan": plan, "lot": lot, "inspection": inspection, "order": order}


async def test_life_cycle(as_roles: AsRoles, failed: dict[str, Any]) -> None:
    async with as_roles("operator", username="otto") as client:
        r = await client.post(
            "/api/v1/quality/non-conformances",
            json={
                "title": "Burrs on shaft ends",
                "severity": "major",
                "inspection_id": failed["inspection"]["id"],
                "quantity": 12,
            },
        )
        assert r.status_code == 201, r.text
        nc = r.json()
        assert (nc["status"], nc["lot_id"], nc["work_order_id"], nc["item_id"]) == (
            "open",
            failed["lot"]["id"],
            failed["order"],
            failed["plan"]["item_id"],
        )
        assert nc["reported_by"] == "Otto" and nc["disposition"] is None
        denied = await client.post(
            f"/api/v1/quality/non-conformances/{nc['id']}/transitions",
            json={"status": "under_review"},
        )
        assert denied.status_code == 403
    url = f"/api/v1/quality/non-conformances/{nc['id']}"
    async with as_roles("quality", username="quinn") as client:
        skip = await client.post(
            f"{url}/transitions", json={"status": "closed", "disposition": "scrap"}
        )
        assert skip.status_code == 409
        assert skip.json()["error"]["code"] == "invalid_transition"
        review = await client.post(f"{url}/transitions", json={"status": "under_review"})
        assert review.status_code == 200
        assert (review.json()["status"], review.json()["reviewed_by"]) == ("under_review", "Quinn")
        assert review.json()["review_started_at"] is not None
        undecided = await client.post(f"{url}/transitions", json={"status": "closed"})
        assert undecided.status_code == 422
        assert undecided.json()["error"]["details"][0]["field"] == "body.disposition"
        assert (await client.get(url)).json()["status"] == "under_review"
        decided = await client.patch(
            url, json={"disposition": "rework", "disposition_note": "deburr"}
        )
        assert decided.status_code == 200
        closed = await client.post(f"{url}/transitions", json={"status": "closed"})
        assert closed.status_code == 200
        assert (
            closed.json()["status"],
            closed.json()["disposition"],
            closed.json()["closed_by"],
        ) == ("closed", "rework", "Quinn")
        for status in ("open", "under_review", "closed"):
            again = await client.post(f"{url}/transitions", json={"status": status})
            assert again.status_code == 409
        frozen = await client.patch(url, json={"title": "changed"})
        assert frozen.status_code == 409
    async with as_roles("supervisor") as auditor:
        events = (
            await auditor.get(
                "/api/v1/audit", params={"entity": "non_conformance", "entity_id": nc["id"]}
            )
        ).json()["items"]
    assert [(e["action"], e["username"]) for e in events] == [
        ("transition", "Quinn"),
        ("update", "Quinn"),
        ("transition", "Quinn"),
        ("create", "Otto"),
    ]
    assert (events[0]["before"]["status"], events[0]["after"]["status"]) == (
        "under_review",
        "closed",
    )


async def test_sources_and_validation(as_roles: AsRoles, failed: dict[str, Any]) -> None:
    async with as_roles("quality") as client:
        base = {"title": "Dent", "severity": "minor"}
        cases: list[tuple[dict[str, Any], int, str | None]] = [
            ({}, 422, None),
            ({"lot_id": 999999}, 404, "body.lot_id"),
            ({"inspection_id": 999999}, 404, "body.inspection_id"),
            ({"work_order_id": 5, "severity": "cosmetic"}, 422, "body.severity"),
            ({"work_order_id": 5, "quantity": 0}, 422, "body.quantity"),
            ({"work_order_id": 5, "disposition": "sell"}, 422, "body.disposition"),
        ]
        for extra, status, field in cases:
            r = await client.post("/api/v1/quality/non-conformances", json={**base, **extra})
            assert r.status_code == status, (extra, r.text)
            if field:
                assert field in [d["field"] for d in r.json()["error"]["details"]]
        by_lot = await client.post(
            "/api/v1/quality/non-conformances", json={**base, "lot_id": failed["lot"]["id"]}
        )
        assert by_lot.json()["item_id"] == failed["plan"]["item_id"]
        by_order = await client.post(
            "/api/v1/quality/non-conformances", json={**base, "work_order_id": failed["order"]}
        )
        unknown = await client.post(
            "/api/v1/quality/non-conformances", json={**base, "work_order_id": 999999}
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"]["details"][0]["field"] == "body.work_order_id"
        assert by_order.status_code == 201 and by_order.json()["item_id"] is None
        assert (await client.get("/api/v1/quality/non-conformances")).json()["total"] == 2
        assert (await client.get("/api/v1/quality/non-conformances/999999")).status_code == 404


async def test_concurrent_transitions_leave_a_valid_state(
    as_roles: AsRoles, failed: dict[str, Any]
) -> None:
    async with as_roles("supervisor") as client:
        nc = (
            await client.post(
                "/api/v1/quality/non-conformances",
                json={"title": "Leak", "severity": "critical", "lot_id": failed["lot"]["id"]},
            )
        ).json()
        url = f"/api/v1/quality/non-conformances/{nc['id']}/transitions"
        bodies = [{"status": "under_review"}] * 5 + [
            {"status": "closed", "disposition": "scrap"}
        ] * 5
        responses = await asyncio.gather(*(client.post(url, json=b) for b in bodies))
        codes = Counter(r.status_code for r in responses)
        assert codes[200] in (1, 2) and codes[200] + codes[409] == 10
        final = (await client.get(f"/api/v1/quality/non-conformances/{nc['id']}")).json()
        assert final["status"] == ("closed" if codes[200] == 2 else "under_review")
    async with as_roles("admin") as auditor:
        events = (
            await auditor.get(
                "/api/v1/audit",
                params={"entity": "non_conformance", "entity_id": nc["id"], "action": "transition"},
            )
        ).json()
        assert events["total"] == codes[200]


async def test_list_filters(as_roles: AsRoles, failed: dict[str, Any], new_order: NewOrder) -> None:
    one, two = failed["order"], await new_order(failed["plan"]["item_id"])
    async with as_roles("quality") as client:
        for title, severity, wo in (
            ("Burr", "minor", one),
            ("Crack", "critical", two),
            ("Scratch", "minor", two),
        ):
            await client.post(
                "/api/v1/quality/non-conformances",
                json={"title": title, "severity": severity, "work_order_id": wo},
            )
        minor = (
            await client.get(
                "/api/v1/quality/non-conformances", params={"severity": "minor", "sort": "id"}
            )
        ).json()
        assert [n["title"] for n in minor["items"]] == ["Burr", "Scratch"]
        wo2 = (
            await client.get("/api/v1/quality/non-conformances", params={"work_order_id": two})
        ).json()
        assert wo2["total"] == 2
        crack = (await client.get("/api/v1/quality/non-conformances", params={"q": "crack"})).json()
        assert [n["severity"] for n in crack["items"]] == ["critical"]
        open_ = (
            await client.get("/api/v1/quality/non-conformances", params={"status": "open"})
        ).json()
        assert open_["total"] == 3
        assert (
            await client.get("/api/v1/quality/non-conformances", params={"sort": "-colour"})
        ).status_code == 422
