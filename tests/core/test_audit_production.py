"""The audit trail of production: every work order and production plan change is one event
naming who did it and when, with the state before and after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.core.bom.helpers import make_item
from tests.core.work_orders.helpers import act, make_order, make_shop
from tests.support.api import AsRoles

SLACK = timedelta(seconds=2)  # the database's clock against the test's


async def trail(client: httpx.AsyncClient, entity: str, entity_id: int) -> list[dict[str, Any]]:
    """The audit events of one entity, oldest first."""
    r = await client.get(
        "/api/v1/audit",
        params={"entity": entity, "entity_id": str(entity_id), "sort": "id", "limit": 500},
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == len(page["items"])
    return list(page["items"])


def steps(events: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str | None]]:
    """(action, who, status before, status after) of each event."""
    return [
        (
            e["action"],
            e["username"],
            (e["before"] or {}).get("status"),
            (e["after"] or {}).get("status"),
        )
        for e in events
    ]


def assert_between(events: list[dict[str, Any]], start: datetime, end: datetime) -> None:
    """Every event was recorded between `start` and `end`, in order."""
    times = [datetime.fromisoformat(e["ts"]) for e in events]
    assert times == sorted(times)
    assert all(start - SLACK <= t <= end + SLACK for t in times), (start, times, end)


async def test_work_order_life_cycle_is_audited(as_roles: AsRoles) -> None:
    async with (
        as_roles("admin") as admin,
        as_roles("planner", username="paula") as planner,
        as_roles("operator", username="otto") as operator,
        as_roles("supervisor") as auditor,
    ):
        shop = await make_shop(admin)
        start = datetime.now(UTC)
        done = await make_order(planner, shop, quantity="4")
        await act(planner, done, "release")
        for action in ("start", "pause", "resume"):
            await act(operator, done, action)
        reported = await operator.post(
            f"/api/v1/work-orders/{done['id']}/reports",
            json={"operation_id": done["operations"][-1]["id"], "good_quantity": "3"},
        )
        assert reported.status_code == 201, reported.text
        completed = await operator.post(
            f"/api/v1/work-orders/{done['id']}/complete", json={"location_id": shop.store["id"]}
        )
        assert completed.status_code == 200, completed.text
        dropped = await make_order(planner, shop, quantity="2")
        await act(planner, dropped, "release")
        await act(planner, dropped, "cancel")
        end = datetime.now(UTC)
        done_trail = await trail(auditor, "work_order", done["id"])
        dropped_trail = await trail(auditor, "work_order", dropped["id"])
    assert steps(done_trail) == [
        ("create", "Paula", None, "planned"),
        ("release", "Paula", "planned", "released"),
        ("start", "Otto", "released", "in_progress"),
        ("pause", "Otto", "in_progress", "paused"),
        ("resume", "Otto", "paused", "in_progress"),
        ("report", "Otto", None, None),
        ("complete", "Otto", "in_progress", "completed"),
    ]
    assert steps(dropped_trail) == [
        ("create", "Paula", None, "planned"),
        ("release", "Paula", "planned", "released"),
        ("cancel", "Paula", "released", "cancelled"),
    ]
    for events in (done_trail, dropped_trail):
        assert_between(events, start, end)
        assert {e["user_id"] for e in events} <= {"test-paula", "test-otto"}
        assert {e["entity_id"] for e in events} == {str(events[0]["after"]["id"])}
    created = done_trail[0]["after"]
    assert created["code"] == done["code"] and created["quantity"] == "4.000000"
    started = done_trail[2]
    assert started["before"]["actual_start"] is None
    assert started["after"]["actual_start"] is not None
    report = done_trail[-2]
    assert float(report["before"]["good_quantity"]) == 0
    assert float(report["after"]["good_quantity"]) == 3
    assert done_trail[-1]["after"]["actual_end"] is not None


async def test_production_plan_changes_are_audited(as_roles: AsRoles) -> None:
    async with (
        as_roles("admin") as admin,
        as_roles("planner", username="paula") as planner,
        as_roles("supervisor") as auditor,
    ):
        shaft = await make_item(admin, "SHAFT", type="finished")
        start = datetime.now(UTC)
        body = {
            "code": "MPS-W49",
            "name": "Week 49",
            "period_start": "2026-11-30",
            "period_end": "2026-12-06",
            "lines": [{"item_id": shaft["id"], "quantity": "30"}],
        }
        created = await planner.post("/api/v1/plans", json=body)
        assert created.status_code == 201, created.text
        plan = created.json()
        renamed = await planner.patch(f"/api/v1/plans/{plan['id']}", json={"name": "Week 49 b"})
        assert renamed.status_code == 200, renamed.text
        released = await planner.post(
            f"/api/v1/plans/{plan['id']}/release", json={"batch_size": "20"}
        )
        assert released.status_code == 200, released.text
        end = datetime.now(UTC)
        plan_trail = await trail(auditor, "production_plan", plan["id"])
        line_trail = await trail(auditor, "production_plan_line", plan["lines"][0]["id"])
    assert steps(plan_trail) == [
        ("create", "Paula", None, "draft"),
        ("update", "Paula", "draft", "draft"),
        ("release", "Paula", "draft", "released"),
    ]
    assert_between(plan_trail, start, end)
    assert plan_trail[0]["after"]["code"] == "MPS-W49"
    assert plan_trail[1]["before"]["name"] == "Week 49"
    assert plan_trail[1]["after"]["name"] == "Week 49 b"
    orders = [o["id"] for o in released.json()["work_orders"]]
    assert len(orders) == 2
    assert plan_trail[2]["after"]["work_orders"] == orders
    assert [(e["action"], e["username"]) for e in line_trail] == [
        ("create", "Paula"),
        ("release", "Paula"),
    ]
    assert line_trail[1]["before"]["released_quantity"] == "0.000000"
    assert line_trail[1]["after"]["released_quantity"] == "30.000000"
