"""The derivation engine: machine readings -> state timeline, counted parts, automatic downtime,
work-order quantities and OEE, published as domain events.

One API process runs it at a time (core.live.leader). Everything it writes is recomputed from
raw readings per (machine, UTC hour), so replays and late data give the same answer. It learns
what to recompute from three sources:

- the live feed (gateway notifications seen by this process): hours with new readings of a
  machine's state, counter or alarm signals, and how far each machine's data reaches;
- `live_dirty` rows: hours the telemetry maintenance refreshed (late data; any process writes
  them through the hour hook) and hours queued through the API;
- the audit trail (core.live.changes): work-order transitions and dispatches (runs), downtime
  events entered by people, calendars, reason rules and state configuration.

Results reach every process's WebSocket clients through `pg_notify` (core.live.events),
committed with the data they describe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.auth.principal import Principal, Role
from core.counters import service as counters
from core.downtime.models import DowntimeEvent
from core.equipment.models import Equipment
from core.live import events, kpi
from core.live.changes import AuditTail, Change
from core.live.feed import EPOCH, SignalInfo
from core.live.models import LiveDirty, LiveSnapshot
from core.live.payloads import alarm_alert, downtime_alert, iso, status_payload, work_orders
from core.live.settings import LiveSettings
from core.oee import service as oee
from core.states import readings
from core.states import service as states
from core.states.context import EquipmentContext, Thresholds, load_contexts
from core.states.downtime_sync import sync_downtime
from core.states.models import EquipmentStatus
from core.telemetry.tables import signal

log = logging.getLogger(__name__)

ENGINE = Principal(
    subject="mes-live-engine",
    username="live-engine",
    name="Live engine (machine data)",
    roles=frozenset({Role.ADMIN}),
)
"""Who the engine's automatic downtime events and counter reports are recorded as."""

HOUR = timedelta(hours=1)
TAIL_REFRESH = timedelta(seconds=5)
CONTEXT_REFRESH_S = 60.0
STATUS_WRITE_S = 10.0
HOURS_PER_PASS = 200
RUN_ACTIONS = frozenset(
    {"create", "dispatch", "release", "start", "pause", "resume", "complete", "cancel", "delete"}
)
CALENDAR_ENTITIES = frozenset({"shift_pattern", "calendar_assignment", "non_working_period"})
CONFIG_ENTITIES = frozenset(
    {
        "equipment_state_config",
        "downtime_rule",
        "equipment",
        "equipment_cycle_time",
        "downtime_reason",
    }
)
WATCHED = frozenset({"work_order", "downtime_event"}) | CALENDAR_ENTITIES | CONFIG_ENTITIES

