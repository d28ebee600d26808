"""Downtime: the reason tree, events per equipment, no overlaps (also under concurrency)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.core.equipment.helpers import make_plant
from tests.support.api import AsRoles


async def _reason(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/downtime/reasons", json={"name": body["code"], **body})
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def _tree(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """BREAKDOWN (category) > SPINDLE (failure); PLANNED (category) > BREAK (planned)."""
    breakdown = await _reason(
        client, code="BREAKDOWN", kind="category", loss_category="equipment_failure"
    )
    spindle = await _reason(
        client,
        code="SPINDLE",
        kind="reason",
        parent_id=breakdown["id"],
        loss_category="equipment_failure",
    )
    planned = await _reason(client, code="PLANNED", kind="category", planned=True)
    pause = await _reason(
        client, code="BREAK", kind="reason", parent_id=planned["id"], planned=True
    )
    return {"BREAKDOWN": breakdown, "SPINDLE": spindle, "PLANNED": planned, "BREAK": pause}


def _ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


async def test_reason_tree_and_rules(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as client:
        reasons = await _tree(client)
        tree = (await client.get("/api/v1/downtime/reasons/tree")).json()
        cases: list[tuple[dict[str, Any], str, int]] = [
            (
                {"code": "X", "kind": "reason", "parent_id": reasons["BREAKDOWN"]["id"]},
                "loss category",
                422,
            ),
            (
                {"code": "X", "kind": "reason", "planned": True, "loss_category": "reduced_speed"},
                "planned reason has no loss category",
                422,
            ),
            (
                {
                    "code": "X",
                    "kind": "reason",
                    "parent_id": reasons["SPINDLE"]["id"],
                    "loss_category": "equipment_failure",
                },
                "must be a category",
                422,
            ),
            ({"code": "SPINDLE", "kind": "category"}, "already exists", 409),
            ({"code": "X", "kind": "reason", "loss_category": "lunch"}, "loss_category", 422),
        ]
        for body, text, status in cases:
            r = await client.post("/api/v1/downtime/reasons", json={"name": "x", **body})
            assert r.status_code == status, (body, r.text)
            assert text in r.text
        inner = await _reason(
            client, code="MECH", kind="category", parent_id=reasons["BREAKDOWN"]["id"]
        )
        cycle = await client.patch(
            f"/api/v1/downtime/reasons/{reasons['BREAKDOWN']['id']}",
            json={"parent_id": inner["id"]},
        )
        moved = await client.patch(
            f"/api/v1/downtime/reasons/{reasons['SPINDLE']['id']}", json={"parent_id": inner["id"]}
        )
        busy = await client.delete(f"/api/v1/downtime/reasons/{reasons['PLANNED']['id']}")
        listed = (
            await client.get("/api/v1/downtime/reasons", params={"kind": "reason", "sort": "code"})
        ).json()
    assert [(n["code"], [c["code"] for c in n["children"]]) for n in tree] == [
        ("BREAKDOWN", ["SPINDLE"]),
        ("PLANNED", ["BREAK"]),
    ]
    assert cycle.status_code == 409 and "cycle" in cycle.text
    assert moved.status_code == 200 and moved.json()["parent_id"] == inner["id"]
    assert busy.status_code == 409
    assert [r["code"] for r in listed["items"]] == ["BREAK", "SPINDLE"]


async def test_events_open_close_assign_and_list(as_roles: AsRoles) -> None:
    async with as_roles("engineer") as engineer, as_roles("operator") as operator:
        plant = await make_plant(engineer)
        reasons = await _tree(engineer)
        cnc = plant["CNC-1"]["id"]
        opened = await operator.post(
            "/api/v1/downtime/events", json={"equipment_id": cnc, "start_ts": _ago(30)}
        )
        assert opened.status_code == 201, opened.text
        event = opened.json()
        assert (event["end_ts"], event["duration_seconds"], event["source"]) == (
            None,
            None,
            "manual",
        )
        second = await operator.post(
            "/api/v1/downtime/events", json={"equipment_id": cnc, "start_ts": _ago(5)}
        )
        assert second.status_code == 409 and "overlaps" in second.text
        unassigned = (
            await operator.get("/api/v1/downtime/events", params={"unassigned": True})
        ).json()
        assert [e["id"] for e in unassigned["items"]] == [event["id"]]
        category = await operator.post(
            f"/api/v1/downtime/events/{event['id']}/close",
            json={"reason_id": reasons["BREAKDOWN"]["id"]},
        )
        assert category.status_code == 422
        closed = await operator.post(
            f"/api/v1/downtime/events/{event['id']}/close",
            json={"end_ts": _ago(10), "reason_id": reasons["SPINDLE"]["id"]},
        )
        assert closed.status_code == 200, closed.text
        body = closed.json()
        assert (body["reason_code"], body["loss_category"], body["planned"]) == (
            "SPINDLE",
            "equipment_failure",
            False,
        )
        assert 1190 <= body["duration_seconds"] <= 1210
        again = await operator.post(f"/api/v1/downtime/events/{event['id']}/close", json={})
        assert again.status_code == 409
        after = await operator.post(
            "/api/v1/downtime/events",
            json={"equipment_id": cnc, "start_ts": _ago(5), "reason_id": reasons["BREAK"]["id"]},
        )
        assert after.status_code == 201 and after.json()["planned"] is True
        reassigned = await operator.patch(
            f"/api/v1/downtime/events/{after.json()['id']}",
            json={"reason_id": reasons["SPINDLE"]["id"], "comment": "not a break after all"},
        )
        assert reassigned.json()["planned"] is False
        bad_move = await operator.patch(
            f"/api/v1/downtime/events/{after.json()['id']}", json={"start_ts": _ago(15)}
        )
        assert bad_move.status_code == 409
        line_wide = (
            await operator.get(
                "/api/v1/downtime/events",
                params={"equipment_id": plant["L1"]["id"], "include_children": True},
            )
        ).json()
        only_line = (
            await operator.get(
                "/api/v1/downtime/events", params={"equipment_id": plant["L1"]["id"]}
            )
        ).json()
        open_now = (await operator.get("/api/v1/downtime/events", params={"open": True})).json()
        window = (
            await operator.get(
                "/api/v1/downtime/events", params={"since": _ago(12), "until": _ago(8)}
            )
        ).json()
        denied = await operator.delete(f"/api/v1/downtime/events/{event['id']}")
        deleted = await engineer.delete(f"/api/v1/downtime/events/{event['id']}")
    assert line_wide["total"] == 2 and only_line["total"] == 0
    assert [e["id"] for e in open_now["items"]] == [after.json()["id"]]
    assert [e["id"] for e in window["items"]] == [event["id"]]
    assert denied.status_code == 403 and deleted.status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start_ts": "2026-01-01T00:00:00"}, "body.start_ts"),
        ({"start_ts": "2099-01-01T00:00:00Z"}, "body.start_ts"),
        ({"start_ts": "2026-01-01T01:00:00Z", "end_ts": "2026-01-01T00:00:00Z"}, "body.end_ts"),
        ({"start_ts": "2026-01-01T00:00:00Z", "source": "plc"}, "body.source"),
        ({"start_ts": "2026-01-01T00:00:00Z", "equipment_id": 999999}, "body.equipment_id"),
    ],
)
async def test_bad_events_are_422_and_change_nothing(
    as_roles: AsRoles, body: dict[str, Any], field: str
) -> None:
    async with as_roles("admin") as admin:
        plant = await make_plant(admin)
        r = await admin.post(
            "/api/v1/downtime/events", json={"equipment_id": plant["CNC-1"]["id"], **body}
        )
        assert r.status_code == 422, r.text
        assert field in [d["field"] for d in r.json()["error"]["details"]], r.text
        assert (await admin.get("/api/v1/downtime/events")).json()["total"] == 0


async def test_parallel_opens_on_one_machine_leave_one_event(as_roles: AsRoles) -> None:
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        cnc = plant["CNC-1"]["id"]

        async def open_one(minutes: int) -> int:
            r = await client.post(
                "/api/v1/downtime/events",
                json={"equipment_id": cnc, "start_ts": _ago(minutes), "source": "auto"},
            )
            return r.status_code

        codes = await asyncio.gather(*[open_one(10 + i) for i in range(12)])
        events = (await client.get("/api/v1/downtime/events")).json()
    assert sorted(codes) == [201] + [409] * 11
    assert events["total"] == 1 and events["items"][0]["source"] == "auto"
