"""Scenario files: the demo plant matches docs/demo-plant.md; bad files get errors that name the
key path and the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulators.scenario import (
    Scenario,
    ScenarioError,
    builtin_names,
    load_scenario,
    load_scenario_text,
)
from simulators.scenario.catalog import TYPES
from simulators.scenario.schema import MachineSpec
from tests.simulators.scenarios import single_machine

DOC = Path(__file__).resolve().parents[2] / "docs" / "demo-plant.md"
TYPE_OF_DOC = {"CNC turning centre": "cnc", "finishing lathe": "lathe", "milling machine": "mill",
               "parts washer": "washer", "servo press": "press", "assembly robot": "robot",
               "screwdriving station": "screwdriver", "leak/function tester": "tester",
               "packing station": "packer"}  # fmt: skip
DOC_TYPES = {"CNC, lathe, mill": ["cnc", "lathe", "mill"], "washer": ["washer"], "press": ["press"],
             "robot": ["robot"], "screwdriver": ["screwdriver"], "tester": ["tester"],
             "packer": ["packer"]}  # fmt: skip
PROTOCOL_OF_DOC = {"OPC UA": "opcua", "Modbus TCP": "modbus", "MQTT": "mqtt"}


def doc_table(anchor: str) -> list[list[str]]:
    """Body rows of the first Markdown table at or after the line containing `anchor`."""
    lines = DOC.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if anchor in line)
    start = next(i for i in range(at, len(lines)) if lines[i].startswith("|"))
    table = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        table.append([cell.replace("`", "").strip() for cell in line.strip().strip("|").split("|")])
    return table


def test_demo_matches_the_demo_plant_document(demo: Scenario) -> None:
    machines = doc_table("| machine | line |")
    assert [row[0] for row in machines] == demo.codes
    for code, line, kind, protocol, unit, product, cycle in machines:
        m = demo.machine(code)
        assert (m.line, m.type, m.protocol) == (line, TYPE_OF_DOC[kind], PROTOCOL_OF_DOC[protocol])
        assert (m.unit_id, m.product, m.ideal_cycle) == (
            int(unit) if unit else None,
            product,
            float(cycle),
        )
        assert m.site == "KNU" and m.area == {"L1": "MACH", "L2": "ASSY"}[m.line]
    standard = doc_table("Every machine has these")
    process = doc_table("plus process signals by machine type")
    for m in demo.machines:
        names = [s.name for s in m.signals]
        assert names[:5] == [row[0] for row in standard]
        for row in standard:
            sig = m.signal(row[0])
            assert (sig.unit or "") == row[2]
            assert sig.data_type == row[1].split()[0]
        expected = next(row[1] for row in process if m.type in DOC_TYPES[row[0]])
        pairs = re.findall(r"(\w+) \(([^)]+)\)", expected)
        assert [(s.name, s.unit) for s in m.signals[5:]] == pairs
        assert all(s.key == f"{m.code}.{s.name}" for s in m.signals)


def test_builtin_scenarios_and_scale_parameters() -> None:
    assert {"demo", "scale"} <= set(builtin_names())
    scale = load_scenario("scale", {"machines": "40", "signals": "25", "protocol": "modbus"})
    assert len(scale.machines) == 40 and scale.signal_count == 40 * 25
    assert {m.protocol for m in scale.machines} == {"modbus"}
    assert sorted(m.unit_id for m in scale.machines if m.unit_id) == list(range(1, 41))
    mixed = load_scenario("scale", {"machines": "9"})
    assert [m.protocol for m in mixed.machines[:3]] == ["opcua", "modbus", "mqtt"]


def test_every_machine_type_is_a_schema_literal() -> None:
    literal = MachineSpec.model_fields["type"].annotation
    assert set(literal.__args__) == set(TYPES)  # type: ignore[union-attr]


def problems(text: str, params: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        load_scenario_text(text, "plant.yaml", params)
    return err.value.problems


M = "site.areas[0].lines[0].machines[0]"


MACHINE_ERRORS = [  # (YAML added to the machine, expected problem after the machine's path)
    ("colour: red", ":16: {M}.colour: unknown key"),
    ("sample_period: 3 parsecs", ":16: {M}.sample_period: '3 parsecs' is not a duration"),
    ("setup: 2m", ":16: {M}.setup: duplicate key (first on line 14)"),
    ("setpoint: 300", ":16: {M}.setpoint: Input should be less than or equal to 120"),
    ("unit_id: 4", ":16: {M}.unit_id: applies only to protocol modbus"),
    ("feeds: M-7", ":16: {M}.feeds: unknown machine 'M-7'"),
    ("feeds: M-1", ":16: {M}.feeds: a machine cannot feed itself"),
    ("signals:\n  spindle_speed: {rate_hz: 0}",
     ":17: {M}.signals.spindle_speed.rate_hz: Input should be greater than 0"),
    ("signals:\n  state: {unit: x}", ":17: {M}.signals.state: standard signals cannot be"),
    ("signals:\n  humidity: {unit: '%'}",
     ":17: {M}.signals.humidity: not a cnc signal; a new signal needs low, high, running"),
    ("failure_modes:\n  - {mode: gremlins}", ":17: {M}.failure_modes[0].mode: Input should be"),
    ("failure_modes:\n  - {mode: bearing_wear, effects: {torque: 3}}",
     ":17: {M}.failure_modes[0].effects.torque: M-1 has no such signal"),
    ("failure_modes:\n  - {mode: sudden, precursor: 1h}",
     ":17: {M}.failure_modes[0].precursor: sudden failures have no precursor"),
    ("failure_modes:\n  - {mode: bearing_wear, schedule: [5h, 2h]}",
     ":17: {M}.failure_modes[0].schedule: times must be in increasing order"),
    ("counters: {good: -1}", ":16: {M}.counters.good: Input should be greater than or equal to 0"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "expected"), MACHINE_ERRORS)
def test_machine_errors_name_the_key_path_and_line(extra: str, expected: str) -> None:
    found = problems(single_machine(extra))
    wanted = "plant.yaml" + expected.format(M=M)
    assert any(wanted in p for p in found), found
    assert all(p.startswith("scenario error: plant.yaml") for p in found)


def test_cross_checks_report_every_problem_at_once() -> None:
    text = """\
