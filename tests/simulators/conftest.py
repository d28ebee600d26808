"""Fixtures of the simulator tests: a demo plant served over real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.scenario import Scenario, load_scenario
from tests.support.mosquitto import Broker
from tests.support.simulators import SimProcess, running_simulators

DEMO_SEED = 42
DEMO_SPEED = 10.0


@pytest.fixture(scope="session")
def demo() -> Scenario:
    """The demo scenario."""
    return load_scenario("demo")


@pytest.fixture(scope="module")
def demo_sim(broker: Broker) -> Iterator[SimProcess]:
    """`mes sim --scenario demo` at 10x, shared by the tests of one module."""
    with running_simulators(broker, scenario="demo", seed=DEMO_SEED, speed=DEMO_SPEED) as sim:
        yield sim
