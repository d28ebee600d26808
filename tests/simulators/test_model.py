"""The plant model without sockets: determinism, states, counters, degradation and failures."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from simulators.model import CommandError, Plant, Sample
from simulators.model.events import Event
from simulators.offline import run_offline
from simulators.scenario import Scenario, load_scenario_text
from tests.simulators.scenarios import FAILURE_PLANT, single_machine

HOUR = 3600.0


def run(scenario: Scenario, seed: int, until: float) -> tuple[list[Sample], list[Event]]:
    plant = Plant(scenario, seed)
    samples = plant.advance(until)
    return samples, plant.drain_events()


def series(
    plant_samples: list[Sample], plant: Plant, code: str, name: str
) -> list[tuple[float, Any]]:
    index = plant.by_code[code].defn.index
    out = []
    for s in plant_samples:
        if s.machine == index:
            names = plant.signals(s.machine, s.group)
            for sig, value in zip(names, s.values, strict=True):
                if sig.name == name:
                    out.append((s.t, value))
    return out


def test_same_seed_same_series_and_events(demo: Scenario) -> None:
    first = run(demo, 5, 2 * HOUR)
    second = run(demo, 5, 2 * HOUR)
    assert first == second
    other = run(demo, 6, 2 * HOUR)
    assert other[0] != first[0] and other[1] != first[1]


def test_results_do_not_depend_on_how_time_is_sliced(demo: Scenario) -> None:
    """A live run advances in uneven wall-clock ticks; the model must not notice."""
    whole = run(demo, 9, HOUR)
    plant = Plant(demo, 9)
    rng = random.Random(1)
    samples: list[Sample] = []
    t = 0.0
    while t < HOUR:
        t = min(HOUR, t + rng.choice([0.013, 0.05, 0.37, 1.0, 7.5, 61.0, 333.3]))
        samples += plant.advance(t)
    assert (samples, plant.drain_events()) == whole


def test_offline_files_are_identical_for_the_same_seed(tmp_path: Path, demo: Scenario) -> None:
    origin = datetime(2026, 1, 5, 6, tzinfo=UTC)
    outputs = []
    for n in (1, 2):
        series_path, events_path = tmp_path / f"s{n}.jsonl.gz", tmp_path / f"e{n}.jsonl"
        summary = run_offline(demo, 3, duration_s=HOUR, origin=origin, series_path=series_path,
                              events_path=events_path)  # fmt: skip
        outputs.append((series_path.read_bytes(), events_path.read_bytes(), summary))
    assert outputs[0] == outputs[1]
    assert outputs[0][2].values > 83 * 3600


def test_states_blocked_starved_and_counters(demo: Scenario) -> None:
    _, events = run(demo, 42, 2 * HOUR)
    reached = {(e.machine, e.data["to"]) for e in events if e.type == "state"}
    assert ("CNC-101", "blocked") in reached  # two CNCs feed one slower lathe
    assert ("PACK-205", "starved") in reached  # the packer outruns the tester
    cycles = [e for e in events if e.type == "cycle" and e.machine == "LATHE-103"]
    last = cycles[-1].data
    assert last["good_count"] + last["scrap_count"] == len(cycles)
    assert all(c.data["cycle_time"] >= 20.0 for c in cycles[1:])  # ideal 20 s at 100 %


def test_stop_start_setpoint_and_reset() -> None:
    plant = Plant(load_scenario_text(single_machine()), 1)
    plant.advance(100.0)
    plant.command("M-1", "stop")
    stopped_at = plant.now
    plant.advance(400.0)
    events = plant.drain_events()
    assert not [e for e in events if e.type == "cycle" and e.t > stopped_at]
    assert plant.machine("M-1").state.label == "idle"
    plant.command("M-1", "setpoint", 50)
    plant.command("M-1", "start")
    plant.advance(1000.0)
    cycles = [e for e in plant.drain_events() if e.type == "cycle"]
    assert cycles and all(c.data["cycle_time"] >= 20.0 for c in cycles)  # 10 s ideal at 50 %
    good = plant.machine("M-1").good
    plant.command("M-1", "reset")
    reset = [e for e in plant.drain_events() if e.type == "counter_reset"]
    assert reset[0].data["good_count_before"] == good and plant.machine("M-1").good == 0
    with pytest.raises(CommandError, match="setpoint must be"):
        plant.command("M-1", "setpoint", 300)
    with pytest.raises(CommandError, match="unknown machine"):
        plant.command("M-9", "stop")
    refused = [e for e in plant.drain_events() if e.type == "command" and not e.data["accepted"]]
    assert [e.data["command"] for e in refused] == ["setpoint"]


def test_counters_wrap_at_32_bits() -> None:
    plant = Plant(load_scenario_text(single_machine("counters: {good: 4294967290}")), 1)
    plant.advance(200.0)
    events = plant.drain_events()
    assert [e.data["counter"] for e in events if e.type == "counter_wrap"] == ["good_count"]
    assert plant.machine("M-1").good < 20


def test_bearing_wear_shows_precursors_before_the_failure() -> None:
    scenario = load_scenario_text(FAILURE_PLANT)
    plant = Plant(scenario, 2)
    samples = plant.advance(1200.0)
    events = plant.drain_events()
    for code in ("CNC-901", "LATHE-902", "ROBOT-903"):
        mine = [e for e in events if e.machine == code]
        onset = next(e for e in mine if e.type == "failure_onset")
        warning = next(e for e in mine if e.type == "warning")
        failure = next(e for e in mine if e.type == "failure")
        assert (onset.t, failure.t) == (300.0, 600.0)
        assert onset.t < warning.t < failure.t and failure.data["precursor"] is True
        assert onset.data["failure_id"] == failure.data["failure_id"]
        vib = series(samples, plant, code, "vibration_rms")
        before = statistics.mean(v for t, v in vib if t < 300)
        late = statistics.mean(v for t, v in vib if 540 <= t < 600)
        assert late > 2 * before
        temp = dict(series(samples, plant, code, "temperature"))
        assert temp[599.0] > temp[299.0] + 2
        alarms = [e.data["alarm_code"] for e in mine if e.type == "alarm"]
        assert alarms[:3] == [101, 201, 0]  # warning, failure, repaired
        end = next(e for e in mine if e.type == "maintenance_end")
        after = statistics.mean(v for t, v in vib if t > end.t + 120)
        assert after < 1.5 * before  # maintenance reset the degradation


def test_tool_wear_raises_scrap_and_current() -> None:
    text = single_machine("failure_modes:\n  - {mode: tool_wear, life_parts: [2000, 2000]}")
    plant = Plant(load_scenario_text(text), 4)
    samples = plant.advance(8 * HOUR)
    events = plant.drain_events()
    failures = [e for e in events if e.type == "failure"]
    assert failures and failures[0].data["mode"] == "tool_wear"
    onset = next(e for e in events if e.type == "failure_onset")
    assert onset.t < failures[0].t
    cycles = [e for e in events if e.type == "cycle" and e.t < failures[0].t]
    early = [c for c in cycles if c.t < onset.t]
    late = cycles[-150:]
    scrap_rate = [sum(not c.data["good"] for c in part) / len(part) for part in (early, late)]
    assert scrap_rate[1] > scrap_rate[0] + 0.05
    current = series(samples, plant, "M-1", "motor_current")
    first = statistics.mean(v for t, v in current if t < onset.t and v > 5)
    last = statistics.mean(
        v for t, v in current if failures[0].t - 300 < t < failures[0].t and v > 5
    )
    assert last > first * 1.15


def test_sudden_failures_have_no_precursor() -> None:
    text = single_machine("failure_modes:\n  - {mode: sudden, mtbf: 2h}")
    _, events = run(load_scenario_text(text), 8, 24 * HOUR)
    failures = [e for e in events if e.type == "failure"]
    assert len(failures) >= 3
    assert all(f.data["precursor"] is False and f.data["mode"] == "sudden" for f in failures)
    assert not [e for e in events if e.type == "failure_onset"]
    # down, then maintenance, then setup, then production
    states = [e.data["to"] for e in events if e.type == "state"]
    first_down = states.index("down")
    assert states[first_down : first_down + 4] == ["down", "maintenance", "setup", "running"]


def test_preventive_maintenance_averts_a_failure() -> None:
    text = single_machine(
        "maintenance: {every: 24h, duration: 20m, first: 4h}\n"
        "failure_modes:\n  - {mode: bearing_wear, precursor: 2h, schedule: [5h, 30h]}"
    )
    _, events = run(load_scenario_text(text), 1, 12 * HOUR)
    averted = [e for e in events if e.type == "failure_averted"]
    assert averted and averted[0].data["by"] == "maintenance"
    assert not [e for e in events if e.type == "failure"]
    kinds = [e.data["kind"] for e in events if e.type == "maintenance_start"]
    assert kinds == ["preventive"]


def test_fail_and_maintain_commands() -> None:
    plant = Plant(load_scenario_text(single_machine()), 1)
    plant.advance(50.0)
    snap = plant.command("M-1", "fail", mode="bearing_wear", response=30, duration=60)
    assert snap["state"] == "down" and snap["alarm_code"] == 201
    with pytest.raises(CommandError, match="already down"):
        plant.command("M-1", "fail")
    plant.advance(200.0)
    events = plant.drain_events()
    ends = [e for e in events if e.type == "maintenance_end"]
    assert ends and ends[0].t == pytest.approx(50.0 + 90.0)
    plant.command("M-1", "maintain", duration=600)
    assert plant.machine("M-1").state.label == "maintenance"
