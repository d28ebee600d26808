"""Fuzzing every quality operation with valid and invalid generated requests: never a 5xx,
always the declared status codes and response schemas."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.core.inventory.fuzz import FUZZ, fuzz_as_admin, operations
from tests.core.inventory.helpers import make_work_order
from tests.core.quality.helpers import characteristic, make_plan, record, start
from tests.support.api import AsRoles


@pytest.fixture
async def seeded(as_roles: AsRoles) -> None:
    """A plan, an inspection with results and a non-conformance, so small ids hit rows."""
    async with as_roles("admin") as client:
        plan = await make_plan(client)
        order = await make_work_order(client, {"id": plan["item_id"]})
        inspection = await start(client, plan, work_order_id=order)
        od = characteristic(plan, "OD")
        for value in ("20.01", "19.99", "20.02"):
            await record(client, inspection, [{"characteristic_id": od["id"], "value": value}])
        r = await client.post(
            "/api/v1/quality/non-conformances",
            json={"title": "Burr", "severity": "minor", "work_order_id": order},
        )
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), operations("/api/v1/quality"))
@FUZZ
@given(data=st.data())
async def test_quality_operation(
    seeded: None, as_roles: AsRoles, method: str, path: str, mode: GenerationMode, data: Any
) -> None:
    await fuzz_as_admin(as_roles, method, path, mode, data)
