"""Machine states (the `state` signal's enum, docs/demo-plant.md)."""

from __future__ import annotations

from enum import IntEnum


class MachineState(IntEnum):
    """Values of the `state` signal."""

    IDLE = 0
    SETUP = 1
    RUNNING = 2
    BLOCKED = 3
    STARVED = 4
    DOWN = 5
    MAINTENANCE = 6

    @property
    def label(self) -> str:
        """Lower-case name used in the event log (`running`, `down`, ...)."""
        return self.name.lower()


POWERED = frozenset(
    {MachineState.IDLE, MachineState.SETUP, MachineState.BLOCKED, MachineState.STARVED}
)
OFF = frozenset({MachineState.DOWN, MachineState.MAINTENANCE})


def activity(state: MachineState) -> float:
    """How strongly degradation shows in the process signals in `state` (1 while running).

    >>> activity(MachineState.RUNNING), activity(MachineState.DOWN)
    (1.0, 0.0)
    """
    if state == MachineState.RUNNING:
        return 1.0
    if state in POWERED:
        return 0.3
    return 0.0
