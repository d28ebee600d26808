"""Machine states: hour-by-hour derivation of the state timeline, the current status, timeline
queries, per-equipment configuration and downtime reason rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import service as audit
from core.auth.principal import Principal
from core.common.listing import ListParams, ListSpec, paginate
from core.common.schemas import Page
from core.downtime.models import DowntimeReason, ReasonKind
from core.equipment.models import Equipment
from core.errors import Conflict, NotFound, ValidationFailed
from core.live.models import LiveDirty
from core.states import readings
from core.states.context import DEFAULT_SIGNALS, MEMBER_LEVELS, EquipmentContext
from core.states.derive import (
    STATE_NAMES,
    MachineState,
    Point,
    Span,
    rule_points,
    spans,
    state_value,
)
from core.states.models import (
    DowntimeRule,
    EquipmentStateConfig,
    EquipmentStateInterval,
    EquipmentStatus,
)
from core.states.schemas import (
    DowntimeRuleCreate,
    DowntimeRuleOut,
    EquipmentStatusOut,
    StateConfigIn,
    StateConfigOut,
    TimelineOut,
    TimelineSpan,
)
from core.telemetry.tables import signal

HOUR = timedelta(hours=1)
MAX_TIMELINE = timedelta(days=31)
MAX_RECOMPUTE = timedelta(days=31)
CONFIG_ENTITY = "equipment_state_config"
RULE_ENTITY = "downtime_rule"
STATUS_SPEC = ListSpec(
    search=[Equipment.code, Equipment.name],
    sort={
        "code": Equipment.code,
        "name": Equipment.name,
        "state": EquipmentStatus.state,
        "since": EquipmentStatus.since,
        "updated_at": EquipmentStatus.updated_at,
    },
    default_sort="code",
)
RULE_SPEC = ListSpec(
    search=[DowntimeRule.stop_class],
    sort={"id": DowntimeRule.id, "stop_class": DowntimeRule.stop_class},
    default_sort="id",
)


def hour_of(ts: datetime) -> datetime:
    """The UTC hour containing `ts`.

    >>> hour_of(datetime(2026, 1, 1, 7, 59, 59, tzinfo=UTC)).isoformat()
    '2026-01-01T07:00:00+00:00'
    """
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def state_label(state: int | None) -> str | None:
    """`running`, `down`, ... (None stays None)."""
    return MachineState(state).label if state is not None else None


# --- derivation --------------------------------------------------------------------------------


async def derive_hour(
    session: AsyncSession, ctx: EquipmentContext, hour: datetime, data_end: datetime
) -> list[Span]:
    """The state spans of one hour from the readings (up to `data_end`, where data stops)."""
    start, end = hour, hour + HOUR
    tail = min(end, data_end)
    if not ctx.derives_state or tail <= start:
        return []
    if ctx.mode == "rules":
        series = {
            n: await readings.points(session, i, start, tail) for n, i in ctx.rule_signals.items()
        }
        priors = {n: await readings.prior(session, i, start) for n, i in ctx.rule_signals.items()}
        points, prior_state = rule_points(series, priors, ctx.rules, ctx.default_state)
        prior_real = prior_state if prior_state not in (None, 6, -1) else None
    else:
        assert ctx.state_signal is not None
        points = await readings.points(session, ctx.state_signal, start, tail)
        before = await readings.prior(session, ctx.state_signal, start)
        prior_state = state_value(before.value, before.quality) if before is not None else None
        prior_real = prior_state
        if prior_state in (MachineState.MAINTENANCE, MachineState.UNKNOWN):
            prior_real = await readings.last_real_state(session, ctx.state_signal, start)
    return spans(
        points,
        start=start,
        end=tail,
        prior_state=prior_state,
        prior_real=prior_real,
        maintenance=ctx.maintenance,
    )


async def stored_spans(
    session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> list[Span]:
    """Stored spans overlapping [start, end), oldest first (not clipped)."""
    t = EquipmentStateInterval
    rows = await session.execute(
        select(t.start_ts, t.end_ts, t.state, t.planned)
        .where(
            t.equipment_id == equipment_id,
            t.start_ts >= start - HOUR,
            t.start_ts < end,
            t.end_ts > start,
        )
        .order_by(t.start_ts)
    )
    return [Span(r[0], r[1], int(r[2]), bool(r[3])) for r in rows]


async def store_hour(
    session: AsyncSession, equipment_id: int, hour: datetime, new: Sequence[Span]
) -> bool:
    """Replace the hour's spans; False when they were already the same (nothing written)."""
    t = EquipmentStateInterval
    old = [
        s for s in await stored_spans(session, equipment_id, hour, hour + HOUR) if s.start >= hour
    ]
    if old == list(new):
        return False
    await session.execute(
        delete(t).where(
            t.equipment_id == equipment_id, t.start_ts >= hour, t.start_ts < hour + HOUR
        )
    )
    if new:
        await session.execute(
            insert(t),
            [
                {
                    "equipment_id": equipment_id,
                    "start_ts": s.start,
                    "end_ts": s.end,
                    "state": s.state,
                    "planned": s.planned,
                }
                for s in new
            ],
        )
    return True