version: 1
name: broken
site:
  code: KNU
  areas:
    - code: A
      lines:
        - code: L1
          machines:
            - {code: X-1, type: lathe, protocol: modbus, unit_id: 3, ideal_cycle: 10, feeds: X-2}
            - {code: X-2, type: lathe, protocol: modbus, unit_id: 3, ideal_cycle: 10, feeds: X-1}
            - {code: X-1, type: press, protocol: modbus, ideal_cycle: 10}
            - {code: X-4, type: robot, protocol: opcua, ideal_cycle: 10, buffer: {capacity: 2}}
        - code: L2
          machines:
            - {code: X-5, type: packer, protocol: mqtt, ideal_cycle: 10, feeds: X-4}
"""
    found = problems(text)
    base = "site.areas[0].lines[0].machines"
    expected = [
        f"plant.yaml:11: {base}[1].unit_id: unit id 3 is taken by X-1",
        f"plant.yaml:12: {base}[2].code: duplicate machine code 'X-1'",
        f"plant.yaml:12: {base}[2].unit_id: required for protocol modbus",
        f"plant.yaml:13: {base}[3].buffer.initial: exceeds the buffer capacity",
        "plant.yaml:16: site.areas[0].lines[1].machines[0].feeds: X-4 is on another line",
        "feeds: material flow loops back to",
    ]
    for item in expected:
        assert any(item in p for p in found), (item, found)


def test_file_level_errors() -> None:
    assert problems("version: 1\nname: x\nsite: [unclosed\n") == [
        "scenario error: plant.yaml:4: invalid YAML: expected ',' or ']', but got '<stream end>'"
    ]
    assert "give exactly one of 'site' or 'generate'" in problems("version: 1\nname: x\n")[0]
    assert "version: Input should be 1" in problems("version: 2\nname: x\ngenerate: {}\n")[0]
    assert problems("- a\n- b\n") == [
        "scenario error: plant.yaml: the file must be a mapping of keys"
    ]
    plain = "version: 1\nname: x\ngenerate: {}\n"
    assert "parameter 'speed': unknown" in problems(plain, {"speed": "2"})[0]
    assert "generate.machines: Input should be greater than or equal to 1" in problems(
        plain, {"machines": "0"})[0]  # fmt: skip
    assert "only to generated scenarios" in problems(single_machine(), {"machines": "2"})[0]
    with pytest.raises(ScenarioError, match="no such file and not a built-in scenario"):
        load_scenario("/nonexistent/plant.yaml")
