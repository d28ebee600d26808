"""/api/v1/quality: inspection plans, inspections, non-conformances and SPC."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from core.auth.deps import require
from core.auth.principal import Principal
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import ErrorBody, errors
from core.quality import charts, inspections, nonconformances, plans
from core.quality.models import Disposition, InspectionStatus, NcStatus, Severity
from core.quality.schemas import (
    CapabilityOut,
    CharacteristicCreate,
    CharacteristicOut,
    CharacteristicUpdate,
    IndividualsOut,
    InspectionCreate,
    InspectionOut,
    InspectionSummary,
    NcCreate,
    NcOut,
    NcTransition,
    NcUpdate,
    PlanCreate,
    PlanOut,
    PlanSummary,
    PlanUpdate,
    ResultsCreate,
    XbarROut,
)

MALFORMED: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "The body is not valid JSON"}
}
"""Bodies that cannot be parsed at all are refused before validation."""

router = APIRouter(prefix="/quality", tags=["quality"])

MAX_ID = 2**31 - 1
PlanId = Annotated[int, Path(ge=1, le=MAX_ID, description="inspection plan id")]
CharacteristicId = Annotated[int, Path(ge=1, le=MAX_ID, description="characteristic id")]
InspectionId = Annotated[int, Path(ge=1, le=MAX_ID, description="inspection id")]
NcId = Annotated[int, Path(ge=1, le=MAX_ID, description="non-conformance id")]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Since = Annotated[datetime | None, Query(description="inclusive lower bound")]
Until = Annotated[datetime | None, Query(description="exclusive upper bound")]
Planner = Annotated[Principal, require("quality:plan")]
Inspector = Annotated[Principal, require("quality:inspect")]
Reporter = Annotated[Principal, require("quality:report_nc")]
Reviewer = Annotated[Principal, require("quality:review_nc")]
READ = [require("quality:read")]


def selection(
    since: Annotated[
        datetime | None, Query(description="results measured at or after this time")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="results measured before this time")
    ] = None,
    work_order_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="only inspections of this work order")
    ] = None,
    lot_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="only inspections of this lot")
    ] = None,
    limit: Annotated[
        int, Query(ge=2, le=charts.MAX_POINTS, description="newest values to use at most")
    ] = charts.MAX_POINTS,
) -> charts.Selection:
    """Which stored results an SPC computation uses."""
    return charts.Selection(
        since=since, until=until, work_order_id=work_order_id, lot_id=lot_id, limit=limit
    )


SelectionDep = Annotated[charts.Selection, Depends(selection)]


# --- plans and characteristics -------------------------------------------------------------


@router.get(
    "/plans",
    response_model=Page[PlanSummary],
    summary="List inspection plans",
    description="Search (`q` over code and name), filter by item, operation and active flag.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_inspection_plans(
    session: SessionDep,
    params: ListParamsDep,
    item_id: IdFilter = None,
    operation_id: IdFilter = None,
    active: Annotated[bool | None, Query()] = None,
) -> Page[PlanSummary]:
    """List inspection plans."""
    return await plans.list_plans(
        session=session, params=params, item_id=item_id, operation_id=operation_id, active=active
    )


@router.post(
    "/plans",
    response_model=PlanOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an inspection plan",
    description="A plan for an item (optionally one routing operation) with its "
    "characteristics: numeric ones with unit, spec limits, target and sample size, or "
    "attribute (pass/fail) ones.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def create_inspection_plan(
    session: SessionDep, principal: Planner, data: PlanCreate
) -> PlanOut:
    """Create an inspection plan."""
    plan = await plans.create_plan(session=session, principal=principal, data=data)
    return PlanOut.model_validate(plan)


@router.get(
    "/plans/{plan_id}",
    response_model=PlanOut,
    summary="Get an inspection plan",
    description="One plan with its characteristics in order.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_inspection_plan(session: SessionDep, plan_id: PlanId) -> PlanOut:
    """Get an inspection plan."""
    return PlanOut.model_validate(await plans.get_plan(session=session, plan_id=plan_id))


@router.patch(
    "/plans/{plan_id}",
    response_model=PlanOut,
    summary="Update an inspection plan",
    description="Change name, operation, active flag or description (code and item are "
    "permanent). Inactive plans start no inspections.",
    responses=MALFORMED | errors(401, 403, 404, 422),
)
async def update_inspection_plan(
    session: SessionDep, principal: Planner, plan_id: PlanId, data: PlanUpdate
) -> PlanOut:
    """Update an inspection plan."""
    plan = await plans.update_plan(session=session, principal=principal, plan_id=plan_id, data=data)
    return PlanOut.model_validate(plan)


@router.delete(
    "/plans/{plan_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an inspection plan",
    description="Delete a plan no inspection used; 409 otherwise (deactivate it instead).",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_inspection_plan(session: SessionDep, principal: Planner, plan_id: PlanId) -> None:
    """Delete an inspection plan."""
    await plans.delete_plan(session=session, principal=principal, plan_id=plan_id)


@router.post(
    "/plans/{plan_id}/characteristics",
    response_model=CharacteristicOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a characteristic",
    description="Add a characteristic to a plan; its code is unique within the plan.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def add_characteristic(
    session: SessionDep, principal: Planner, plan_id: PlanId, data: CharacteristicCreate
) -> CharacteristicOut:
    """Add a characteristic."""
    characteristic = await plans.add_characteristic(
        session=session, principal=principal, plan_id=plan_id, data=data
    )
    return CharacteristicOut.model_validate(characteristic)


@router.get(
    "/characteristics/{characteristic_id}",
    response_model=CharacteristicOut,
    summary="Get a characteristic",
    description="One characteristic by id.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_characteristic(
    session: SessionDep, characteristic_id: CharacteristicId
) -> CharacteristicOut:
    """Get a characteristic."""
    return CharacteristicOut.model_validate(
        await plans.get_characteristic(session=session, characteristic_id=characteristic_id)
    )


@router.patch(
    "/characteristics/{characteristic_id}",
    response_model=CharacteristicOut,
    summary="Update a characteristic",
    description="Change name, order, unit, limits or target (they must still fit its kind), "
    "or the sample size while nothing is recorded. Recorded results keep their pass/fail.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def update_characteristic(
    session: SessionDep,
    principal: Planner,
    characteristic_id: CharacteristicId,
    data: CharacteristicUpdate,
) -> CharacteristicOut:
    """Update a characteristic."""
    characteristic = await plans.update_characteristic(
        session=session, principal=principal, characteristic_id=characteristic_id, data=data
    )
    return CharacteristicOut.model_validate(characteristic)


@router.delete(
    "/characteristics/{characteristic_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a characteristic",
    description="Delete a characteristic with no recorded results; 409 otherwise.",
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_characteristic(
    session: SessionDep, principal: Planner, characteristic_id: CharacteristicId
) -> None:
    """Delete a characteristic."""
    await plans.delete_characteristic(
        session=session, principal=principal, characteristic_id=characteristic_id
    )


# --- inspections ---------------------------------------------------------------------------


@router.get(
    "/inspections",
    response_model=Page[InspectionSummary],
    summary="List inspections",
    description="Filter by plan, status, work order, lot and start time; `q` searches the "
    "inspector, notes, the plan's code and name, the work order's code and the lot's code. "
    "Newest first by default.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_inspections(
    session: SessionDep,
    params: ListParamsDep,
    plan_id: IdFilter = None,
    status: Annotated[InspectionStatus | None, Query()] = None,
    work_order_id: IdFilter = None,
    lot_id: IdFilter = None,
    since: Since = None,
    until: Until = None,
) -> Page[InspectionSummary]:
    """List inspections."""
    return await inspections.list_inspections(
        session=session,
        params=params,
        plan_id=plan_id,
        status=status,
        work_order_id=work_order_id,
        lot_id=lot_id,
        since=since,
        until=until,
    )


@router.post(
    "/inspections",
    response_model=InspectionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Start an inspection",
    description="Inspect a work order's output and/or a lot (of the plan's item) against an "
    "active plan; the inspection stays open until every sample is recorded.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def create_inspection(
    session: SessionDep, principal: Inspector, data: InspectionCreate
) -> InspectionOut:
    """Start an inspection."""
    return await inspections.create(session=session, principal=principal, data=data)


@router.get(
    "/inspections/{inspection_id}",
    response_model=InspectionOut,
    summary="Get an inspection",
    description="One inspection with its results, progress and failed result count.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_inspection(session: SessionDep, inspection_id: InspectionId) -> InspectionOut:
    """Get an inspection."""
    return await inspections.get(session=session, inspection_id=inspection_id)


@router.post(
    "/inspections/{inspection_id}/results",
    response_model=InspectionOut,
    summary="Record inspection results",
    description="Record sample results, all or nothing: numeric ones pass within "
    "[LSL, USL], attribute ones as reported. When every sample of every characteristic is "
    "in, the inspection passes (all passed) or fails. 409 for a sample already recorded or a "
    "decided inspection.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def record_inspection_results(
    session: SessionDep, principal: Inspector, inspection_id: InspectionId, data: ResultsCreate
) -> InspectionOut:
    """Record inspection results."""
    return await inspections.record_results(
        session=session, principal=principal, inspection_id=inspection_id, data=data
    )


# --- non-conformances ----------------------------------------------------------------------


@router.get(
    "/non-conformances",
    response_model=Page[NcOut],
    summary="List non-conformances",
    description="Filter by status, severity, disposition, source (inspection, lot, work "
    "order), item and report time; `q` searches title, description and reporter.",
    dependencies=READ,
    responses=errors(401, 403, 422),
)
async def list_non_conformances(
    session: SessionDep,
    params: ListParamsDep,
    status: Annotated[NcStatus | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    disposition: Annotated[Disposition | None, Query()] = None,
    inspection_id: IdFilter = None,
    lot_id: IdFilter = None,
    work_order_id: IdFilter = None,
    item_id: IdFilter = None,
    since: Since = None,
    until: Until = None,
) -> Page[NcOut]:
    """List non-conformances."""
    return await nonconformances.list_ncs(
        session=session,
        params=params,
        status=status,
        severity=severity,
        disposition=disposition,
        inspection_id=inspection_id,
        lot_id=lot_id,
        work_order_id=work_order_id,
        item_id=item_id,
        since=since,
        until=until,
    )


@router.post(
    "/non-conformances",
    response_model=NcOut,
    status_code=status.HTTP_201_CREATED,
    summary="Report a non-conformance",
    description="Record a non-conformance from an inspection, a lot or a work order; it "
    "starts `open`.",
    responses=MALFORMED | errors(401, 403, 404, 422),
)
async def create_non_conformance(session: SessionDep, principal: Reporter, data: NcCreate) -> NcOut:
    """Report a non-conformance."""
    nc = await nonconformances.create(session=session, principal=principal, data=data)
    return NcOut.model_validate(nc)


@router.get(
    "/non-conformances/{nc_id}",
    response_model=NcOut,
    summary="Get a non-conformance",
    description="One non-conformance by id.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_non_conformance(session: SessionDep, nc_id: NcId) -> NcOut:
    """Get a non-conformance."""
    return NcOut.model_validate(await nonconformances.get(session=session, nc_id=nc_id))


@router.patch(
    "/non-conformances/{nc_id}",
    response_model=NcOut,
    summary="Update a non-conformance",
    description="Change title, description, severity, quantity or disposition while it is "
    "not closed (409 once closed).",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def update_non_conformance(
    session: SessionDep, principal: Reviewer, nc_id: NcId, data: NcUpdate
) -> NcOut:
    """Update a non-conformance."""
    nc = await nonconformances.update(session=session, principal=principal, nc_id=nc_id, data=data)
    return NcOut.model_validate(nc)


@router.post(
    "/non-conformances/{nc_id}/transitions",
    response_model=NcOut,
    summary="Move a non-conformance on",
    description="open -> under_review -> closed; closing needs a disposition (rework, scrap, "
    "use_as_is), given here or before. Other moves are 409 `invalid_transition`. Each "
    "transition is timestamped with its user and audited.",
    responses=MALFORMED | errors(401, 403, 404, 409, 422),
)
async def transition_non_conformance(
    session: SessionDep, principal: Reviewer, nc_id: NcId, data: NcTransition
) -> NcOut:
    """Move a non-conformance on."""
    nc = await nonconformances.transition(
        session=session, principal=principal, nc_id=nc_id, data=data
    )
    return NcOut.model_validate(nc)


# --- SPC -----------------------------------------------------------------------------------


@router.get(
    "/characteristics/{characteristic_id}/spc/xbar-r",
    response_model=XbarROut,
    summary="X-bar/R chart",
    description="X-bar and R charts of a numeric characteristic with sample size 2..10, one "
    "subgroup per inspection (incomplete ones left out), over a time range, work order or "
    "lot. X-bar points carry the Nelson rules (1-8) they violate; R points rule 1. 422 "
    "`spc_unavailable` with too little data or no variation.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_xbar_r_chart(
    session: SessionDep, characteristic_id: CharacteristicId, selection: SelectionDep
) -> XbarROut:
    """X-bar/R chart."""
    return await charts.xbar_r(
        session=session, characteristic_id=characteristic_id, selection=selection
    )


@router.get(
    "/characteristics/{characteristic_id}/spc/individuals",
    response_model=IndividualsOut,
    summary="Individuals chart",
    description="Individuals and moving-range charts of every selected value of a numeric "
    "characteristic, in measurement order (limits X-bar +/- 2.66 MR-bar, MR UCL 3.267 "
    "MR-bar). Individuals points carry Nelson rules 1-8; MR points rule 1.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_individuals_chart(
    session: SessionDep, characteristic_id: CharacteristicId, selection: SelectionDep
) -> IndividualsOut:
    """Individuals chart."""
    return await charts.individuals(
        session=session, characteristic_id=characteristic_id, selection=selection
    )


@router.get(
    "/characteristics/{characteristic_id}/capability",
    response_model=CapabilityOut,
    summary="Process capability",
    description="Cp and Cpk (within sigma: R-bar/d2 of subgroups, or MR-bar/d2) and Pp and "
    "Ppk (overall sigma) of the selected values against the characteristic's spec limits; "
    "with one limit, Cp and Pp are null and Cpk/Ppk are one-sided.",
    dependencies=READ,
    responses=errors(401, 403, 404, 422),
)
async def get_capability(
    session: SessionDep, characteristic_id: CharacteristicId, selection: SelectionDep
) -> CapabilityOut:
    """Process capability."""
    return await charts.capability(
        session=session, characteristic_id=characteristic_id, selection=selection
    )
