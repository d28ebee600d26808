"""Work-order runs on equipment, parts counted by machine counters, and their automatic
reports into work-order quantities (through the work-order service, so every report is a
`work_order_report` row with source `auto`, audited like a manual one)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.audit.models import AuditEvent
from core.auth.principal import Principal
from core.counters.models import ProductionCount, WorkOrderRun
from core.counters.runs import Dispatch, Run, Transition, changed_spans, runs
from core.equipment import service as equipment_service
from core.equipment.models import Equipment
from core.errors import DomainError
from core.states import readings
from core.states.context import EquipmentContext
from core.states.derive import increments
from core.work_orders import service as work_orders
from core.work_orders.models import (
    ReportSource,
    WorkOrder,
    WorkOrderOperation,
    WorkOrderReport,
    WorkOrderTransition,
)
from core.work_orders.schemas import ReportCreate

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
LOCK_NAMESPACE = 0x4D45_5301  # pg_advisory_xact_lock(namespace, work order id)
AUTO_COMMENT = "counted by machine counters"


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A work-order run as stored."""

    work_order_id: int
    operation_id: int | None
    equipment_id: int
    start: datetime
    end: datetime | None

    def contains(self, ts: datetime) -> bool:
        """True when `ts` falls in the run."""
        return self.start <= ts and (self.end is None or ts < self.end)


# --- runs --------------------------------------------------------------------------------------


async def _order_operation(
    session: AsyncSession, operations: Sequence[WorkOrderOperation], equipment_ids: set[int]
) -> dict[int, int | None]:
    """For an order dispatched as a whole: the operation whose equipment type matches each
    machine, else the last operation (None without operations)."""
    if not operations:
        return dict.fromkeys(equipment_ids)
    types = dict(
        (
            await session.execute(
                select(Equipment.id, Equipment.type).where(Equipment.id.in_(equipment_ids))
            )
        ).all()
    )
    ordered = sorted(operations, key=lambda o: o.sequence)
    out: dict[int, int | None] = {}
    for equipment in equipment_ids:
        match = [
            o for o in ordered if o.equipment_type and o.equipment_type == types.get(equipment)
        ]
        out[equipment] = (match[0] if match else ordered[-1]).id
    return out


async def derive_runs(session: AsyncSession, work_order_id: int) -> list[Run]:
    """The runs of an order from its transitions and dispatches (the audit trail keeps when
    each dispatch happened)."""
    transitions = [
        Transition(r[0], r[1])
        for r in await session.execute(
            select(WorkOrderTransition.at, WorkOrderTransition.to_status)
            .where(WorkOrderTransition.work_order_id == work_order_id)
            .order_by(WorkOrderTransition.id)
        )
    ]
    dispatches = []
    for ts, after in await session.execute(
        select(AuditEvent.ts, AuditEvent.after)
        .where(
            AuditEvent.entity == work_orders.ENTITY,
            AuditEvent.entity_id == str(work_order_id),
            AuditEvent.action == "dispatch",
        )
        .order_by(AuditEvent.id)
    ):
        if after and after.get("equipment_id") is not None:
            dispatches.append(Dispatch(ts, int(after["equipment_id"]), after.get("operation_id")))
    operations = list(
        await session.scalars(
            select(WorkOrderOperation).where(WorkOrderOperation.work_order_id == work_order_id)
        )
    )
    whole = {d.equipment_id for d in dispatches if d.operation_id is None}
    return runs(transitions, dispatches, await _order_operation(session, operations, whole))


async def stored_runs(session: AsyncSession, work_order_id: int) -> list[StoredRun]:
    """The stored runs of an order, oldest first."""
    t = WorkOrderRun
    rows = await session.execute(
        select(t.work_order_id, t.operation_id, t.equipment_id, t.start_ts, t.end_ts)
        .where(t.work_order_id == work_order_id)
        .order_by(t.start_ts, t.id)
    )
    return [StoredRun(*r) for r in rows]


