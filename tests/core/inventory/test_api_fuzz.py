"""Fuzzing every inventory operation with valid and invalid generated requests: never a 5xx,
always the declared status codes and response schemas."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.core.inventory.fuzz import FUZZ, fuzz_as_admin, operations
from tests.core.inventory.helpers import make_item, make_location, make_work_order, receive
from tests.support.api import AsRoles


@pytest.fixture
async def seeded(as_roles: AsRoles) -> None:
    """A little of everything, so generated small ids sometimes hit real rows."""
    async with as_roles("admin") as client:
        steel = await make_item(client, "STEEL")
        nut = await make_item(client, "NUT", lot_tracked=False)
        store = await make_location(client, "STORE")
        await make_location(client, "LINE", type="line_side", parent_id=store["id"])
        await receive(client, steel, store, 100, "S-1")
        await receive(client, nut, store, 50)
        await make_work_order(client, steel)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), operations("/api/v1/inventory"))
@FUZZ
@given(data=st.data())
async def test_inventory_operation(
    seeded: None, as_roles: AsRoles, method: str, path: str, mode: GenerationMode, data: Any
) -> None:
    await fuzz_as_admin(as_roles, method, path, mode, data)
