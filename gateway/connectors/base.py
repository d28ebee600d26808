"""The contract every protocol connector implements, and the errors it raises.

A connector knows how to talk to one device. It never sleeps between attempts, never decides to
reconnect and never writes to the database: the device's coordinator (`gateway.coordinator`) owns
the poll interval, the backoff, the availability and the logging of outages.

Two shapes:
- polled (Modbus, OPC UA in poll mode): `poll_groups()` lists groups with an interval; the
  coordinator calls `poll(group)` on schedule and publishes the records it returns;
- streaming (OPC UA subscriptions, MQTT): `stream(emit)` runs while the link is up, calling `emit`
  with records (and an acknowledgement for sources that need one).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from gateway.pipeline.batcher import Ack
from gateway.records import Record, SignalSpec


class LinkLost(Exception):
    """The link to the device is down (or could not be made); the coordinator reconnects."""


class DeviceRefused(LinkLost):
    """The device answered but refuses the configuration (unknown node, bad credentials...)."""


class Emit(Protocol):
    """Publish records from the device; `ack` runs once they are committed or spooled."""

    def __call__(self, records: Sequence[Record], ack: Ack | None = None) -> None: ...


@dataclass(frozen=True)
class PollGroup:
    """Signals read together on one schedule."""

    index: int
    interval_s: float


@dataclass(frozen=True)
class ConnectorContext:
    """What the gateway gives a connector."""

    gateway_id: str
    declare: Callable[[Sequence[SignalSpec]], None]  # signals found at run time (browse, MQTT)
    signal_meta: Callable[[str], dict[str, str | None]]  # `signals:` entries of the file
    busy: Callable[[], bool] = lambda: False  # the sink is behind: sources that can wait, wait


class Connector(ABC):
    """One device over one protocol."""

    protocol: ClassVar[str]

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """Where the device is (for link state; no credentials)."""

    @abstractmethod
    def signals(self) -> list[SignalSpec]:
        """The signals known now (grows for browse/MQTT discoveries)."""

    @abstractmethod
    async def connect(self) -> None:
        """Open the link; LinkLost (or DeviceRefused) when it cannot be made."""

    @abstractmethod
    async def close(self) -> None:
        """Close the link; never raises."""

    def poll_groups(self) -> list[PollGroup]:
        """Polled connectors: their groups (streaming connectors: empty)."""
        return []

    async def poll(self, group: PollGroup) -> list[Record]:
        """Read one group; LinkLost when the link broke."""
        raise NotImplementedError(f"{type(self).__name__} is not polled")

    async def stream(self, emit: Emit) -> None:
        """Run while the link is up; return or raise LinkLost when it ends."""
        raise NotImplementedError(f"{type(self).__name__} does not stream")
