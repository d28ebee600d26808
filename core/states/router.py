"""/api/v1/equipment-states: live status, state timelines, how states are derived, reason
rules for automatic downtime, and recomputation."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import AwareDatetime

from core.auth.deps import require
from core.auth.principal import Principal
from core.common.listing import ListParamsDep
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import errors
from core.states import service
from core.states.schemas import (
    DowntimeRuleCreate,
    DowntimeRuleOut,
    EquipmentStatusOut,
    RecomputeOut,
    StateConfigIn,
    StateConfigOut,
    StopClassName,
    TimelineOut,
)

router = APIRouter(prefix="/equipment-states", tags=["equipment-states"])

READ = [require("equipment_states:read")]
Configurer = Annotated[Principal, require("equipment_states:configure")]
RuleWriter = Annotated[Principal, require("downtime:configure")]
EquipmentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="machine id")]
Start = Annotated[AwareDatetime, Query(description="inclusive start (RFC 3339 with offset)")]
End = Annotated[AwareDatetime, Query(description="exclusive end (RFC 3339 with offset)")]
StateFilter = Literal["idle", "setup", "running", "blocked", "starved", "down", "maintenance"]


@router.get(
    "",
    response_model=Page[EquipmentStatusOut],
    dependencies=READ,
    summary="List machine states",
    description="The current state of every machine the engine derives states for; `q` "
    "searches code and name.",
    responses=errors(401, 403, 422),
)
async def list_equipment_states(
    session: SessionDep,
    params: ListParamsDep,
    state: Annotated[StateFilter | None, Query()] = None,
    line_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Page[EquipmentStatusOut]:
    """List machine states."""
    return await service.list_status(session=session, params=params, state=state, line_id=line_id)


@router.get(
    "/downtime-rules",
    response_model=Page[DowntimeRuleOut],
    dependencies=[require("downtime:read")],
    summary="List downtime reason rules",
    description="Rules that give automatic downtime a reason by stop class and alarm code; "
    "`q` searches the stop class.",
    responses=errors(401, 403, 422),
)
async def list_downtime_rules(
    session: SessionDep,
    params: ListParamsDep,
    equipment_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    stop_class: Annotated[StopClassName | None, Query()] = None,
) -> Page[DowntimeRuleOut]:
    """List downtime reason rules."""
    return await service.list_rules(
        session=session, params=params, equipment_id=equipment_id, stop_class=stop_class
    )


@router.post(
    "/downtime-rules",
    response_model=DowntimeRuleOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a downtime reason rule",
    description="Automatic downtime of the stop class (and alarm code) gets the reason, unless "
    "an operator chose another; one rule per machine (or plant-wide), class and alarm code.",
    responses=errors(401, 403, 404, 409, 422),
)
async def create_downtime_rule(
    session: SessionDep, principal: RuleWriter, data: DowntimeRuleCreate
) -> DowntimeRuleOut:
    """Add a downtime reason rule."""
    rule = await service.create_rule(session=session, principal=principal, data=data)
    return DowntimeRuleOut.model_validate(rule)


@router.delete(
    "/downtime-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a downtime reason rule",
    description="Reasons the rule already gave stay on their events.",
    responses=errors(401, 403, 404, 422),
)
async def delete_downtime_rule(
    session: SessionDep,
    principal: RuleWriter,
    rule_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    """Delete a downtime reason rule."""
    await service.delete_rule(session=session, principal=principal, rule_id=rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{equipment_id}",
    response_model=EquipmentStatusOut,
    dependencies=READ,
    summary="Get a machine's state",
    description="The current state of one machine, since when, its open downtime event and "
    "the work order running on it.",
    responses=errors(401, 403, 404, 422),
)
async def get_equipment_state(session: SessionDep, equipment_id: EquipmentId) -> EquipmentStatusOut:
    """Get a machine's state."""
    return await service.get_status(session, equipment_id)


@router.get(
    "/{equipment_id}/timeline",
    response_model=TimelineOut,
    dependencies=READ,
    summary="State timeline",
    description="The machine's states over a range (at most 31 days) with seconds per state "
    "and the time without data.",
    responses=errors(401, 403, 404, 422),
)
async def equipment_state_timeline(
    session: SessionDep, equipment_id: EquipmentId, start: Start, end: End
) -> TimelineOut:
    """State timeline."""
    return await service.timeline(session, equipment_id, start, end)


@router.get(
    "/{equipment_id}/config",
    response_model=StateConfigOut,
    dependencies=READ,
    summary="Get a machine's state configuration",
    description="How the machine's state, counters and alarm are read, and its thresholds "
    "(the defaults when nothing is configured).",
    responses=errors(401, 403, 404, 422),
)
async def get_state_config(session: SessionDep, equipment_id: EquipmentId) -> StateConfigOut:
    """Get a machine's state configuration."""
    return await service.get_config(session, equipment_id)


@router.put(
    "/{equipment_id}/config",
    response_model=StateConfigOut,
    summary="Set a machine's state configuration",
    description="Derive the state from a state signal or from rules over other signals "
    "(speed, current), name the counter and alarm signals, set the minor-stop and startup "
    "thresholds. The last days are recomputed with it (MES_LIVE_RECOMPUTE_HOURS).",
    responses=errors(401, 403, 404, 422),
)
async def put_state_config(
    session: SessionDep, principal: Configurer, equipment_id: EquipmentId, data: StateConfigIn
) -> StateConfigOut:
    """Set a machine's state configuration."""
    return await service.put_config(
        session=session, principal=principal, equipment_id=equipment_id, data=data
    )


@router.delete(
    "/{equipment_id}/config",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Reset a machine's state configuration",
    description="Back to the defaults (the machine's `state`, `good_count`, `scrap_count` and "
    "`alarm_code` signals and the plant thresholds).",
    responses=errors(401, 403, 404, 422),
)
async def delete_state_config(
    session: SessionDep, principal: Configurer, equipment_id: EquipmentId
) -> Response:
    """Reset a machine's state configuration."""
    await service.delete_config(session=session, principal=principal, equipment_id=equipment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{equipment_id}/recompute",
    response_model=RecomputeOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Recompute a machine's derived data",
    description="Queue the hours of a range (at most 31 days) for the engine to derive again "
    "from the stored readings: states, counted parts, automatic downtime and OEE.",
    responses=errors(401, 403, 404, 422),
)
async def recompute_equipment_states(
    session: SessionDep, _: Configurer, equipment_id: EquipmentId, start: Start, end: End
) -> RecomputeOut:
    """Recompute a machine's derived data."""
    hours = await service.request_recompute(
        session=session, equipment_id=equipment_id, start=start, end=end
    )
    return RecomputeOut(hours=hours)
