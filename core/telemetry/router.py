"""/api/v1/signals and /api/v1/series: signals, latest values, chart series and statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime
from sqlalchemy import select

from core.auth.deps import require
from core.common.listing import ListParamsDep, ListSpec, paginate
from core.common.schemas import Page
from core.db import SessionDep
from core.errors import NotFound, ValidationFailed, errors
from core.telemetry import query
from core.telemetry.lttb import lttb
from core.telemetry.schemas import (
    BucketOut,
    LatestOut,
    PointOut,
    SeriesOut,
    SeriesResponse,
    SignalOut,
    StatsOut,
)
from core.telemetry.tables import signal

router = APIRouter(tags=["telemetry"], dependencies=[require("telemetry:read")])

MAX_SIGNALS = 50
MAX_SPAN = timedelta(days=400)
MAX_RAW_FETCH = 200_000
SPEC = ListSpec(
    search=[signal.c.key, signal.c.name, signal.c.equipment_code],
    sort={
        "id": signal.c.id,
        "key": signal.c.key,
        "equipment_code": signal.c.equipment_code,
        "name": signal.c.name,
        "created_at": signal.c.created_at,
    },
    default_sort="key",
)
SignalIds = Annotated[
    list[int],
    Query(
        alias="signal_id",
        min_length=1,
        max_length=MAX_SIGNALS,
        description="signal id; repeat for several signals",
    ),
]
Start = Annotated[AwareDatetime, Query(description="inclusive start (RFC 3339 with offset)")]
End = Annotated[AwareDatetime, Query(description="exclusive end (RFC 3339 with offset)")]


def _check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValidationFailed("query.end", "must be after start")
    if end - start > MAX_SPAN:
        raise ValidationFailed("query.end", f"range longer than {MAX_SPAN.days} days")


async def _signals(session: SessionDep, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    rows = (
        await session.execute(
            select(signal.c.id, signal.c.key, signal.c.unit).where(signal.c.id.in_(ids))
        )
    ).all()
    found = {r[0]: (r[1], r[2]) for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"signal(s) {', '.join(map(str, missing))} not found")
    return found


@router.get(
    "/signals",
    response_model=Page[SignalOut],
    summary="List signals",
    description="Signals (tags) registered by the gateways; `q` searches key, name and equipment "
    "code.",
    responses=errors(401, 403, 422),
)
async def list_signals(
    session: SessionDep,
    params: ListParamsDep,
    equipment_code: Annotated[str | None, Query(max_length=64, examples=["CNC-101"])] = None,
    protocol: Annotated[Literal["opcua", "modbus", "mqtt"] | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
) -> Page[SignalOut]:
    """List signals."""
    return await paginate(
        session,
        select(signal),
        SPEC,
        params,
        schema=SignalOut,
        filters={
            signal.c.equipment_code: equipment_code,
            signal.c.protocol: protocol,
            signal.c.active: active,
        },
    )


@router.get(
    "/signals/latest",
    response_model=list[LatestOut],
    summary="Latest values",
    description="The newest reading of each signal (by id, or all signals of an equipment), if "
    "newer than `max_age_s`.",
    responses=errors(401, 403, 404, 422),
)
async def latest_values(
    session: SessionDep,
    signal_id: Annotated[list[int] | None, Query(max_length=500)] = None,
    equipment_code: Annotated[str | None, Query(max_length=64)] = None,
    max_age_s: Annotated[int, Query(ge=1, le=31 * 86400)] = 86400,
) -> list[LatestOut]:
    """Latest value per signal."""
    if not signal_id and not equipment_code:
        raise ValidationFailed("query.signal_id", "give signal_id or equipment_code")
    stmt = select(signal.c.id, signal.c.key)
    if signal_id:
        stmt = stmt.where(signal.c.id.in_(signal_id))
    if equipment_code:
        stmt = stmt.where(signal.c.equipment_code == equipment_code)
    keys = {r[0]: r[1] for r in (await session.execute(stmt)).all()}
    if not keys:
        raise NotFound("no such signals")
    since = datetime.now(UTC) - timedelta(seconds=max_age_s)
    points = await query.latest(session, sorted(keys), since=since)
    return [
        LatestOut(
            signal_id=p.signal_id, key=keys[p.signal_id], ts=p.ts, value=p.value, quality=p.quality
        )
        for p in points
    ]


@router.get(
    "/signals/stats",
    response_model=list[StatsOut],
    summary="Signal statistics",
    description="Count, min, max, mean and standard deviation per signal over a time range "
    "(uses rollups for long ranges; fresh data always included).",
    responses=errors(401, 403, 404, 422),
)
async def signal_stats(
    session: SessionDep, signal_ids: SignalIds, start: Start, end: End
) -> list[StatsOut]:
    """Statistics per signal."""
    _check_range(start, end)
    meta = await _signals(session, signal_ids)
    rows = await query.stats(session, signal_ids, start, end)
    return [
        StatsOut(
            signal_id=s.signal_id,
            key=meta[s.signal_id][0],
            unit=meta[s.signal_id][1],
            n=s.n,
            min=s.vmin,
            max=s.vmax,
            mean=s.mean,
            std=s.std,
        )
        for s in rows
    ]


@router.get(
    "/signals/{signal_id}",
    response_model=SignalOut,
    summary="Get a signal",
    description="One signal by id.",
    responses=errors(401, 403, 404, 422),
)
async def get_signal(
    session: SessionDep, signal_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> SignalOut:
    """Get a signal."""
    row = (await session.execute(select(signal).where(signal.c.id == signal_id))).first()
    if row is None:
        raise NotFound(f"signal {signal_id} not found")
    return SignalOut.model_validate(dict(row._mapping))


@router.get(
    "/series",
    response_model=SeriesResponse,
    summary="Chart series",
    description="Series for charts. `mode=buckets` (default) returns min/max/avg per bucket, at "
    "most `max_points` per signal, from raw rows or rollups depending on the range; `mode=raw` "
    "returns stored readings (up to `max_points`, `truncated` tells if more exist); "
    "`mode=lttb` picks `max_points` representative raw points (Largest-Triangle-Three-Buckets).",
    responses=errors(401, 403, 404, 422),
)
async def get_series(
    session: SessionDep,
    signal_ids: SignalIds,
    start: Start,
    end: End,
    mode: Annotated[Literal["buckets", "raw", "lttb"], Query()] = "buckets",
    max_points: Annotated[int, Query(ge=3, le=10_000)] = 1000,
    resolution: Annotated[
        Literal["raw", "1m", "1h"] | None,
        Query(description="force the source for buckets mode; chosen by range when absent"),
    ] = None,
) -> SeriesResponse:
    """Chart series."""
    _check_range(start, end)
    meta = await _signals(session, signal_ids)
    out = {i: SeriesOut(signal_id=i, key=meta[i][0], unit=meta[i][1]) for i in signal_ids}
    if mode == "buckets":
        rows, res, width = await query.buckets(
            session, signal_ids, start, end, max_points=max_points, resolution=resolution
        )
        for b in rows:
            out[b.signal_id].buckets.append(
                BucketOut(ts=b.ts, n=b.n, min=b.vmin, max=b.vmax, avg=b.vavg)
            )
        return SeriesResponse(
            mode=mode,
            resolution=res,
            bucket_seconds=int(width.total_seconds()),
            series=list(out.values()),
        )
    for sid in signal_ids:
        limit = max_points if mode == "raw" else MAX_RAW_FETCH
        points, truncated = await query.raw_points(session, [sid], start, end, limit=limit)
        if mode == "lttb":
            quality = {p.ts.timestamp(): p.quality for p in points}
            numeric = [(p.ts.timestamp(), p.value) for p in points if p.value is not None]
            chosen = lttb(numeric, max_points)
            out[sid].points = [
                PointOut(ts=datetime.fromtimestamp(x, UTC), value=y, quality=quality[x])
                for x, y in chosen
            ]
        else:
            out[sid].points = [PointOut(ts=p.ts, value=p.value, quality=p.quality) for p in points]
        out[sid].truncated = truncated
    return SeriesResponse(
        mode=mode, resolution="raw", bucket_seconds=None, series=list(out.values())
    )
