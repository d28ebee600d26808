"""Error details name the field where it sits in the request, as FastAPI names its own
validation errors (`query.sort`, `body.lot_id`), for the errors services raise as well."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.core.equipment.helpers import make_plant
from tests.core.inventory.helpers import make_item, make_location, make_work_order
from tests.support.api import AsRoles

START = "2026-12-02T00:00:00Z"
END = "2026-12-01T00:00:00Z"  # before START


def fields(r: httpx.Response, status: int = 422) -> list[str]:
    """The fields the error body names, after checking its status."""
    assert r.status_code == status, r.text
    return [d["field"] for d in r.json()["error"]["details"]]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/items",
        "/api/v1/inventory/locations",
        "/api/v1/downtime/events",
        "/api/v1/quality/non-conformances",
        "/api/v1/audit",
    ],
)
async def test_an_unknown_sort_names_the_query_parameter(as_roles: AsRoles, path: str) -> None:
    async with as_roles("admin") as client:
        r = await client.get(path, params={"sort": "-colour"})
    assert fields(r) == ["query.sort"]


async def test_an_issue_without_a_lot_of_a_lot_tracked_item_names_the_body_field(
    as_roles: AsRoles,
) -> None:
    async with as_roles("admin") as client:
        steel = await make_item(client, "STEEL")
        store = await make_location(client, "STORE")
        r = await client.post(
            "/api/v1/inventory/issues",
            json={"item_id": steel["id"], "quantity": 1, "from_location_id": store["id"]},
        )
    assert fields(r) == ["body.lot_id"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": START, "end": END}, "query.end"),
        ({"start": "2026-12-01T00:00:00", "end": START}, "query.start"),
        ({"start": END, "end": START, "timezone": "Mars/Olympus"}, "query.timezone"),
    ],
)
async def test_a_bad_report_range_names_the_query_parameter(
    as_roles: AsRoles, params: dict[str, str], field: str
) -> None:
    async with as_roles("admin") as client:
        r = await client.get("/api/v1/reports/production", params=params)
    assert fields(r) == [field]


async def test_a_planned_time_range_ending_before_its_start_names_the_query_parameter(
    as_roles: AsRoles,
) -> None:
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        r = await client.get(
            "/api/v1/calendar/planned-time",
            params={"equipment_id": plant["CNC-1"]["id"], "start": START, "end": END},
        )
    assert fields(r) == ["query.end"]


async def test_a_downtime_ending_before_its_start_names_the_body_field(
    as_roles: AsRoles,
) -> None:
    now = datetime.now(UTC)
    async with as_roles("admin") as client:
        plant = await make_plant(client)
        r = await client.post(
            "/api/v1/downtime/events",
            json={
                "equipment_id": plant["CNC-1"]["id"],
                "start_ts": (now - timedelta(minutes=10)).isoformat(),
                "end_ts": (now - timedelta(minutes=20)).isoformat(),
            },
        )
    assert fields(r) == ["body.end_ts"]


async def test_closing_a_non_conformance_without_a_disposition_names_the_body_field(
    as_roles: AsRoles,
) -> None:
    async with as_roles("admin") as client:
        shaft = await make_item(client, "SHAFT")
        order = await make_work_order(client, shaft)
        created = await client.post(
            "/api/v1/quality/non-conformances",
            json={"title": "Dent", "severity": "minor", "work_order_id": order},
        )
        assert created.status_code == 201, created.text
        url = f"/api/v1/quality/non-conformances/{created.json()['id']}/transitions"
        skipped = await client.post(url, json={"status": "closed", "disposition": "scrap"})
        reviewed = await client.post(url, json={"status": "under_review"})
        assert reviewed.status_code == 200, reviewed.text
        undecided = await client.post(url, json={"status": "closed"})
    assert fields(skipped, 409) == ["body.status"]
    assert fields(undecided) == ["body.disposition"]
