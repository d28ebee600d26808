"""Current-shift OEE of every machine, line and site: the `kpi` topic's values.

Each line's current shift (from its calendar) is the window of the line and its machines; a
line without any calendar uses the UTC day so far. Within the window a machine's planned time is
the line's shift, unless a calendar is assigned to the machine itself (or between it and the
line): then its own, as its stored hours and the REST API count it. An entry whose OEE is null
says why in `reason`: `outside_shift` (no window), or from its facts
(core.oee.calc.undefined_reason) `no_planned_time`, `no_data` or `planned_stop`; `reason` is
null while OEE is a number.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar.models import CalendarAssignment
from core.equipment.models import Equipment, EquipmentLevel
from core.live.payloads import iso
from core.oee import service as oee
from core.oee.calc import OeeFacts, undefined_reason
from core.oee.timeline import Interval
from core.states.context import EquipmentContext

OUTSIDE_SHIFT = "outside_shift"


@dataclass(frozen=True)
class KpiWindow:
    """Where current-shift OEE is taken."""

    start: datetime
    planned: list[Interval]
    label: dict[str, Any]


async def window(session: AsyncSession, equipment_id: int, now: datetime) -> KpiWindow | None:
    """The current shift of the equipment (so far), the UTC day without a calendar, or None."""
    shift = await oee.shift_now(session, equipment_id, now)
    if shift is not None:
        return KpiWindow(
            shift.start,
            shift.planned_within(shift.start, now),
            {
                "kind": "shift",
                "code": shift.shift_code,
                "name": shift.shift_name,
                "day": shift.day.isoformat(),
                "start": iso(shift.start),
                "end": iso(shift.end),
            },
        )
    if await oee.has_calendar(session, equipment_id):
        return None
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return KpiWindow(start, [(start, now)], {"kind": "day", "start": iso(start), "end": None})


def entry(
    scope: str, node: Equipment, facts: OeeFacts | None, label: dict[str, Any] | None, now: datetime
) -> dict[str, Any]:
    """One `kpi` values entry (`facts` None: outside shifts)."""
    summary = oee.summary(facts) if facts is not None else dict.fromkeys(oee.summary(OeeFacts()))
    return {
        "scope": scope,
        "code": node.code,
        "name": node.name,
        "window": label,
        **summary,
        "reason": undefined_reason(facts) if facts is not None else OUTSIDE_SHIFT,
        "ts": iso(now),
    }


def _chain(equipment_id: int, nodes: dict[int, Equipment]) -> Iterator[Equipment]:
    """The equipment and its ancestors, nearest first (at most 16 levels)."""
    node = nodes.get(equipment_id)
    for _ in range(16):
        if node is None:
            return
        yield node
        node = nodes.get(node.parent_id) if node.parent_id is not None else None


def _own_calendar(
    equipment_id: int, anchor: int, nodes: dict[int, Equipment], assigned: set[int]
) -> bool:
    """True when a calendar is assigned to the equipment or between it and `anchor`."""
    for node in _chain(equipment_id, nodes):
        if node.id == anchor:
            return False
        if node.id in assigned:
            return True
    return False


def _site_of(equipment_id: int, nodes: dict[int, Equipment]) -> Equipment | None:
    return next((n for n in _chain(equipment_id, nodes) if n.level == EquipmentLevel.SITE), None)


async def compute(
    session: AsyncSession, contexts: Sequence[EquipmentContext], *, now: datetime
) -> dict[str, dict[str, Any]]:
    """`kpi` values keyed `equipment/<code>`, `line/<code>`, `site/<code>`."""
    nodes = {e.id: e for e in await session.scalars(select(Equipment))}
    assigned = set(await session.scalars(select(CalendarAssignment.equipment_id).distinct()))
    groups: dict[int | None, list[EquipmentContext]] = {}
    for ctx in contexts:
        groups.setdefault(ctx.line_id, []).append(ctx)
    out: dict[str, dict[str, Any]] = {}
    sites: dict[int, list[OeeFacts]] = {}
    for line_id, members in groups.items():
        anchors = [(line_id, members)] if line_id is not None else [(m.id, [m]) for m in members]
        for anchor, machines in anchors:
            win = await window(session, anchor, now)
            total = OeeFacts()
            for ctx in machines:
                facts = None
                if win is not None:
                    own = _own_calendar(ctx.id, anchor, nodes, assigned)
                    facts = await oee.equipment_facts(
                        session, ctx, win.start, now, now=now, planned=None if own else win.planned
                    )
                if facts is not None:
                    total = total + facts
                out[f"equipment/{ctx.code}"] = entry(
                    "equipment", nodes[ctx.id], facts, win.label if win else None, now
                )
            if line_id is not None:
                out[f"line/{nodes[line_id].code}"] = entry(
                    "line", nodes[line_id], total if win else None, win.label if win else None, now
                )
            site = _site_of(anchor, nodes)
            if site is not None and win is not None:
                sites.setdefault(site.id, []).append(total)
    for site_id, parts in sites.items():
        out[f"site/{nodes[site_id].code}"] = entry(
            "site", nodes[site_id], OeeFacts.total(parts), None, now
        )
    return out
