"""Fuzzing every item operation and the audit trail with valid and invalid generated requests:
never a 5xx, always the declared status codes and response schemas."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.core.bom.helpers import make_bom
from tests.core.inventory.fuzz import FUZZ, fuzz_as_admin, operations
from tests.core.inventory.helpers import make_item, make_location, make_work_order, receive
from tests.support.api import AsRoles

OPERATIONS = [*operations("/api/v1/items"), ("GET", "/api/v1/audit")]


def test_every_item_operation_is_fuzzed() -> None:
    assert {m for m, p in OPERATIONS if p == "/api/v1/items/{item_id}"} == {
        "GET",
        "PATCH",
        "DELETE",
    }
    assert {m for m, p in OPERATIONS if p == "/api/v1/items"} == {"GET", "POST"}


@pytest.fixture
async def seeded(as_roles: AsRoles) -> None:
    """Items free and in use (BOM, stock, a work order), and their audit events, so generated
    small ids hit real rows."""
    async with as_roles("admin") as client:
        shaft = await make_item(client, "SHAFT", lot_tracked=False)
        bar = await make_item(client, "BAR")
        await make_item(client, "FREE", lot_tracked=False)
        await make_bom(client, shaft["id"], [(bar["id"], "0.5")])
        store = await make_location(client, "STORE")
        await receive(client, bar, store, 10, "B-1")
        await make_work_order(client, shaft)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@FUZZ
@given(data=st.data())
async def test_item_and_audit_operation(
    seeded: None, as_roles: AsRoles, method: str, path: str, mode: GenerationMode, data: Any
) -> None:
    await fuzz_as_admin(as_roles, method, path, mode, data)
