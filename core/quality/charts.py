"""SPC charts and capability of a characteristic from its stored results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, ErrorDetail, ValidationFailed
from core.quality import plans, spc
from core.quality.models import Characteristic, CharacteristicKind, Inspection, InspectionResult
from core.quality.schemas import (
    CapabilityOut,
    ChartOut,
    ChartPointOut,
    IndividualsOut,
    RuleCount,
    XbarROut,
)

MAX_POINTS = 5000


class SpcUnavailable(DomainError):
    """The stored data cannot make this chart or index (too little, no variation, ...)."""

    status_code = 422
    code = "spc_unavailable"


@dataclass(frozen=True)
class Selection:
    """Which results to chart: a time range of measurement, a work order, a lot."""

    since: datetime | None = None
    until: datetime | None = None
    work_order_id: int | None = None
    lot_id: int | None = None
    limit: int = MAX_POINTS


@dataclass(frozen=True)
class _Sample:
    inspection_id: int
    value: float
    at: datetime


async def _numeric(session: AsyncSession, characteristic_id: int) -> Characteristic:
    characteristic = await plans.get_characteristic(
        session=session, characteristic_id=characteristic_id
    )
    if characteristic.kind != CharacteristicKind.NUMERIC:
        raise ValidationFailed(
            "path.characteristic_id",
            f"characteristic {characteristic.code!r} is an attribute; SPC charts need "
            "numeric values",
        )
    return characteristic


async def _samples(
    session: AsyncSession, characteristic_id: int, selection: Selection
) -> list[_Sample]:
    """The selected values, oldest first (the newest `limit` of them)."""
    stmt = (
        select(InspectionResult.inspection_id, InspectionResult.value, InspectionResult.measured_at)
        .join(Inspection, Inspection.id == InspectionResult.inspection_id)
        .where(
            InspectionResult.characteristic_id == characteristic_id,
            InspectionResult.value.is_not(None),
        )
    )
    if selection.since is not None:
        stmt = stmt.where(InspectionResult.measured_at >= selection.since)
    if selection.until is not None:
        stmt = stmt.where(InspectionResult.measured_at < selection.until)
    if selection.work_order_id is not None:
        stmt = stmt.where(Inspection.work_order_id == selection.work_order_id)
    if selection.lot_id is not None:
        stmt = stmt.where(Inspection.lot_id == selection.lot_id)
    newest = stmt.order_by(
        InspectionResult.measured_at.desc(),
        InspectionResult.inspection_id.desc(),
        InspectionResult.sample_no.desc(),
    ).limit(selection.limit)
    rows = (await session.execute(newest)).all()
    return [
        _Sample(inspection_id, float(value), at)
        for inspection_id, value, at in reversed(rows)
        if value is not None
    ]


def _unavailable(err: spc.SpcError) -> SpcUnavailable:
    return SpcUnavailable(str(err), details=[ErrorDetail(field=None, reason=str(err))])


def _chart(chart: spc.Chart, meta: list[tuple[int | None, datetime]]) -> ChartOut:
    return ChartOut(
        center=chart.limits.center,
        lcl=chart.limits.lcl,
        ucl=chart.limits.ucl,
        points=[
            ChartPointOut(
                index=p.index,
                value=p.value,
                rules=list(p.rules),
                inspection_id=meta[p.index][0],
                at=meta[p.index][1],
            )
            for p in chart.points
        ],
        violations=[
            RuleCount(rule=rule, description=spc.RULES[rule], points=count)
            for rule, count in chart.violations.items()
        ],
    )


def _limits(characteristic: Characteristic) -> dict[str, Any]:
    return {
        "lsl": None if characteristic.lsl is None else float(characteristic.lsl),
        "usl": None if characteristic.usl is None else float(characteristic.usl),
    }


def _subgroups(
    samples: list[_Sample], size: int
) -> tuple[list[list[float]], list[tuple[int | None, datetime]], int]:
    """One subgroup per inspection (complete ones only), in order of first measurement."""
    groups: dict[int, list[_Sample]] = {}
    for s in samples:
        groups.setdefault(s.inspection_id, []).append(s)
    ordered = sorted(groups.items(), key=lambda kv: (min(s.at for s in kv[1]), kv[0]))
    complete = [(k, g) for k, g in ordered if len(g) == size]
    return (
        [[s.value for s in g] for _, g in complete],
        [(k, min(s.at for s in g)) for k, g in complete],
        len(ordered) - len(complete),
    )


async def xbar_r(
    *, session: AsyncSession, characteristic_id: int, selection: Selection
) -> XbarROut:
    """X-bar/R charts, one subgroup per inspection (sample size 2..10)."""
    characteristic = await _numeric(session, characteristic_id)
    size = characteristic.sample_size
    if size not in spc.CONSTANTS:
        raise ValidationFailed(
            "path.characteristic_id",
            f"X-bar/R charts need a sample size of 2 to 10; {characteristic.code!r} takes "
            f"{size}: use the individuals chart",
        )
    samples = await _samples(session, characteristic_id, selection)
    groups, meta, skipped = _subgroups(samples, size)
    try:
        chart = spc.xbar_r(groups)
    except spc.SpcError as err:
        raise _unavailable(err) from err
    return XbarROut(
        characteristic_id=characteristic_id,
        subgroup_size=size,
        subgroups=len(groups),
        incomplete_skipped=skipped,
        sigma_within=chart.sigma_within,
        **_limits(characteristic),
        xbar=_chart(chart.xbar, meta),
        range=_chart(chart.range, meta),
    )


async def individuals(
    *, session: AsyncSession, characteristic_id: int, selection: Selection
) -> IndividualsOut:
    """Individuals/moving-range charts of every selected value in measurement order."""
    characteristic = await _numeric(session, characteristic_id)
    samples = await _samples(session, characteristic_id, selection)
    try:
        chart = spc.individuals([s.value for s in samples])
    except spc.SpcError as err:
        raise _unavailable(err) from err
    meta: list[tuple[int | None, datetime]] = [(s.inspection_id, s.at) for s in samples]
    return IndividualsOut(
        characteristic_id=characteristic_id,
        values=len(samples),
        sigma_within=chart.sigma_within,
        **_limits(characteristic),
        individuals=_chart(chart.individuals, meta),
        moving_range=_chart(chart.moving_range, meta),
    )


async def capability(
    *, session: AsyncSession, characteristic_id: int, selection: Selection
) -> CapabilityOut:
    """Cp/Cpk (within sigma: R-bar/d2 of complete subgroups when the sample size is 2..10 and
    there are at least two, else MR-bar/d2) and Pp/Ppk (overall sigma) of the selected values."""
    characteristic = await _numeric(session, characteristic_id)
    samples = await _samples(session, characteristic_id, selection)
    values = [s.value for s in samples]
    try:
        groups, _, _ = _subgroups(samples, characteristic.sample_size)
        if characteristic.sample_size in spc.CONSTANTS and len(groups) >= 2:
            method, sigma = "rbar/d2", spc.sigma_within_subgroups(groups)
        else:
            method, sigma = "mrbar/d2", spc.sigma_within_individuals(values)
        result = spc.capability(values, sigma_within=sigma, **_limits(characteristic))
    except spc.SpcError as err:
        raise _unavailable(err) from err
    return CapabilityOut(
        characteristic_id=characteristic_id,
        n=result.n,
        mean=result.mean,
        sigma_within=result.sigma_within,
        sigma_method=method,
        sigma_overall=result.sigma_overall,
        lsl=result.lsl,
        usl=result.usl,
        cp=result.cp,
        cpk=result.cpk,
        pp=result.pp,
        ppk=result.ppk,
    )
