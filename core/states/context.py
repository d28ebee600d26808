"""What the derivation knows about each machine: its signals by role, its rules, thresholds and
line. Machines (and cells) take part when they have a state signal or a configuration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.equipment.models import Equipment, EquipmentLevel
from core.states.derive import MaintenancePolicy, Rule
from core.states.models import EquipmentStateConfig
from core.telemetry.tables import signal

DEFAULT_SIGNALS = {
    "state": "state",
    "good": "good_count",
    "scrap": "scrap_count",
    "alarm": "alarm_code",
}
MEMBER_LEVELS = (EquipmentLevel.MACHINE.value, EquipmentLevel.CELL.value)


@dataclass(frozen=True)
class Thresholds:
    """Plant-wide defaults (MES_LIVE_MICRO_STOP_S, MES_LIVE_STARTUP_S)."""

    micro_stop_s: float
    startup_s: float


@dataclass(frozen=True)
class EquipmentContext:
    """One machine as the derivation sees it."""

    id: int
    code: str
    name: str
    type: str | None
    line_id: int | None
    mode: str
    state_signal: int | None
    rule_signals: dict[str, int] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    default_state: int = 0
    good_signal: int | None = None
    scrap_signal: int | None = None
    alarm_signal: int | None = None
    maintenance: MaintenancePolicy = "auto"
    micro_stop_s: float = 120.0
    startup_s: float = 300.0
    signal_ids: tuple[int, ...] = ()

    @property
    def derives_state(self) -> bool:
        """True when the state can be derived (a state signal, or rules with their signals)."""
        if self.mode == "rules":
            return bool(self.rules) and all(r.signal in self.rule_signals for r in self.rules)
        return self.state_signal is not None

    @property
    def liveness(self) -> frozenset[int]:
        """Signals whose readings change the derived state or counts."""
        ids = {self.state_signal, self.good_signal, self.scrap_signal, self.alarm_signal}
        ids |= set(self.rule_signals.values())
        return frozenset(i for i in ids if i is not None)

    @property
    def state_inputs(self) -> tuple[int, ...]:
        """Signals the state is derived from."""
        if self.mode == "rules":
            return tuple(self.rule_signals.values())
        return (self.state_signal,) if self.state_signal is not None else ()


def line_of(equipment_id: int, parents: dict[int, tuple[int | None, str]]) -> int | None:
    """The id of the line above `equipment_id` (itself if it is one).

    >>> line_of(5, {5: (4, "machine"), 4: (3, "cell"), 3: (2, "line"), 2: (None, "area")})
    3
    """
    seen = 0
    current: int | None = equipment_id
    while current is not None and seen < 16:
        parent, level = parents.get(current, (None, ""))
        if level == EquipmentLevel.LINE:
            return current
        current, seen = parent, seen + 1
    return None


def parse_rules(raw: Sequence[dict[str, object]]) -> tuple[Rule, ...]:
    """Rules stored as JSON (validated on the way in)."""
    return tuple(
        Rule(
            signal=str(r["signal"]),
            op=str(r["op"]),
            value=float(cast(float, r["value"])),
            state=int(cast(int, r["state"])),
        )
        for r in raw
    )


async def load_contexts(
    session: AsyncSession, thresholds: Thresholds, *, equipment_ids: Sequence[int] | None = None
) -> list[EquipmentContext]:
    """Every machine or cell with a state signal or a configuration (or just `equipment_ids`)."""
    hierarchy = await session.execute(select(Equipment.id, Equipment.parent_id, Equipment.level))
    parents = {r[0]: (r[1], r[2]) for r in hierarchy}
    stmt = (
        select(Equipment, EquipmentStateConfig)
        .outerjoin(EquipmentStateConfig, EquipmentStateConfig.equipment_id == Equipment.id)
        .where(Equipment.level.in_(MEMBER_LEVELS))
        .order_by(Equipment.code)
    )
    if equipment_ids is not None:
        stmt = stmt.where(Equipment.id.in_(list(equipment_ids)))
    rows = (await session.execute(stmt)).all()
    codes = [r[0].code for r in rows]
    signals = (
        await session.execute(
            select(signal.c.id, signal.c.key, signal.c.name, signal.c.equipment_code).where(
                signal.c.equipment_code.in_(codes)
            )
        )
    ).all()
    by_key = {s.key: s.id for s in signals}
    by_equipment: dict[str, dict[str, int]] = {}
    for s in signals:
        by_equipment.setdefault(s.equipment_code, {})[s.name] = s.id
    out = []
    for equipment, config in rows:
        names = by_equipment.get(equipment.code, {})

        def pick(role: str, configured: str | None, names: dict[str, int] = names) -> int | None:
            if configured:
                return by_key.get(configured)
            return names.get(DEFAULT_SIGNALS[role])

        mode = config.mode if config is not None else "signal"
        rules = parse_rules(config.rules) if config is not None and mode == "rules" else ()
        rule_signals = {r.signal: names[r.signal] for r in rules if r.signal in names}
        context = EquipmentContext(
            id=equipment.id,
            code=equipment.code,
            name=equipment.name,
            type=equipment.type,
            line_id=line_of(equipment.id, parents),
            mode=mode,
            state_signal=pick("state", config.state_signal if config else None),
            rule_signals=rule_signals,
            rules=rules,
            default_state=config.default_state if config is not None else 0,
            good_signal=pick("good", config.good_signal if config else None),
            scrap_signal=pick("scrap", config.scrap_signal if config else None),
            alarm_signal=pick("alarm", config.alarm_signal if config else None),
            maintenance=cast(MaintenancePolicy, config.maintenance if config else "auto"),
            micro_stop_s=float(config.micro_stop_s)
            if config is not None and config.micro_stop_s is not None
            else thresholds.micro_stop_s,
            startup_s=float(config.startup_s)
            if config is not None and config.startup_s is not None
            else thresholds.startup_s,
            signal_ids=tuple(sorted(names.values())),
        )
        if context.derives_state or config is not None:
            out.append(context)
    return out