async def hour_closed(session: AsyncSession, equipment_id: int, hour: datetime) -> bool:
    """True when the stored spans of `hour` reach its end (or it has none)."""
    t = EquipmentStateInterval
    last = await session.scalar(
        select(func.max(t.end_ts)).where(
            t.equipment_id == equipment_id, t.start_ts >= hour, t.start_ts < hour + HOUR
        )
    )
    return last is None or last >= hour + HOUR


@dataclass(frozen=True)
class CurrentState:
    """The state now and since when (None when unknown)."""

    state: int | None
    planned: bool
    since: datetime | None


async def current_state(
    session: AsyncSession, ctx: EquipmentContext, data_end: datetime | None
) -> CurrentState:
    """The newest state and the start of its run (looking back through the stored spans)."""
    t = EquipmentStateInterval
    rows = (
        await session.execute(
            select(t.start_ts, t.end_ts, t.state, t.planned)
            .where(t.equipment_id == ctx.id)
            .order_by(t.start_ts.desc())
            .limit(500)
        )
    ).all()
    latest: Point | None = None
    if ctx.mode == "signal" and ctx.state_signal is not None and data_end is not None:
        after = data_end + timedelta(microseconds=1)
        latest = await readings.prior(session, ctx.state_signal, after)
    if latest is not None and (not rows or latest.ts >= rows[0][1]):
        state = state_value(latest.value, latest.quality)
        if not rows or int(rows[0][2]) != state:
            previous = int(rows[0][2]) if rows else None
            planned = state == MachineState.MAINTENANCE and (
                ctx.maintenance == "planned"
                or (ctx.maintenance == "auto" and previous != MachineState.DOWN)
            )
            return CurrentState(state, planned, latest.ts)
    rows_state = rows
    if not rows_state:
        return CurrentState(None, False, None)
    state, planned = int(rows_state[0][2]), bool(rows_state[0][3])
    since = rows_state[0][0]
    for start, end, s, p in rows_state[1:]:
        if int(s) != state or bool(p) != planned or end != since:
            break
        since = start
    return CurrentState(state, planned, since)


# --- queries -----------------------------------------------------------------------------------


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise ValidationFailed(field, "give a time zone (e.g. Z or +09:00)")
    return value.astimezone(UTC)


def check_range(start: datetime, end: datetime, limit: timedelta) -> tuple[datetime, datetime]:
    """Aware, ordered and not too long; 422 naming the field otherwise."""
    start, end = _aware(start, "query.start"), _aware(end, "query.end")
    if end <= start:
        raise ValidationFailed("query.end", "must be after start")
    if end - start > limit:
        raise ValidationFailed("query.end", f"the range may span at most {limit.days} days")
    return start, end


