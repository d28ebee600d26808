"""The `run_start` event: what ran (scenario, seed, speed, origin) and each machine's facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulators.model.events import Event
from simulators.model.timefmt import iso_ms
from simulators.scenario.definitions import Scenario

SCHEMA_VERSION = 1


def run_start_event(
    scenario: Scenario, seed: int, *, origin: datetime, mode: str, speed: float | None
) -> Event:
    """Run-level facts at t=0; `ideal_cycle_s` per machine makes OEE computable from the log."""
    data: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "scenario": scenario.name,
        "source": scenario.source,
        "params": scenario.params,
        "seed": seed,
        "mode": mode,
        "speed": speed,
        "origin": iso_ms(round(origin.timestamp() * 1000)),
        "site": scenario.site_code,
        "machines": [
            {
                "code": m.code,
                "area": m.area,
                "line": m.line,
                "type": m.type,
                "protocol": m.protocol,
                "product": m.product,
                "ideal_cycle_s": m.ideal_cycle,
                "feeds": m.feeds,
                "failure_modes": [f.kind for f in m.failures],
            }
            for m in scenario.machines
        ],
    }
    return Event(0.0, "run_start", None, data)
