"""/api/v1/reports: production, downtime and scrap Pareto, lead times; JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from core.auth.deps import require
from core.db import SessionDep
from core.equipment import service as equipment
from core.errors import errors
from core.reports import service
from core.reports.export import CSV_RESPONSE, csv_response, to_csv
from core.reports.schemas import (
    Dimension,
    DowntimeBy,
    LeadTimes,
    Pareto,
    ProductionReport,
    ScrapBy,
)

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[require("reports:read")])


class Format(StrEnum):
    """Response format."""

    JSON = "json"
    CSV = "csv"


Start = Annotated[
    datetime,
    Query(description="inclusive, with a time zone", examples=["2026-12-01T00:00:00+09:00"]),
]
End = Annotated[
    datetime,
    Query(description="exclusive, with a time zone", examples=["2026-12-08T00:00:00+09:00"]),
]
LineId = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="production line")]
ItemId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
FormatQ = Annotated[Format, Query(description="json (default) or csv")]
RESPONSES: dict[int | str, dict[str, Any]] = {**errors(401, 403, 404, 422), **CSV_RESPONSE}
PARETO_COLUMNS = ["key", "label", "count", "value", "share_pct", "cumulative_pct"]


@router.get(
    "/production",
    response_model=ProductionReport,
    summary="Production report",
    description="Output in [start, end) grouped by any of day, shift, line and item: planned "
    "quantity (work orders due in the group; not defined per shift), good output of final "
    "operations, scrap at every operation, yield and attainment. Days are local to `timezone`; "
    "shifts come from each line's calendar. `format=csv` downloads the rows.",
    responses=RESPONSES,
)
async def production_report(
    session: SessionDep,
    start: Start,
    end: End,
    group_by: Annotated[
        list[Dimension], Query(description="one or more of day, shift, line, item")
    ] = [Dimension.DAY, Dimension.LINE, Dimension.ITEM],  # noqa: B006 - FastAPI default
    timezone: Annotated[str, Query(max_length=64, examples=["Asia/Seoul"])] = "UTC",
    line_id: LineId = None,
    item_id: ItemId = None,
    format: FormatQ = Format.JSON,
) -> ProductionReport | Response:
    """Production report."""
    report = await service.production(
        session=session,
        start=start,
        end=end,
        timezone=timezone,
        group_by=group_by,
        line_id=line_id,
        item_id=item_id,
    )
    if format == Format.CSV:
        columns = [d.value for d in report.group_by] + [
            "planned",
            "good",
            "scrap",
            "yield_pct",
            "attainment_pct",
        ]
        return csv_response(to_csv(report.rows, columns), "production.csv")
    return report


@router.get(
    "/downtime-pareto",
    response_model=Pareto,
    summary="Downtime Pareto",
    description="Downtime inside [start, end) (open events count until now) ranked by reason, "
    "category, OEE loss category or equipment, with shares and cumulative shares. Planned stops "
    "are left out unless `include_planned`. `equipment_id` narrows to a piece of equipment and "
    "everything below it.",
    responses=RESPONSES,
)
async def downtime_pareto_report(
    session: SessionDep,
    start: Start,
    end: End,
    by: Annotated[DowntimeBy, Query()] = DowntimeBy.REASON,
    equipment_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    include_planned: Annotated[bool, Query()] = False,
    format: FormatQ = Format.JSON,
) -> Pareto | Response:
    """Downtime Pareto."""
    ids = None
    if equipment_id is not None:
        await equipment.get(session, equipment_id)
        ids = await equipment.descendant_ids(session, equipment_id)
    pareto = await service.downtime_pareto(
        session=session,
        start=start,
        end=end,
        by=by,
        equipment_ids=ids,
        include_planned=include_planned,
    )
    if format == Format.CSV:
        return csv_response(to_csv(pareto.rows, PARETO_COLUMNS), "downtime-pareto.csv")
    return pareto


@router.get(
    "/scrap-pareto",
    response_model=Pareto,
    summary="Scrap Pareto",
    description="Scrap reported in [start, end) ranked by scrap reason, item, equipment or "
    "operation, with shares and cumulative shares.",
    responses=RESPONSES,
)
async def scrap_pareto_report(
    session: SessionDep,
    start: Start,
    end: End,
    by: Annotated[ScrapBy, Query()] = ScrapBy.REASON,
    line_id: LineId = None,
    item_id: ItemId = None,
    format: FormatQ = Format.JSON,
) -> Pareto | Response:
    """Scrap Pareto."""
    pareto = await service.scrap_pareto(
        session=session, start=start, end=end, by=by, line_id=line_id, item_id=item_id
    )
    if format == Format.CSV:
        return csv_response(to_csv(pareto.rows, PARETO_COLUMNS), "scrap-pareto.csv")
    return pareto


@router.get(
    "/lead-times",
    response_model=LeadTimes,
    summary="Work-order lead times",
    description="Orders completed in [start, end): lead time (created -> completed), flow time "
    "(started -> completed) and waiting time (created -> started) in hours, per item and "
    "overall (average, median, 90th percentile).",
    responses=RESPONSES,
)
async def lead_time_report(
    session: SessionDep,
    start: Start,
    end: End,
    line_id: LineId = None,
    item_id: ItemId = None,
    format: FormatQ = Format.JSON,
) -> LeadTimes | Response:
    """Work-order lead times."""
    report = await service.lead_times(
        session=session, start=start, end=end, line_id=line_id, item_id=item_id
    )
    if format == Format.CSV:
        columns = [
            "item",
            "orders",
            "lead_avg_h",
            "lead_median_h",
            "lead_p90_h",
            "flow_avg_h",
            "wait_avg_h",
        ]
        rows = [*report.rows, *([report.overall] if report.overall else [])]
        return csv_response(to_csv(rows, columns), "lead-times.csv")
    return report