async def rebuild_runs(
    session: AsyncSession, work_order_id: int, *, now: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Store the order's runs afresh; per equipment, the stretches whose attribution changed."""
    new = await derive_runs(session, work_order_id)
    old = [
        Run(r.operation_id, r.equipment_id, r.start, r.end)
        for r in await stored_runs(session, work_order_id)
    ]
    if sorted(old, key=_run_key) == sorted(new, key=_run_key):
        return {}
    await session.execute(delete(WorkOrderRun).where(WorkOrderRun.work_order_id == work_order_id))
    if new:
        await session.execute(
            insert(WorkOrderRun),
            [
                {
                    "work_order_id": work_order_id,
                    "operation_id": r.operation_id,
                    "equipment_id": r.equipment_id,
                    "start_ts": r.start,
                    "end_ts": r.end,
                }
                for r in new
            ],
        )
    return changed_spans(old, new, now=now)


def _run_key(run: Run) -> tuple[datetime, int, int]:
    return (run.start, run.equipment_id, run.operation_id or 0)


async def runs_on(
    session: AsyncSession, equipment_id: int, start: datetime, end: datetime
) -> list[StoredRun]:
    """Runs on one piece of equipment overlapping [start, end), by start."""
    t = WorkOrderRun
    rows = await session.execute(
        select(t.work_order_id, t.operation_id, t.equipment_id, t.start_ts, t.end_ts)
        .where(
            t.equipment_id == equipment_id,
            t.start_ts < end,
            (t.end_ts.is_(None)) | (t.end_ts > start),
        )
        .order_by(t.start_ts, t.id)
    )
    return [StoredRun(*r) for r in rows]


def run_at(items: Sequence[StoredRun], ts: datetime) -> StoredRun | None:
    """The run counting at `ts`: the latest started of those containing it."""
    found = None
    for run in items:
        if run.start > ts:
            break
        if run.contains(ts):
            found = run
    return found


# --- counted parts -----------------------------------------------------------------------------


async def _ideal_cycles(
    session: AsyncSession, equipment_id: int, keys: set[tuple[int | None, int | None]]
) -> dict[tuple[int | None, int | None], Decimal | None]:
    """Ideal seconds per part for (work order, operation) on the equipment: the item's cycle
    time there, else the operation's, else the equipment's default."""
    entries = {
        c.item_id: c.ideal_cycle_time_s
        for c in await equipment_service.list_cycle_times(
            session=session, equipment_id=equipment_id
        )
    }
    equipment = await session.get(Equipment, equipment_id)
    default = equipment.ideal_cycle_time_s if equipment is not None else None
    out: dict[tuple[int | None, int | None], Decimal | None] = {}
    for order_id, operation_id in keys:
        value: Decimal | None = None
        if order_id is not None:
            item_id = await session.scalar(
                select(WorkOrder.item_id).where(WorkOrder.id == order_id)
            )
            value = entries.get(item_id) if item_id is not None else None
        if value is None and operation_id is not None:
            value = await session.scalar(
                select(WorkOrderOperation.ideal_cycle_time_s).where(
                    WorkOrderOperation.id == operation_id
                )
            )
        out[(order_id, operation_id)] = value if value is not None else default
    return out


async def recompute_counts(
    session: AsyncSession, ctx: EquipmentContext, hour: datetime
) -> set[int]:
    """Count the hour's parts from the machine's counters and attribute them to the run at
    each reading; returns the work orders whose counts may have changed."""
    start, end = hour, hour + HOUR
    counted: list[tuple[datetime, int, int]] = []
    for signal_id, is_good in ((ctx.good_signal, True), (ctx.scrap_signal, False)):
        if signal_id is None:
            continue
        points = await readings.points(session, signal_id, start, end)
        prior = await readings.prior(session, signal_id, start)
        for ts, n in increments(points, prior):
            counted.append((ts, n, 0) if is_good else (ts, 0, n))
    active = await runs_on(session, ctx.id, start, end)
    totals: dict[tuple[datetime, int | None, int | None], list[int]] = defaultdict(lambda: [0, 0])
    for ts, good, scrap in sorted(counted):
        run = run_at(active, ts)
        key = (
            ts.replace(second=0, microsecond=0),
            run.work_order_id if run else None,
            run.operation_id if run else None,
        )
        totals[key][0] += good
        totals[key][1] += scrap
    cycles = await _ideal_cycles(session, ctx.id, {(k[1], k[2]) for k in totals})
    new = {
        (minute, order, op, good, scrap, cycles[(order, op)])
        for (minute, order, op), (good, scrap) in totals.items()
    }
    t = ProductionCount
    old_rows = (
        await session.execute(
            select(
                t.minute, t.work_order_id, t.operation_id, t.good, t.scrap, t.ideal_cycle_s
            ).where(t.equipment_id == ctx.id, t.minute >= start, t.minute < end)
        )
    ).all()
    old = {tuple(r) for r in old_rows}
    if old == new:
        return set()
    await session.execute(
        delete(t).where(t.equipment_id == ctx.id, t.minute >= start, t.minute < end)
    )
    if new:
        await session.execute(
            insert(t),
            [
                {
                    "equipment_id": ctx.id,
                    "minute": minute,
                    "work_order_id": order,
                    "operation_id": op,
                    "good": good,
                    "scrap": scrap,
                    "ideal_cycle_s": cycle,
                }
                for minute, order, op, good, scrap, cycle in sorted(new, key=lambda r: r[0])
            ],
        )
    return {int(r[1]) for r in (*old, *new) if isinstance(r[1], int)}


# --- automatic reports -------------------------------------------------------------------------


@dataclass(frozen=True)
class CounterTotal:
    """Parts counted for one operation on one machine, and how much of it is reported."""

    operation_id: int | None
    equipment_id: int
    counted_good: int
    counted_scrap: int
    reported_good: Decimal
    reported_scrap: Decimal
    last_minute: datetime | None

    @property
    def pending_good(self) -> Decimal:
        """Counted but not reported yet."""
        return max(Decimal(self.counted_good) - self.reported_good, Decimal(0))

    @property
    def pending_scrap(self) -> Decimal:
        """Counted but not reported yet."""
        return max(Decimal(self.counted_scrap) - self.reported_scrap, Decimal(0))


async def counter_totals(session: AsyncSession, work_order_id: int) -> list[CounterTotal]:
    """Counted and automatically reported quantities of an order per operation and machine."""
    p = ProductionCount
    counted = {
        (r[0], r[1]): (int(r[2]), int(r[3]), r[4])
        for r in await session.execute(
            select(
                p.operation_id,
                p.equipment_id,
                func.sum(p.good),
                func.sum(p.scrap),
                func.max(p.minute),
            )
            .where(p.work_order_id == work_order_id)
            .group_by(p.operation_id, p.equipment_id)
        )
    }
    w = WorkOrderReport
    reported = {
        (r[0], r[1]): (Decimal(r[2]), Decimal(r[3]))
        for r in await session.execute(
            select(
                w.operation_id,
                w.equipment_id,
                func.sum(w.good_quantity),
                func.sum(w.scrap_quantity),
            )
            .where(w.work_order_id == work_order_id, w.source == ReportSource.AUTO)
            .group_by(w.operation_id, w.equipment_id)
        )
        if r[1] is not None
    }
    out = []
    for key in sorted(set(counted) | set(reported), key=lambda k: (k[0] or 0, k[1])):
        good, scrap, last = counted.get(key, (0, 0, None))
        rgood, rscrap = reported.get(key, (Decimal(0), Decimal(0)))
        out.append(CounterTotal(key[0], key[1], good, scrap, rgood, rscrap, last))
    return out


async def report_counts(
    sessions: async_sessionmaker[AsyncSession], work_order_id: int, principal: Principal
) -> int:
    """Report what the counters counted beyond the automatic reports so far, one report per
    operation and machine (idempotent: a second call finds nothing pending). Returns the number
    of reports made; orders no longer in progress or paused keep their counts pending."""
    made = 0
    async with sessions() as session:
        keys = [
            (t.operation_id, t.equipment_id) for t in await counter_totals(session, work_order_id)
        ]
    for operation_id, equipment_id in keys:
        async with sessions() as session:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:ns, :id)"),
                {"ns": LOCK_NAMESPACE, "id": work_order_id},
            )
            totals = {
                (t.operation_id, t.equipment_id): t
                for t in await counter_totals(session, work_order_id)
            }
            total = totals.get((operation_id, equipment_id))
            if total is None or (total.pending_good <= 0 and total.pending_scrap <= 0):
                continue
            now = datetime.now(UTC)
            at = min(total.last_minute + timedelta(minutes=1), now) if total.last_minute else now
            data = ReportCreate(
                operation_id=operation_id,
                equipment_id=equipment_id,
                good_quantity=total.pending_good,
                scrap_quantity=total.pending_scrap,
                reported_at=at,
                source=ReportSource.AUTO,
                comment=AUTO_COMMENT,
            )
            try:
                await work_orders.report(
                    session=session, principal=principal, work_order_id=work_order_id, data=data
                )
            except DomainError as err:
                log.info(
                    "counted parts of work order %s not reported: %s",
                    work_order_id,
                    err.message,
                    extra={"work_order_id": work_order_id, "reason": err.message},
                )
                continue
            made += 1
    return made