async def machine(session: AsyncSession, equipment_id: int) -> Equipment:
    """A machine or cell, NotFound otherwise."""
    equipment = await session.get(Equipment, equipment_id)
    if equipment is None or equipment.level not in MEMBER_LEVELS:
        raise NotFound(f"machine {equipment_id} not found")
    return equipment


async def timeline(
    session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> TimelineOut:
    """The state spans in [start, end), adjacent equal spans joined, with seconds per state."""
    start, end = check_range(start, end, MAX_TIMELINE)
    equipment = await machine(session, equipment_id)
    merged: list[Span] = []
    for s in await stored_spans(session, equipment_id, start, end):
        s = Span(max(s.start, start), min(s.end, end), s.state, s.planned)
        last = merged[-1] if merged else None
        if last and last.end == s.start and (last.state, last.planned) == (s.state, s.planned):
            merged[-1] = Span(last.start, s.end, s.state, s.planned)
        else:
            merged.append(s)
    totals: dict[str, float] = {}
    for s in merged:
        label = state_label(s.state) or "unknown"
        totals[label] = totals.get(label, 0.0) + s.seconds
    covered = sum(s.seconds for s in merged)
    return TimelineOut(
        equipment_id=equipment_id,
        equipment_code=equipment.code,
        start=start,
        end=end,
        spans=[
            TimelineSpan(
                start=s.start,
                end=s.end,
                state=state_label(s.state) or "unknown",
                stop_class=s.stop_class.value if s.stop_class else None,
                planned=s.planned,
                seconds=s.seconds,
            )
            for s in merged
        ],
        seconds_by_state=totals,
        no_data_s=(end - start).total_seconds() - covered,
    )


def _status_out(equipment: Equipment, status: EquipmentStatus | None) -> EquipmentStatusOut:
    return EquipmentStatusOut(
        equipment_id=equipment.id,
        equipment_code=equipment.code,
        equipment_name=equipment.name,
        state=state_label(status.state) if status and status.state is not None else None,
        state_code=status.state if status else None,
        planned=bool(status and status.planned),
        since=status.since if status else None,
        data_ts=status.data_ts if status else None,
        downtime_event_id=status.downtime_event_id if status else None,
        work_order_id=status.work_order_id if status else None,
        operation_id=status.operation_id if status else None,
        updated_at=status.updated_at if status else None,
    )


async def list_status(
    *,
    session: AsyncSession,
    params: ListParams,
    state: str | None = None,
    line_id: int | None = None,
) -> Page[EquipmentStatusOut]:
    """Current status of the machines (search over code and name)."""
    stmt = (
        select(Equipment, EquipmentStatus)
        .join(EquipmentStatus, EquipmentStatus.equipment_id == Equipment.id)
        .where(Equipment.level.in_(MEMBER_LEVELS))
    )
    if state is not None:
        stmt = stmt.where(EquipmentStatus.state == STATE_NAMES[state])
    if line_id is not None:
        stmt = stmt.where(
            or_(
                Equipment.parent_id == line_id,
                Equipment.parent_id.in_(select(Equipment.id).where(Equipment.parent_id == line_id)),
            )
        )
    condition = STATUS_SPEC.where_search(params.q)
    if condition is not None:
        stmt = stmt.where(condition)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = await session.execute(
        stmt.order_by(*STATUS_SPEC.order_by(params.sort), Equipment.id)
        .limit(params.limit)
        .offset(params.offset)
    )
    return Page[EquipmentStatusOut](
        items=[_status_out(e, s) for e, s in rows.all()],
        total=total or 0,
        limit=params.limit,
        offset=params.offset,
    )


async def get_status(session: AsyncSession, equipment_id: int) -> EquipmentStatusOut:
    """Current status of one machine."""
    equipment = await machine(session, equipment_id)
    return _status_out(equipment, await session.get(EquipmentStatus, equipment_id))


# --- configuration -----------------------------------------------------------------------------


async def _signal_names(session: AsyncSession, code: str) -> dict[str, str]:
    rows = await session.execute(
        select(signal.c.name, signal.c.key).where(signal.c.equipment_code == code)
    )
    return {r[0]: r[1] for r in rows}


async def get_config(session: AsyncSession, equipment_id: int) -> StateConfigOut:
    """The stored configuration, or the defaults the engine uses without one."""
    equipment = await machine(session, equipment_id)
    config = await session.get(EquipmentStateConfig, equipment_id)
    names = await _signal_names(session, equipment.code)

    def key(role: str, configured: str | None) -> str | None:
        return configured or names.get(DEFAULT_SIGNALS[role])

    return StateConfigOut(
        equipment_id=equipment_id,
        equipment_code=equipment.code,
        configured=config is not None,
        mode=config.mode if config else "signal",
        state_signal=key("state", config.state_signal if config else None),
        good_signal=key("good", config.good_signal if config else None),
        scrap_signal=key("scrap", config.scrap_signal if config else None),
        alarm_signal=key("alarm", config.alarm_signal if config else None),
        rules=config.rules if config else [],
        default_state=state_label(config.default_state if config else 0) or "idle",
        maintenance=config.maintenance if config else "auto",
        micro_stop_s=float(config.micro_stop_s)
        if config and config.micro_stop_s is not None
        else None,
        startup_s=float(config.startup_s) if config and config.startup_s is not None else None,
    )


async def put_config(
    *, session: AsyncSession, principal: Principal, equipment_id: int, data: StateConfigIn
) -> StateConfigOut:
    """Create or replace the configuration (signals must exist and belong to the machine)."""
    equipment = await machine(session, equipment_id)
    names = await _signal_names(session, equipment.code)
    keys = set(names.values())
    for field in ("state_signal", "good_signal", "scrap_signal", "alarm_signal"):
        value = getattr(data, field)
        if value is not None and value not in keys:
            raise ValidationFailed(f"body.{field}", f"{equipment.code} has no signal {value!r}")
    if data.mode == "rules":
        if not data.rules:
            raise ValidationFailed("body.rules", "rules mode needs at least one rule")
        for i, rule in enumerate(data.rules):
            if rule.signal not in names:
                raise ValidationFailed(
                    f"body.rules.{i}.signal",
                    f"{equipment.code} has no signal named {rule.signal!r}",
                )
    elif data.state_signal is None and DEFAULT_SIGNALS["state"] not in names:
        raise ValidationFailed(
            "body.state_signal", f"{equipment.code} has no `state` signal; name one or use rules"
        )
    row = await session.scalar(
        select(EquipmentStateConfig)
        .where(EquipmentStateConfig.equipment_id == equipment_id)
        .with_for_update()
    )
    before = audit.snapshot(row) if row is not None else None
    values: dict[str, Any] = {
        "mode": data.mode,
        "state_signal": data.state_signal,
        "good_signal": data.good_signal,
        "scrap_signal": data.scrap_signal,
        "alarm_signal": data.alarm_signal,
        "rules": [
            {"signal": r.signal, "op": r.op, "value": r.value, "state": int(STATE_NAMES[r.state])}
            for r in data.rules
        ],
        "default_state": int(STATE_NAMES[data.default_state]),
        "maintenance": data.maintenance,
        "micro_stop_s": data.micro_stop_s,
        "startup_s": data.startup_s,
    }
    if row is None:
        row = EquipmentStateConfig(equipment_id=equipment_id, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    await session.flush()
    await session.refresh(row, [a.key for a in sa_inspect(row).mapper.column_attrs])
    audit.record(
        session,
        principal=principal,
        action="create" if before is None else "update",
        entity=CONFIG_ENTITY,
        entity_id=equipment_id,
        before=before,
        after=audit.snapshot(row),
    )
    await session.commit()
    return await get_config(session, equipment_id)


async def delete_config(*, session: AsyncSession, principal: Principal, equipment_id: int) -> None:
    """Back to the defaults."""
    await machine(session, equipment_id)
    row = await session.get(EquipmentStateConfig, equipment_id)
    if row is None:
        raise NotFound(f"machine {equipment_id} has no state configuration")
    before = audit.snapshot(row)
    await session.delete(row)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=CONFIG_ENTITY,
        entity_id=equipment_id,
        before=before,
    )
    await session.commit()


async def request_recompute(
    *, session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> list[datetime]:
    """Queue the hours of [start, end) for recomputation by the engine; the hours queued."""
    start, end = check_range(start, end, MAX_RECOMPUTE)
    await machine(session, equipment_id)
    hours = []
    hour = hour_of(start)
    while hour < end:
        hours.append(hour)
        hour += HOUR
    await session.execute(
        insert(LiveDirty), [{"equipment_id": equipment_id, "hour": h} for h in hours]
    )
    await session.commit()
    return hours


# --- downtime reason rules ---------------------------------------------------------------------


async def list_rules(
    *,
    session: AsyncSession,
    params: ListParams,
    equipment_id: int | None = None,
    stop_class: str | None = None,
) -> Page[DowntimeRuleOut]:
    """Reason rules (filter by equipment and stop class)."""
    return await paginate(
        session,
        select(DowntimeRule),
        RULE_SPEC,
        params,
        schema=DowntimeRuleOut,
        filters={DowntimeRule.equipment_id: equipment_id, DowntimeRule.stop_class: stop_class},
    )


async def create_rule(
    *, session: AsyncSession, principal: Principal, data: DowntimeRuleCreate
) -> DowntimeRule:
    """Add a rule; one per (equipment, stop class, alarm code)."""
    if data.equipment_id is not None:
        await machine(session, data.equipment_id)
    reason = await session.get(DowntimeReason, data.reason_id)
    if reason is None:
        raise ValidationFailed("body.reason_id", f"downtime reason {data.reason_id} not found")
    if reason.kind != ReasonKind.REASON:
        raise ValidationFailed("body.reason_id", f"{reason.code} is a category; name a reason")
    clash = await session.scalar(
        select(DowntimeRule.id).where(
            DowntimeRule.equipment_id.is_(None)
            if data.equipment_id is None
            else DowntimeRule.equipment_id == data.equipment_id,
            DowntimeRule.stop_class == data.stop_class,
            DowntimeRule.alarm_code.is_(None)
            if data.alarm_code is None
            else DowntimeRule.alarm_code == data.alarm_code,
        )
    )
    if clash is not None:
        raise Conflict(f"rule {clash} already covers this equipment, stop class and alarm code")
    rule = DowntimeRule(**data.model_dump())
    session.add(rule)
    await session.flush()
    await session.refresh(rule, [a.key for a in sa_inspect(rule).mapper.column_attrs])
    audit.record(
        session,
        principal=principal,
        action="create",
        entity=RULE_ENTITY,
        entity_id=rule.id,
        after=audit.snapshot(rule),
    )
    await session.commit()
    return rule


async def delete_rule(*, session: AsyncSession, principal: Principal, rule_id: int) -> None:
    """Remove a rule (reasons it already gave stay)."""
    rule = await session.get(DowntimeRule, rule_id)
    if rule is None:
        raise NotFound(f"downtime rule {rule_id} not found")
    before = audit.snapshot(rule)
    await session.delete(rule)
    await session.flush()
    audit.record(
        session,
        principal=principal,
        action="delete",
        entity=RULE_ENTITY,
        entity_id=rule_id,
        before=before,
    )
    await session.commit()


async def rules_for(session: AsyncSession, equipment_id: int) -> list[DowntimeRule]:
    """Rules that apply to the equipment (its own and the plant-wide ones)."""
    return list(
        await session.scalars(
            select(DowntimeRule).where(
                or_(DowntimeRule.equipment_id == equipment_id, DowntimeRule.equipment_id.is_(None))
            )
        )
    )
