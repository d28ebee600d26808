"""The one normalised record every connector produces, and the declaration of a signal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

Value = float | str | None


class Record(NamedTuple):
    """One reading of one signal.

    `ts` is what is stored: the source timestamp when the device gave one, otherwise the time the
    gateway received the value. `gateway_ts` is always the gateway's receive time.
    """

    signal: str
    source_ts: datetime | None
    gateway_ts: datetime
    value: Value
    quality: int

    @property
    def ts(self) -> datetime:
        """The timestamp written to `reading.ts`."""
        return self.source_ts or self.gateway_ts


def utcnow() -> datetime:
    """Timezone-aware current UTC time."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Deadband:
    """Report-by-exception threshold: a change within it is not written (until the heartbeat)."""

    kind: str  # "absolute" | "percent"
    value: float

    def exceeded(self, last: float, new: float) -> bool:
        """True when `new` differs from `last` by more than the deadband.

        >>> Deadband(kind="absolute", value=1.0).exceeded(10.0, 10.5)
        False
        >>> Deadband(kind="percent", value=10.0).exceeded(100.0, 111.0)
        True
        """
        if self.kind == "absolute":
            return abs(new - last) > self.value
        return abs(new - last) > abs(last) * self.value / 100.0


@dataclass(frozen=True, kw_only=True)
class SignalSpec:
    """What the gateway knows about a signal; registered in the `signal` table by `key`."""

    key: str
    equipment_code: str | None
    name: str
    unit: str | None = None
    data_type: str = "float"
    protocol: str | None = None
    source: str | None = None
    description: str | None = None
    deadband: Deadband | None = field(default=None, compare=False)
    # False when the source already reports by exception (subscriptions, MQTT): values pass
    # straight through and only the heartbeat applies. A deadband always filters.
    report_by_exception: bool = field(default=True, compare=False)

    def row(self) -> dict[str, Any]:
        """Column values for the `signal` upsert (and the spool header)."""
        return {
            "key": self.key,
            "equipment_code": self.equipment_code,
            "name": self.name,
            "unit": self.unit,
            "data_type": self.data_type,
            "protocol": self.protocol,
            "source": self.source,
            "description": self.description,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SignalSpec:
        """Inverse of `row()`."""
        return cls(
            key=str(row["key"]),
            equipment_code=row.get("equipment_code"),
            name=str(row.get("name") or row["key"]),
            unit=row.get("unit"),
            data_type=str(row.get("data_type") or "float"),
            protocol=row.get("protocol"),
            source=row.get("source"),
            description=row.get("description"),
        )
