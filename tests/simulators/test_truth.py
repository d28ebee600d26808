"""The event log is ground truth: OEE computed from it agrees with the sampled series, and a live
run logs exactly the events of an offline run with the same seed."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulators.model.events import read_events
from simulators.offline import run_offline
from simulators.runtime import Endpoints, RuntimeOptions, SimulatorRuntime
from simulators.scenario import Scenario, load_scenario_text
from simulators.truth import machine_truth
from tests.simulators.scenarios import single_machine
from tests.support.net import LOOPBACK

ORIGIN = datetime(2026, 1, 5, 6, tzinfo=UTC)
HOUR = 3600.0


def test_oee_from_the_event_log_agrees_with_the_series(tmp_path: Path, demo: Scenario) -> None:
    series_path, events_path = tmp_path / "s.jsonl.gz", tmp_path / "e.jsonl"
    run_offline(demo, 11, duration_s=4 * HOUR, origin=ORIGIN, series_path=series_path,
                events_path=events_path)  # fmt: skip
    events = list(read_events(events_path))
    start, end = 1 * HOUR, 3.5 * HOUR
    rows: dict[str, list[dict[str, float]]] = {}
    with gzip.open(series_path, "rt") as handle:
        for line in handle:
            row = json.loads(line)
            if "state" in row["values"] and start <= row["t"] <= end:
                rows.setdefault(row["machine"], []).append({"t": row["t"], **row["values"]})
    for code in demo.codes:
        truth = machine_truth(events, code, start, end)
        samples = rows[code]
        # parts: the counters on the wire moved by exactly the parts the log counts
        first, last = samples[0], samples[-1]
        assert last["good_count"] - first["good_count"] == pytest.approx(truth.good, abs=1)
        assert last["scrap_count"] - first["scrap_count"] == pytest.approx(truth.scrap, abs=1)
        # time: the share of 1 s samples in state running matches the logged running time
        running = sum(1 for s in samples if s["state"] == 2) / len(samples)
        assert running == pytest.approx(truth.running_s / truth.window_s, abs=0.01)
        assert sum(truth.time_in_state.values()) == pytest.approx(truth.window_s)
        assert 0 <= truth.availability <= 1 and 0 < truth.quality <= 1
        assert 0.85 < truth.performance < 1.02  # 100 % setpoint, a few % slower per cycle
        assert truth.oee == pytest.approx(truth.availability * truth.performance * truth.quality)


def test_preventive_maintenance_is_planned_time(tmp_path: Path) -> None:
    scenario = load_scenario_text(
        single_machine("maintenance: {every: 8h, duration: 30m, first: 1h}")
    )
    events_path = tmp_path / "e.jsonl"
    run_offline(scenario, 11, duration_s=3 * HOUR, origin=ORIGIN, series_path=None,
                events_path=events_path)  # fmt: skip
    events = list(read_events(events_path))
    truth = machine_truth(events, "M-1", 0.5 * HOUR, 2.5 * HOUR)
    assert truth.planned_stop_s == pytest.approx(1800.0)
    assert truth.planned_s == pytest.approx(truth.window_s - 1800.0)
    assert truth.time_in_state["setup"] == pytest.approx(60.0)  # after maintenance
    assert truth.availability == pytest.approx(truth.running_s / (truth.window_s - 1800.0))


async def test_a_live_run_logs_the_events_of_an_offline_run(tmp_path: Path, demo: Scenario) -> None:
    """Wall-clock jitter changes when values are published, never which events happen."""
    live_log = tmp_path / "live.jsonl"
    options = RuntimeOptions(
        scenario=demo, seed=5, speed=600.0, origin=ORIGIN, event_log=live_log,
        protocols=frozenset(),
        endpoints=Endpoints(LOOPBACK, 0, LOOPBACK, 0, LOOPBACK, 0, LOOPBACK, 0),
    )  # fmt: skip
    runtime = SimulatorRuntime(options)
    await runtime.start()
    deadline = time.monotonic() + 60
    while runtime.plant.now < 1800.0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await runtime.stop()
    live = list(read_events(live_log))
    horizon = live[-1]["t"]
    offline_log = tmp_path / "offline.jsonl"
    run_offline(demo, 5, duration_s=horizon, origin=ORIGIN, series_path=None,
                events_path=offline_log)  # fmt: skip
    offline = list(read_events(offline_log))

    def comparable(records: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k != "seq"} for r in records
                if r["type"] not in ("run_start", "run_end")]  # fmt: skip

    assert live[0]["mode"] == "live" and offline[0]["mode"] == "offline"
    assert len(comparable(live)) > 500
    assert comparable(live) == comparable(offline)
