"""Scenario files: the plant (ISA-95 site -> area -> line -> machine) and how it behaves."""

from simulators.scenario.definitions import FailureDef, LineDef, MachineDef, Scenario, SignalDef
from simulators.scenario.loader import (
    ScenarioError,
    builtin_names,
    load_scenario,
    load_scenario_text,
)

__all__ = [
    "FailureDef",
    "LineDef",
    "MachineDef",
    "Scenario",
    "ScenarioError",
    "SignalDef",
    "builtin_names",
    "load_scenario",
    "load_scenario_text",
]