PASSES = Counter("mes_live_engine_passes_total", "Derivation passes", ["outcome"])
HOURS = Counter("mes_live_engine_hours_total", "Machine-hours recomputed")
PASS_SECONDS = Histogram(
    "mes_live_engine_pass_seconds",
    "Duration of a derivation pass",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def utcnow() -> datetime:
    """Current UTC time."""
    return datetime.now(UTC)


class Engine:
    """See the module doc. `observe` is fed by every notification; `run` is the leader's loop."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: LiveSettings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.thresholds = Thresholds(settings.live_micro_stop_s, settings.live_startup_s)
        self.contexts: dict[int, EquipmentContext] = {}
        self.by_code: dict[str, EquipmentContext] = {}
        self.roles: dict[str, tuple[int, str]] = {}  # signal key -> (machine id, role)
        self.frontier: dict[int, datetime] = {}  # newest reading of each machine
        self.seen_at: dict[int, float] = {}  # when this process last heard of it (monotonic)
        self.computed: dict[int, datetime] = {}  # frontier at its last recomputation
        self.data_hour: dict[int, datetime] = {}
        self.dirty: dict[int, set[datetime]] = defaultdict(set)
        self.oee_dirty: dict[int, set[datetime]] = defaultdict(set)
        self.runs_dirty: set[int] = set()
        self.reports_dirty: set[int] = set()
        self.orders_changed: set[int] = set()
        self.alerts: dict[str, dict[str, Any]] = {}
        self.alarms: dict[int, int] = {}
        self.published: dict[int, dict[str, Any]] = {}
        self.status_written: dict[int, float] = {}
        self.touched: set[int] = set()
        self.tail: AuditTail | None = None
        self.wake = asyncio.Event()
        self.passes = 0
        self.leading = False
        self._contexts_at = 0.0
        self._kpi_at = 0.0

    # --- the feed (every process) ------------------------------------------------------------

    def observe(self, rows: list[tuple[SignalInfo, int, Any, int]]) -> None:
        """Note new readings: how far each machine's data reaches, and hours to recompute."""
        if not self.leading:
            return
        woke = False
        for info, ts_us, value, quality in rows:
            ctx = self.by_code.get(info.equipment_code or "")
            if ctx is None:
                continue
            ts = EPOCH + timedelta(microseconds=ts_us)
            self.seen_at[ctx.id] = time.monotonic()
            if ts > self.frontier.get(ctx.id, EPOCH):
                self.frontier[ctx.id] = ts
            role = self.roles.get(info.key)
            if role is None:
                continue
            self.dirty[ctx.id].add(states.hour_of(ts))
            woke = True
            if role[1] == "alarm" and quality >= 0 and isinstance(value, int | float):
                code = int(value)
                if self.alarms.get(ctx.id, 0) != code:
                    self.alarms[ctx.id] = code
                    self.alerts[f"alarm/{ctx.code}"] = alarm_alert(ctx.code, code, ts)
        if woke:
            self.wake.set()

    # --- the leader's loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Derive until cancelled (called by the leadership when this process leads)."""
        await self.lead()
        try:
            while True:
                began = time.monotonic()
                try:
                    await self.run_pass()
                    PASSES.labels("ok").inc()
                except Exception:  # a failed pass is logged and retried; the engine keeps going
                    PASSES.labels("failed").inc()
                    log.exception("live derivation pass failed")
                PASS_SECONDS.observe(time.monotonic() - began)
                interval = self.settings.live_engine_interval
                await asyncio.sleep(
                    min(interval / 4, max(0.0, interval - (time.monotonic() - began)))
                )
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=interval)
        finally:
            self.leading = False

    async def lead(self) -> None:
        """Take over: load the machines, how far their data reaches, the orders running, and
        recompute their last two hours (what a previous leader may have left undone)."""
        self.leading = True
        now = utcnow()
        await self.refresh_contexts()
        async with self.sessions() as session:
            for ctx in self.contexts.values():
                since = now - timedelta(days=31)
                latest = await readings.latest_ts(session, ctx.signal_ids, since=since)
                if latest is not None:
                    self.frontier[ctx.id] = max(latest, self.frontier.get(ctx.id, latest))
                    self.data_hour[ctx.id] = states.hour_of(latest)
                    for back in range(2):
                        self.dirty[ctx.id].add(states.hour_of(latest) - back * HOUR)
            orders = await session.execute(
                text("SELECT id FROM work_order WHERE status IN ('in_progress', 'paused')")
            )
            self.runs_dirty |= {r[0] for r in orders}
        self.tail = AuditTail(WATCHED, now - timedelta(minutes=5))
        self._kpi_at = 0.0

    async def refresh_contexts(self) -> None:
        """Reload the machines, their signals and settings."""
        async with self.sessions() as session:
            contexts = await load_contexts(session, self.thresholds)
            keys = dict((await session.execute(select(signal.c.id, signal.c.key))).all())
        self.contexts = {c.id: c for c in contexts}
        self.by_code = {c.code: c for c in contexts}
        roles: dict[str, tuple[int, str]] = {}
        for c in contexts:
            for role, sid in (
                ("state", c.state_signal),
                ("good", c.good_signal),
                ("scrap", c.scrap_signal),
                ("alarm", c.alarm_signal),
                *(("rule", i) for i in c.rule_signals.values()),
            ):
                if sid is not None and sid in keys:
                    roles[keys[sid]] = (c.id, role)
        self.roles = roles
        self._contexts_at = time.monotonic()

    def mark(self, equipment_id: int, start: datetime, end: datetime) -> None:
        """Recompute the hours of [start, end) of a machine."""
        hour = states.hour_of(start)
        while hour < end:
            self.dirty[equipment_id].add(hour)
            hour += HOUR

    def mark_oee(self, equipment_id: int, start: datetime, end: datetime) -> None:
        """Recompute OEE of the hours of [start, end)."""
        hour = states.hour_of(start)
        while hour < end:
            self.oee_dirty[equipment_id].add(hour)
            hour += HOUR

    def live(self, equipment_id: int, now: datetime) -> bool:
        """True while the machine's data still arrives (or is recent)."""
        heard = self.seen_at.get(equipment_id)
        if heard is not None:
            return time.monotonic() - heard <= self.settings.live_stale_s
        frontier = self.frontier.get(equipment_id)
        return (
            frontier is not None and (now - frontier).total_seconds() <= self.settings.live_stale_s
        )

    @property
    def pending(self) -> bool:
        """True while recomputation is queued (for tests and monitoring)."""
        return (
            any(self.dirty.values())
            or any(self.oee_dirty.values())
            or bool(self.runs_dirty or self.reports_dirty)
        )

    async def run_pass(self) -> None:
        """One pass: changes, recomputation, publication."""
        now = utcnow()
        self.passes += 1
        self.touched = set()
        if time.monotonic() - self._contexts_at > CONTEXT_REFRESH_S:
            await self.refresh_contexts()
        await self._changes(now)
        await self._durable_dirty()
        for order_id in sorted(self.runs_dirty):
            async with self.sessions() as session:
                changed = await counters.rebuild_runs(session, order_id, now=now)
                await session.commit()
            for equipment_id, spans in changed.items():
                for a, b in spans:
                    self.mark(equipment_id, a, b)
            self.reports_dirty.add(order_id)
            self.orders_changed.add(order_id)
        self.runs_dirty.clear()
        self._follow_frontiers()
        await self._recompute(now)
        await self._oee_hours()
        for order_id in sorted(self.reports_dirty):
            if await counters.report_counts(self.sessions, order_id, ENGINE):
                self.orders_changed.add(order_id)
        self.reports_dirty.clear()
        await self._publish(now)

    async def _changes(self, now: datetime) -> None:
        assert self.tail is not None
        async with self.sessions() as session:
            changes = await self.tail.poll(session)
        reload = False
        stale: dict[int, datetime] = {}  # machine -> from when its stored OEE hours are stale
        for change in changes:
            if change.entity == "work_order":
                self.orders_changed.add(int(change.entity_id))
                if change.action in RUN_ACTIONS:
                    self.runs_dirty.add(int(change.entity_id))
            elif change.entity == "downtime_event":
                await self._downtime_change(change, now)
            elif change.entity in CALENDAR_ENTITIES | CONFIG_ENTITIES:
                reload = True
                ids: Iterable[int] = self.contexts
                if change.entity == "equipment_state_config":
                    ids = [int(change.entity_id)]
                since = now - timedelta(hours=self.settings.live_recompute_hours)
                for equipment_id in ids:
                    self.mark(equipment_id, since, now + HOUR)
                    first = states.hour_of(since)
                    stale[equipment_id] = min(first, stale.get(equipment_id, first))
        if stale:
            await self._stale_oee_hours(stale)
        if reload:
            await self.refresh_contexts()

    async def _stale_oee_hours(self, stale: dict[int, datetime]) -> None:
        """Recompute the stored OEE hours a calendar or configuration change may alter: planned
        time, reasons' loss categories and thresholds change OEE without changing the states
        or counts whose changes otherwise queue an hour's OEE."""
        async with self.sessions() as session:
            found = await oee.stored_hours(session, list(stale), min(stale.values()))
        for equipment_id, hour in found:
            if hour >= stale[equipment_id]:
                self.oee_dirty[equipment_id].add(hour)

    async def _downtime_change(self, change: Change, now: datetime) -> None:
        record = change.after or change.before or {}
        equipment_id = record.get("equipment_id")
        if not isinstance(equipment_id, int) or equipment_id not in self.contexts:
            return
        for snap in (change.before, change.after):
            if snap and snap.get("start_ts"):
                start = datetime.fromisoformat(snap["start_ts"])
                end = datetime.fromisoformat(snap["end_ts"]) if snap.get("end_ts") else now
                if change.user_id != ENGINE.subject:
                    self.mark(equipment_id, start, end)  # manual events shape automatic ones
                self.mark_oee(equipment_id, start, end)
        if change.user_id != ENGINE.subject and change.after is not None:
            code = self.contexts[equipment_id].code
            self.alerts[f"downtime/{change.entity_id}"] = {
                "kind": "downtime",
                "equipment": code,
                "event_id": int(change.entity_id),
                "start": change.after.get("start_ts"),
                "end": change.after.get("end_ts"),
                "source": change.after.get("source"),
                "planned": change.after.get("planned"),
                "reason_id": change.after.get("reason_id"),
                "active": change.after.get("end_ts") is None and change.action != "delete",
                "ts": iso(change.ts),
            }

    async def _durable_dirty(self) -> None:
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    delete(LiveDirty).returning(LiveDirty.equipment_id, LiveDirty.hour)
                )
            ).all()
            await session.commit()
        for equipment_id, hour in rows:
            targets = self.contexts if equipment_id is None else [equipment_id]
            for target in targets:
                if target in self.contexts:
                    self.dirty[target].add(states.hour_of(hour))
                    self.dirty[target].add(states.hour_of(hour) + HOUR)

    def _follow_frontiers(self) -> None:
        for equipment_id, frontier in self.frontier.items():
            hour = states.hour_of(frontier)
            previous = self.data_hour.get(equipment_id)
            if previous is not None and hour > previous:
                self.dirty[equipment_id].add(previous)  # close the hour that just ended
            self.data_hour[equipment_id] = hour
            computed = self.computed.get(equipment_id)
            if computed is None or frontier - computed >= TAIL_REFRESH:
                self.dirty[equipment_id].add(hour)

    async def _recompute(self, now: datetime) -> None:
        budget = HOURS_PER_PASS
        for equipment_id in sorted(self.dirty, key=lambda e: -len(self.dirty[e])):
            ctx = self.contexts.get(equipment_id)
            frontier = self.frontier.get(equipment_id)
            hours = self.dirty.pop(equipment_id)
            if ctx is None or frontier is None:
                continue
            data_hour = states.hour_of(frontier)
            todo = sorted((h for h in hours if h <= data_hour), reverse=True)
            if len(todo) > budget:
                self.dirty[equipment_id] |= set(todo[budget:])
                todo = todo[:budget]
            budget -= len(todo)
            if not todo:
                continue
            done: set[datetime] = set()
            queue = list(todo)
            while queue:
                hour = queue.pop(0)
                if hour in done:
                    continue
                done.add(hour)
                async with self.sessions() as session:
                    await session.execute(
                        text("SELECT pg_advisory_xact_lock(:ns, :id)"),
                        {"ns": 0x4D45_5303, "id": equipment_id},
                    )
                    spans = await states.derive_hour(session, ctx, hour, frontier)
                    changed = await states.store_hour(session, equipment_id, hour, spans)
                    orders = await counters.recompute_counts(session, ctx, hour)
                    await session.commit()
                HOURS.inc()
                if changed or orders:
                    self.oee_dirty[equipment_id].add(hour)
                    nxt = hour + HOUR
                    if nxt <= data_hour and nxt not in done:
                        queue.append(nxt)
                self.reports_dirty |= orders
            self.computed[equipment_id] = frontier
            self.touched.add(equipment_id)
            start, end = min(done), max(done) + HOUR
            result = await sync_downtime(
                self.sessions,
                ctx,
                start,
                end,
                data_end=frontier,
                live=self.live(equipment_id, now),
                principal=ENGINE,
            )
            for a, b in result.changed:
                self.mark_oee(equipment_id, a, b)
            if result.opened or result.closed or result.deleted or result.updated:
                await self._downtime_alerts(
                    ctx, result.opened + result.closed + result.updated, now
                )
                for event_id in result.deleted:
                    self.alerts[f"downtime/{event_id}"] = {
                        "kind": "downtime",
                        "equipment": ctx.code,
                        "event_id": event_id,
                        "active": False,
                        "deleted": True,
                        "ts": iso(now),
                    }

    async def _downtime_alerts(self, ctx: EquipmentContext, ids: list[int], now: datetime) -> None:
        async with self.sessions() as session:
            for event in await session.scalars(
                select(DowntimeEvent).where(DowntimeEvent.id.in_(ids))
            ):
                self.alerts[f"downtime/{event.id}"] = downtime_alert(event, ctx.code, now=now)

    async def _oee_hours(self) -> None:
        for equipment_id in list(self.oee_dirty):
            hours = self.oee_dirty.pop(equipment_id)
            ctx = self.contexts.get(equipment_id)
            frontier = self.frontier.get(equipment_id)
            if ctx is None or frontier is None:
                continue
            closed_before = states.hour_of(frontier)
            async with self.sessions() as session:
                for hour in sorted(hours):
                    if hour + HOUR <= closed_before:
                        await oee.store_hour(session, ctx, hour)
                    else:
                        await oee.forget_hour(session, equipment_id, hour)
                await session.commit()
            self.touched.add(equipment_id)

    # --- publication -------------------------------------------------------------------------

    async def _publish(self, now: datetime) -> None:
        async with self.sessions() as session:
            for equipment_id in sorted(self.touched):
                await self._status(session, self.contexts[equipment_id], now)
            if self.orders_changed:
                values = await work_orders(session, sorted(self.orders_changed))
                if values:
                    await events.publish_values(session, "work-orders", values)
                self.orders_changed.clear()
            if self.alerts:
                await events.publish_values(session, "alerts", dict(self.alerts))
                self.alerts.clear()
            kpi_due = time.monotonic() - self._kpi_at >= self.settings.live_kpi_interval
            if kpi_due:
                await self._kpi(session, now)
                self._kpi_at = time.monotonic()
            await session.commit()

    async def _status(self, session: AsyncSession, ctx: EquipmentContext, now: datetime) -> None:
        frontier = self.frontier.get(ctx.id)
        current = await states.current_state(session, ctx, frontier)
        open_event = await session.scalar(
            select(DowntimeEvent.id)
            .where(DowntimeEvent.equipment_id == ctx.id, DowntimeEvent.end_ts.is_(None))
            .order_by(DowntimeEvent.start_ts.desc())
            .limit(1)
        )
        run = None
        if frontier is not None:
            active = await counters.runs_on(
                session, ctx.id, frontier, frontier + timedelta(seconds=1)
            )
            run = counters.run_at(active, frontier)
        values = {
            "state": current.state,
            "planned": current.planned,
            "since": current.since,
            "downtime_event_id": open_event,
            "work_order_id": run.work_order_id if run else None,
            "operation_id": run.operation_id if run else None,
        }
        changed = self.published.get(ctx.id) != values
        due = time.monotonic() - self.status_written.get(ctx.id, 0.0) >= STATUS_WRITE_S
        if not changed and not due:
            return
        stmt = pg_insert(EquipmentStatus).values(
            equipment_id=ctx.id, data_ts=frontier, updated_at=now, **values
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[EquipmentStatus.equipment_id],
                set_={**values, "data_ts": frontier, "updated_at": now},
            )
        )
        self.status_written[ctx.id] = time.monotonic()
        if not changed:
            return
        self.published[ctx.id] = values
        equipment = await session.get(Equipment, ctx.id)
        status = await session.get(EquipmentStatus, ctx.id, populate_existing=True)
        assert equipment is not None
        payload = status_payload(equipment, status, stale_s=self.settings.live_stale_s, now=now)
        await events.publish(session, f"equipment/{ctx.code}", {"status": payload})
        if ctx.line_id is not None:
            line = await session.get(Equipment, ctx.line_id)
            if line is not None:
                await events.publish(session, f"line/{line.code}", {"values": {ctx.code: payload}})

    async def _kpi(self, session: AsyncSession, now: datetime) -> None:
        values = await kpi.compute(session, list(self.contexts.values()), now=now)
        if not values:
            return
        for key, value in values.items():
            stmt = pg_insert(LiveSnapshot).values(key=f"kpi/{key}", data=value, updated_at=now)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[LiveSnapshot.key], set_={"data": value, "updated_at": now}
                )
            )
        await events.publish_values(session, "kpi", values)
        for key, value in values.items():
            if key.startswith("line/"):
                await events.publish(session, key, {"kpi": value})


async def mark_hours(sessions: async_sessionmaker[AsyncSession], hours: list[datetime]) -> None:
    """Hour hook: hours whose readings changed (late data included) are recomputed for every
    machine by whichever process leads the engine."""
    if not hours:
        return
    async with sessions() as session:
        await session.execute(
            pg_insert(LiveDirty), [{"equipment_id": None, "hour": h} for h in sorted(set(hours))]
        )
        await session.commit()
