"""Automatic downtime: stops of the state timeline become downtime events (source `auto`),
kept in step with the timeline by idempotent reconciliation through the downtime service.

A stop becomes an event when it lasts at least the machine's minor-stop threshold and
overlaps planned time; while it is the newest state of a machine that is still reporting, the
event stays open. Manual events are never touched: automatic events are cut around them.
Reconciliation matches existing automatic events to stops by overlap, so a reason an operator
assigned survives when late data moves a stop's edges; only automatic events nobody touched
are deleted when their stop disappears. Reason rules fill in reasons operators have not given.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth.principal import Principal
from core.downtime import service as downtime
from core.downtime.models import DowntimeEvent, DowntimeReason, DowntimeSource
from core.downtime.schemas import EventUpdate
from core.errors import DomainError
from core.oee.service import planned_intervals
from core.oee.timeline import Interval
from core.states import readings
from core.states.context import EquipmentContext
from core.states.derive import StopClass, stops
from core.states.models import AutoDowntime, DowntimeRule
from core.states.service import rules_for, stored_spans

log = logging.getLogger(__name__)

LOOK_AROUND = timedelta(hours=24)
ALARM_LAG = timedelta(seconds=2)
LOCK_NAMESPACE = 0x4D45_5302  # pg_advisory_xact_lock(namespace, equipment id)
FAR = datetime.max.replace(tzinfo=None)


@dataclass(frozen=True)
class Piece:
    """A stretch of a stop that should be an automatic event (end None: open)."""

    start: datetime
    end: datetime | None
    cls: StopClass
    stop_start: datetime
    keep_start: bool  # the stop began before the loaded window: keep the event's own start


@dataclass
class Existing:
    """A downtime event of the machine as reconciliation sees it."""

    id: int
    start: datetime
    end: datetime | None
    reason_id: int | None
    comment: str | None
    auto: bool
    stop_class: str | None
    rule_reason_id: int | None

    @property
    def untouched(self) -> bool:
        """Nobody but the rules gave it a reason or a comment."""
        return self.comment is None and self.reason_id in (None, self.rule_reason_id)


@dataclass
class SyncResult:
    """What changed: stretches whose downtime changed (for OEE) and events for alerts."""

    changed: list[Interval] = field(default_factory=list)
    opened: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)


def _end(value: datetime | None, far: datetime) -> datetime:
    return value if value is not None else far


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    return max(0.0, (min(a[1], b[1]) - max(a[0], b[0])).total_seconds())


def _subtract(
    interval: tuple[datetime, datetime], holes: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    parts = [interval]
    for ha, hb in sorted(holes):
        kept = []
        for a, b in parts:
            if hb <= a or ha >= b:
                kept.append((a, b))
                continue
            if a < ha:
                kept.append((a, ha))
            if hb < b:
                kept.append((hb, b))
        parts = kept
    return parts


def choose_rule(
    rules: Sequence[DowntimeRule], equipment_id: int, cls: StopClass, alarm: int | None
) -> DowntimeRule | None:
    """The most specific rule: own equipment before plant-wide, alarm code before none."""
    best: tuple[int, DowntimeRule] | None = None
    for rule in rules:
        if rule.stop_class != cls.value:
            continue
        if rule.alarm_code is not None and rule.alarm_code != alarm:
            continue
        if rule.equipment_id is not None and rule.equipment_id != equipment_id:
            continue
        score = (2 if rule.equipment_id is not None else 0) + (1 if rule.alarm_code else 0)
        if best is None or score > best[0]:
            best = (score, rule)
    return best[1] if best else None


async def _existing(
    session: AsyncSession, equipment_id: int, lo: datetime, hi: datetime
) -> list[Existing]:
    rows = await session.execute(
        select(
            DowntimeEvent.id,
            DowntimeEvent.start_ts,
            DowntimeEvent.end_ts,
            DowntimeEvent.reason_id,
            DowntimeEvent.comment,
            DowntimeEvent.source,
            AutoDowntime.stop_class,
            AutoDowntime.rule_reason_id,
            AutoDowntime.event_id,
        )
        .outerjoin(AutoDowntime, AutoDowntime.event_id == DowntimeEvent.id)
        .where(
            DowntimeEvent.equipment_id == equipment_id,
            DowntimeEvent.start_ts < hi,
            (DowntimeEvent.end_ts.is_(None)) | (DowntimeEvent.end_ts > lo),
        )
        .order_by(DowntimeEvent.start_ts)
    )
    return [
        Existing(
            id=r[0],
            start=r[1],
            end=r[2],
            reason_id=r[3],
            comment=r[4],
            auto=r[8] is not None and r[5] == DowntimeSource.AUTO,
            stop_class=r[6],
            rule_reason_id=r[7],
        )
        for r in rows
    ]


async def _locked(session: AsyncSession, equipment_id: int) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:ns, :id)"), {"ns": LOCK_NAMESPACE, "id": equipment_id}
    )


async def sync_downtime(
    sessions: async_sessionmaker[AsyncSession],
    ctx: EquipmentContext,
    start: datetime,
    end: datetime,
    *,
    data_end: datetime,
    live: bool,
    principal: Principal,
) -> SyncResult:
    """Bring the automatic events of the stops touching [start, end) in line with the timeline.
    `data_end` is where the machine's data ends; `live` says it is still reporting."""
    result = SyncResult()
    lo = start - LOOK_AROUND
    hi = min(end + LOOK_AROUND, data_end)
    if hi <= lo:
        return result
    async with sessions() as session:
        loaded = await stored_spans(session, ctx.id, lo, hi)
        loaded = [s for s in loaded if s.end > lo]
        planned = await planned_intervals(session, ctx.id, lo, max(hi, data_end))
        events = await _existing(session, ctx.id, lo, max(hi, end) + LOOK_AROUND)
        rules = await rules_for(session, ctx.id)
        reasons = {
            r.id: r.planned
            for r in await session.scalars(
                select(DowntimeReason).where(DowntimeReason.id.in_([x.reason_id for x in rules]))
            )
        }
        pieces: list[Piece] = []
        alarms: dict[datetime, int | None] = {}
        last_end = loaded[-1].end if loaded else None
        manual = [
            (e.start, _end(e.end, FAR.replace(tzinfo=lo.tzinfo))) for e in events if not e.auto
        ]
        far = FAR.replace(tzinfo=lo.tzinfo)
        for stop in stops(loaded):
            if stop.end <= start or stop.start >= end:
                continue
            if stop.seconds < ctx.micro_stop_s:
                continue
            if not any(a < stop.end and b > stop.start for a, b in planned):
                continue
            is_open = live and last_end is not None and stop.end >= last_end
            keep_start = stop.start <= loaded[0].start and loaded[0].start <= lo
            span_end = far if is_open else stop.end
            for a, b in _subtract((stop.start, span_end), manual):
                pieces.append(
                    Piece(
                        a,
                        None if b == far else b,
                        stop.cls,
                        stop.start,
                        keep_start and a == stop.start,
                    )
                )
            if ctx.alarm_signal is not None and stop.cls == StopClass.BREAKDOWN:
                value = await readings.value_at(session, ctx.alarm_signal, stop.start + ALARM_LAG)
                alarms[stop.start] = int(value) if value is not None else None
    auto = [e for e in events if e.auto]
    scope_lo = min([start, *(p.start for p in pieces)])
    scope_hi = max([end, *(_end(p.end, far) for p in pieces)])
    candidates = [e for e in auto if e.start < scope_hi and _end(e.end, far) > scope_lo]
    matched: dict[int, Existing] = {}
    taken: set[int] = set()
    for i, piece in enumerate(pieces):
        best: tuple[float, Existing] | None = None
        for event in candidates:
            if event.id in taken:
                continue
            overlap = _overlap(
                (piece.start, _end(piece.end, far)), (event.start, _end(event.end, far))
            )
            if overlap > 0 and (best is None or overlap > best[0]):
                best = (overlap, event)
        if best is not None:
            matched[i] = best[1]
            taken.add(best[1].id)

    # 1. automatic events whose stop is gone
    for event in candidates:
        if event.id in taken or not event.untouched:
            continue
        if await _apply(sessions, ctx.id, "delete", event.id, principal, result):
            result.changed.append((event.start, _end(event.end, data_end)))
    # 2. moved edges: shrinking ones before growing ones (events never overlap meanwhile)
    updates = []
    for i, event in matched.items():
        piece = pieces[i]
        new_start = event.start if piece.keep_start else piece.start
        if (new_start, piece.end) != (event.start, event.end):
            grows = new_start < event.start or _end(piece.end, far) > _end(event.end, far)
            updates.append((grows, event, new_start, piece.end))
    for _grows, event, new_start, new_end in sorted(updates, key=lambda u: u[0]):
        changes: dict[str, object] = {}
        if new_start != event.start:
            changes["start_ts"] = new_start
        if new_end != event.end:
            changes["end_ts"] = new_end
        if await _apply(sessions, ctx.id, "update", event.id, principal, result, changes):
            result.changed.append(
                (
                    min(new_start, event.start),
                    max(_end(new_end, data_end), _end(event.end, data_end)),
                )
            )
            if event.end is None and new_end is not None:
                result.closed.append(event.id)
    # 3. reasons from rules where nobody chose one
    for i, event in matched.items():
        piece = pieces[i]
        rule = choose_rule(rules, ctx.id, piece.cls, alarms.get(piece.stop_start))
        if rule is None or not event.untouched or event.reason_id == rule.reason_id:
            continue
        if await _apply(
            sessions, ctx.id, "reason", event.id, principal, result, {"reason_id": rule.reason_id}
        ):
            result.changed.append((event.start, _end(piece.end, data_end)))
    # 4. new stops
    for i, piece in enumerate(pieces):
        if i in matched:
            continue
        rule = choose_rule(rules, ctx.id, piece.cls, alarms.get(piece.stop_start))
        planned_reason = reasons.get(rule.reason_id) if rule is not None else None
        planned_flag = piece.cls == StopClass.PLANNED_MAINTENANCE or bool(planned_reason)
        created = await _create(sessions, ctx, piece, rule, planned_flag, principal)
        if created is not None:
            result.opened.append(created)
            result.changed.append((piece.start, _end(piece.end, data_end)))
    return result


