"""Fixtures of the gateway tests: settings on the test's own database, a spool directory, a
broker of the test module's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from tests.support.databases import TestDb
from tests.support.gateway import gateway_settings
from tests.support.mosquitto import Broker, private_broker


@pytest.fixture
def settings(db: TestDb, tmp_path: Path) -> GatewaySettings:
    """Gateway settings reaching this test's database, spooling under tmp_path."""
    return gateway_settings(db, tmp_path / "spool")


@pytest.fixture(scope="module")
def own_broker() -> Iterator[Broker]:
    """A broker of the test module's own, for tests that leave persistent sessions and shared
    subscriptions behind, which must not reach the other tests' gateways."""
    with private_broker() as own:
        yield own
