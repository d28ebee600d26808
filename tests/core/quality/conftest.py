"""Quality test fixtures."""

from __future__ import annotations

import pytest

from tests.core.inventory.helpers import make_work_order
from tests.core.quality.helpers import NewOrder
from tests.support.api import AsRoles


@pytest.fixture
def new_order(as_roles: AsRoles) -> NewOrder:
    """`await new_order(item_id)` -> the id of a new planned work order for that item."""

    async def make(item_id: int) -> int:
        async with as_roles("planner") as client:
            return await make_work_order(client, {"id": item_id})

    return make