async def _apply(
    sessions: async_sessionmaker[AsyncSession],
    equipment_id: int,
    action: str,
    event_id: int,
    principal: Principal,
    result: SyncResult,
    changes: dict[str, object] | None = None,
) -> bool:
    """One change through the downtime service, under the machine's lock; False if refused."""
    try:
        async with sessions() as session:
            await _locked(session, equipment_id)
            if action == "delete":
                await downtime.delete_event(session=session, principal=principal, event_id=event_id)
                result.deleted.append(event_id)
                return True
            if action == "reason":
                await session.execute(
                    update(AutoDowntime)
                    .where(AutoDowntime.event_id == event_id)
                    .values(rule_reason_id=(changes or {})["reason_id"])
                )
            data = EventUpdate(**(changes or {}))  # type: ignore[arg-type]
            await downtime.update_event(
                session=session, principal=principal, event_id=event_id, data=data
            )
            result.updated.append(event_id)
            return True
    except DomainError as err:
        log.warning(
            "automatic downtime change refused",
            extra={"event_id": event_id, "action": action, "reason": err.message},
        )
        return False


async def _create(
    sessions: async_sessionmaker[AsyncSession],
    ctx: EquipmentContext,
    piece: Piece,
    rule: DowntimeRule | None,
    planned: bool,
    principal: Principal,
) -> int | None:
    try:
        async with sessions() as session:
            await _locked(session, ctx.id)
            event = await downtime.open_event(
                session=session,
                principal=principal,
                equipment_id=ctx.id,
                start_ts=piece.start,
                end_ts=piece.end,
                reason_id=rule.reason_id if rule is not None else None,
                planned=planned,
                source=DowntimeSource.AUTO,
                comment=None,
            )
            session.add(
                AutoDowntime(
                    event_id=event.id,
                    equipment_id=ctx.id,
                    stop_class=piece.cls.value,
                    rule_reason_id=rule.reason_id if rule is not None else None,
                )
            )
            await session.commit()
            return event.id
    except DomainError as err:
        log.warning(
            "automatic downtime not recorded",
            extra={"equipment": ctx.code, "start": piece.start.isoformat(), "reason": err.message},
        )
        return None
