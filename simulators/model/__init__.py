"""The plant model: machines as state machines in simulated time, driven by a discrete-event
engine so that the same scenario and seed give the same series and events however it is stepped."""

from simulators.model.events import Event
from simulators.model.plant import CommandError, Plant, Sample
from simulators.model.states import MachineState

__all__ = ["CommandError", "Event", "MachineState", "Plant", "Sample"]
