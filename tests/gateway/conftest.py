"""Fixtures of the gateway tests: settings on the test's own database, a spool directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from tests.support.databases import TestDb
from tests.support.gateway import gateway_settings


@pytest.fixture
def settings(db: TestDb, tmp_path: Path) -> GatewaySettings:
    """Gateway settings reaching this test's database, spooling under tmp_path."""
    return gateway_settings(db, tmp_path / "spool")
