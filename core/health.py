"""Liveness, readiness and Prometheus metrics endpoints (no token needed)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from core.db import Database
from db import migrate

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Probe answer."""

    status: str
    checks: dict[str, str] = {}


@router.get("/healthz", response_model=Health, summary="Liveness probe")
async def healthz() -> Health:
    """The process is up and serving."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness probe",
    responses={503: {"model": Health, "description": "a dependency is not ready"}},
)
async def readyz(request: Request) -> Response:
    """Ready when the database answers and its schema is at the repository's newest migration."""
    database: Database = request.app.state.db
    expected: set[str] = request.app.state.migration_heads
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(3), database.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        checks["database"] = "ok"
        current = {r[0] for r in rows}
        checks["migrations"] = (
            "ok"
            if current == expected
            else (f"at {sorted(current)}, expected {sorted(expected)}: run `mes db upgrade`")
        )
    except Exception as err:  # noqa: BLE001 - any failure means not ready; reported in the body
        checks["database"] = f"unreachable: {type(err).__name__}"
    ok = all(v == "ok" for v in checks.values()) and "migrations" in checks
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus text exposition of this process's metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def migration_heads() -> set[str]:
    """Heads of the migration scripts (read once at start)."""
    return migrate.heads()
