"""Fixtures of the live-MES tests: an admin client, the small live plant, and its engine driver
(micro-stops below 2 minutes, readings never stale). A module may override `drive`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.core.live.helpers import Drive, LivePlant, live_settings, make_live_plant
from tests.support.api import AsRoles
from tests.support.databases import TestDb


@pytest.fixture
async def admin(as_roles: AsRoles) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's API client."""
    async with as_roles("admin") as client:
        yield client


@pytest.fixture
async def plant(admin: httpx.AsyncClient, db: TestDb) -> LivePlant:
    """The live plant's equipment, signals and items (tests.core.live.helpers)."""
    return await make_live_plant(admin, db)


@pytest.fixture
async def drive(app: FastAPI, plant: LivePlant) -> Drive:
    """The live engine on `app`, driven pass by pass."""
    d = Drive(app, plant, live_settings(live_micro_stop_s=120, live_stale_s=86400))
    await d.start()
    return d
