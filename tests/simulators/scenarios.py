"""Small scenario files for tests."""

from __future__ import annotations

FAILURE_PLANT = """\
version: 1
name: failing
sample_period: 1s
site:
  code: KNU
  areas:
    - code: MACH
      lines:
        - code: L9
          machines:
            - code: CNC-901
              type: cnc
              protocol: opcua
              ideal_cycle: 20s
              setup: 1m
              repair: {response: 1m, duration: 2m}
              failure_modes:
                - {mode: bearing_wear, precursor: 300s, schedule: [600s]}
            - code: LATHE-902
              type: lathe
              protocol: modbus
              unit_id: 9
              ideal_cycle: 20s
              setup: 1m
              repair: {response: 1m, duration: 2m}
              failure_modes:
                - {mode: bearing_wear, precursor: 300s, schedule: [600s]}
            - code: ROBOT-903
              type: robot
              protocol: mqtt
              ideal_cycle: 20s
              setup: 1m
              repair: {response: 1m, duration: 2m}
              failure_modes:
                - {mode: bearing_wear, precursor: 300s, schedule: [600s]}
"""


def single_machine(extra: str = "", *, kind: str = "cnc", protocol: str = "opcua") -> str:
    """One machine; `extra` is indented YAML added to the machine."""
    unit = "              unit_id: 1\n" if protocol == "modbus" else ""
    lines = "".join(f"              {line}\n" for line in extra.splitlines() if line.strip())
    return f"""\
version: 1
name: single
site:
  code: KNU
  areas:
    - code: MACH
      lines:
        - code: L1
          machines:
            - code: M-1
              type: {kind}
              protocol: {protocol}
{unit}              ideal_cycle: 10s
              setup: 1m
              repair: {{response: 5m, duration: 10m}}
{lines}"""
