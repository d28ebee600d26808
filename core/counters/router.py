"""/api/v1/production: where work orders ran, what machine counters counted for them, and the
readings linked to work orders, lots and machines."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime
from sqlalchemy import select

from core.auth.deps import require
from core.common.listing import ListParamsDep, ListSpec, paginate
from core.common.schemas import Page
from core.counters import linked
from core.counters import service as counters
from core.counters.models import ProductionCount
from core.counters.schemas import (
    CounterTotalOut,
    LinkedSeriesOut,
    LinkedStatsOut,
    ProductionCountOut,
    RunOut,
)
from core.counters.service import StoredRun
from core.db import SessionDep
from core.equipment.models import Equipment
from core.errors import NotFound, ValidationFailed, errors
from core.states.service import check_range
from core.telemetry.schemas import PointOut

router = APIRouter(
    prefix="/production", tags=["production"], dependencies=[require("telemetry:read")]
)

MAX_RANGE = timedelta(days=31)
WorkOrderId = Annotated[int, Path(ge=1, le=2**31 - 1, description="work order id")]
LotId = Annotated[int, Path(ge=1, le=2**31 - 1, description="lot id")]
Names = Annotated[
    list[str] | None,
    Query(alias="name", max_length=50, description="signal name (repeat); all when absent"),
]
SignalIds = Annotated[
    list[int] | None, Query(alias="signal_id", max_length=50, description="signal id (repeat)")
]
OneSignal = Annotated[int, Query(ge=1, le=2**31 - 1, description="the signal")]
MaxPoints = Annotated[int, Query(ge=1, le=100_000)]
COUNT_SPEC = ListSpec(
    search=[Equipment.code],
    sort={"minute": ProductionCount.minute, "equipment_id": ProductionCount.equipment_id},
    default_sort="-minute",
)


async def _run_out(session: SessionDep, runs: list[StoredRun]) -> list[RunOut]:
    codes = dict(
        (
            await session.execute(
                select(Equipment.id, Equipment.code).where(
                    Equipment.id.in_({r.equipment_id for r in runs})
                )
            )
        ).all()
    )
    return [
        RunOut(
            work_order_id=r.work_order_id,
            operation_id=r.operation_id,
            equipment_id=r.equipment_id,
            equipment_code=codes[r.equipment_id],
            start=r.start,
            end=r.end,
        )
        for r in runs
    ]


def _stats_out(rows: list[linked.LinkedStats]) -> list[LinkedStatsOut]:
    return [
        LinkedStatsOut(
            signal_id=s.signal.id,
            key=s.signal.key,
            name=s.signal.name,
            unit=s.signal.unit,
            equipment_code=s.signal.equipment_code,
            runs=s.runs,
            n=s.n,
            min=s.vmin,
            max=s.vmax,
            mean=s.mean,
            std=s.std,
        )
        for s in rows
    ]


async def _series(
    session: SessionDep, runs: list[StoredRun], signal_id: int, max_points: int
) -> LinkedSeriesOut:
    found = await linked.linked_signals(session, runs, ids=[signal_id])
    points, truncated = await linked.points(session, runs, found[0], limit=max_points)
    return LinkedSeriesOut(
        signal_id=signal_id,
        key=found[0].key,
        unit=found[0].unit,
        points=[PointOut(ts=p.ts, value=p.value, quality=p.quality) for p in points],
        truncated=truncated,
    )


@router.get(
    "/work-orders/{work_order_id}/runs",
    response_model=list[RunOut],
    summary="Runs of a work order",
    description="The stretches the order (or each operation) was in progress or paused on a "
    "machine, from its transitions and dispatches; readings and counted parts are attributed "
    "by them.",
    responses=errors(401, 403, 404, 422),
)
async def work_order_runs(session: SessionDep, work_order_id: WorkOrderId) -> list[RunOut]:
    """Runs of a work order."""
    return await _run_out(session, await linked.order_runs(session, work_order_id))


@router.get(
    "/work-orders/{work_order_id}/counts",
    response_model=list[CounterTotalOut],
    summary="Counted parts of a work order",
    description="Per operation and machine: parts the counters counted while the order ran "
    "there, the automatic reports made from them, and what is pending.",
    responses=errors(401, 403, 404, 422),
)
async def work_order_counts(
    session: SessionDep, work_order_id: WorkOrderId
) -> list[CounterTotalOut]:
    """Counted parts of a work order."""
    await linked.order_runs(session, work_order_id)
    totals = await counters.counter_totals(session, work_order_id)
    codes = dict(
        (
            await session.execute(
                select(Equipment.id, Equipment.code).where(
                    Equipment.id.in_({t.equipment_id for t in totals})
                )
            )
        ).all()
    )
    return [
        CounterTotalOut(
            operation_id=t.operation_id,
            equipment_id=t.equipment_id,
            equipment_code=codes[t.equipment_id],
            counted_good=t.counted_good,
            counted_scrap=t.counted_scrap,
            reported_good=t.reported_good,
            reported_scrap=t.reported_scrap,
            pending_good=t.pending_good,
            pending_scrap=t.pending_scrap,
            last_minute=t.last_minute,
        )
        for t in totals
    ]


@router.get(
    "/work-orders/{work_order_id}/signal-stats",
    response_model=list[LinkedStatsOut],
    summary="Signal statistics of a work order",
    description="Count, min, max, mean and standard deviation of the signals of the machines "
    "the order ran on, over its runs there.",
    responses=errors(401, 403, 404, 422),
)
async def work_order_signal_stats(
    session: SessionDep, work_order_id: WorkOrderId, name: Names = None, signal_id: SignalIds = None
) -> list[LinkedStatsOut]:
    """Signal statistics of a work order."""
    runs = await linked.order_runs(session, work_order_id)
    signals = await linked.linked_signals(session, runs, names=name or (), ids=signal_id or ())
    return _stats_out(await linked.stats(session, runs, signals))


@router.get(
    "/work-orders/{work_order_id}/readings",
    response_model=LinkedSeriesOut,
    summary="Readings of a work order",
    description="Raw readings of one signal inside the order's runs on its machine.",
    responses=errors(401, 403, 404, 422),
)
async def work_order_readings(
    session: SessionDep,
    work_order_id: WorkOrderId,
    signal_id: OneSignal,
    max_points: MaxPoints = 10_000,
) -> LinkedSeriesOut:
    """Readings of a work order."""
    runs = await linked.order_runs(session, work_order_id)
    return await _series(session, runs, signal_id, max_points)


@router.get(
    "/lots/{lot_id}/signal-stats",
    response_model=list[LinkedStatsOut],
    summary="Signal statistics of a lot",
    description="Statistics of the signals of the machines that made the lot, over the runs "
    "of the work order that produced it.",
    responses=errors(401, 403, 404, 422),
)
async def lot_signal_stats(
    session: SessionDep, lot_id: LotId, name: Names = None, signal_id: SignalIds = None
) -> list[LinkedStatsOut]:
    """Signal statistics of a lot."""
    runs = await linked.order_runs(session, await linked.lot_order(session, lot_id))
    signals = await linked.linked_signals(session, runs, names=name or (), ids=signal_id or ())
    return _stats_out(await linked.stats(session, runs, signals))


@router.get(
    "/lots/{lot_id}/readings",
    response_model=LinkedSeriesOut,
    summary="Readings of a lot",
    description="Raw readings of one signal while the lot's work order ran on its machine.",
    responses=errors(401, 403, 404, 422),
)
async def lot_readings(
    session: SessionDep, lot_id: LotId, signal_id: OneSignal, max_points: MaxPoints = 10_000
) -> LinkedSeriesOut:
    """Readings of a lot."""
    runs = await linked.order_runs(session, await linked.lot_order(session, lot_id))
    return await _series(session, runs, signal_id, max_points)


@router.get(
    "/equipment/{equipment_id}/signal-stats",
    response_model=list[LinkedStatsOut],
    summary="Signal statistics of a machine",
    description="Statistics of the machine's signals over a range (at most 31 days).",
    responses=errors(401, 403, 404, 422),
)
async def equipment_signal_stats(
    session: SessionDep,
    equipment_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    start: Annotated[AwareDatetime, Query(description="inclusive start")],
    end: Annotated[AwareDatetime, Query(description="exclusive end")],
    name: Names = None,
) -> list[LinkedStatsOut]:
    """Signal statistics of a machine."""
    start, end = check_range(start, end, MAX_RANGE)
    if await session.get(Equipment, equipment_id) is None:
        raise NotFound(f"equipment {equipment_id} not found")
    run = StoredRun(0, None, equipment_id, start, end)
    signals = await linked.linked_signals(session, [run], names=name or ())
    return _stats_out(await linked.stats(session, [run], signals))


@router.get(
    "/counts",
    response_model=Page[ProductionCountOut],
    summary="List counted parts",
    description="Parts counted per machine and minute, with the order they were attributed "
    "to; `q` searches the machine code.",
    responses=errors(401, 403, 422),
)
async def list_production_counts(
    session: SessionDep,
    params: ListParamsDep,
    equipment_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    work_order_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    start: Annotated[AwareDatetime | None, Query()] = None,
    end: Annotated[AwareDatetime | None, Query()] = None,
) -> Page[ProductionCountOut]:
    """List counted parts."""
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("query.end", "must be after start")
    stmt = select(ProductionCount).join(Equipment, Equipment.id == ProductionCount.equipment_id)
    if start is not None:
        stmt = stmt.where(ProductionCount.minute >= start.astimezone(UTC))
    if end is not None:
        stmt = stmt.where(ProductionCount.minute < end.astimezone(UTC))
    return await paginate(
        session,
        stmt,
        COUNT_SPEC,
        params,
        schema=ProductionCountOut,
        filters={
            ProductionCount.equipment_id: equipment_id,
            ProductionCount.work_order_id: work_order_id,
        },
    )
