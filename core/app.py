"""FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from core import health
from core.api import api_router
from core.auth.tokens import JwksVerifier
from core.bom.cache import for_app, refresh_loop
from core.config import ApiSettings
from core.db import Database
from core.errors import install_error_handlers
from core.live.router import router as live_router
from core.live.runtime import live_runtime
from core.metrics import MetricsMiddleware
from mes_common.settings import load_settings

log = logging.getLogger(__name__)

DESCRIPTION = """
KNU MES: master data, planning, work orders, quality, inventory and reports, linked live to the
machines. Every `/api/v1` operation needs a bearer token from the `mes` Keycloak realm; the roles
each operation allows are listed by `mes auth matrix`. Errors share one body:
`{"error": {"code", "message", "details": [{"field", "reason"}]}}`.
"""


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: the handler's function name (unique across the API, tested)."""
    return route.name


HourHook = Callable[[list[datetime]], Awaitable[None]]
"""Called after a maintenance pass with the UTC hours whose readings changed (late data too)."""


async def maintenance_pass(settings: ApiSettings, hooks: list[HourHook]) -> None:
    """One telemetry upkeep pass, then the hooks for the hours it refreshed.

    When a hook fails, its hours are marked dirty again so the next pass retries them.
    """
    from db.maintenance import mark_dirty, run_maintenance

    report = await asyncio.to_thread(
        run_maintenance,
        settings.conninfo(),
        days_ahead=settings.telemetry_partition_days_ahead,
        retention_days=settings.telemetry_retention_days,
    )
    if not report.hours_refreshed:
        return
    for hook in hooks:
        try:
            await hook(report.hours_refreshed)
        except Exception:
            log.exception("telemetry hour hook failed; its hours will be retried")
            await asyncio.to_thread(mark_dirty, settings.conninfo(), report.hours_refreshed)


async def _maintenance_loop(app: FastAPI, settings: ApiSettings) -> None:
    """Telemetry partitions/rollups upkeep; one replica works at a time (advisory lock)."""
    while True:
        try:
            await maintenance_pass(settings, app.state.hour_hooks)
        except Exception:
            log.exception("telemetry maintenance failed")
        await asyncio.sleep(settings.telemetry_maintenance_interval)


def settle_heap() -> None:
    """Collect once, then leave every object alive after startup (modules, routes, schemas,
    settings: ~270,000 objects) out of the cyclic garbage collector's scans. A full collection
    otherwise walks all of them (~200 ms here, a pause in whichever request triggered it); after
    this it walks only what requests create (~3 ms). Objects freed by reference counting are
    still freed; only cycles among the startup objects would stay."""
    gc.collect()
    gc.freeze()


def create_app(settings: ApiSettings | None = None, *, background: bool = True) -> FastAPI:
    """Build the API. `background=False` skips periodic jobs (tests drive them directly) and
    leaves the collector as it is; a serving process settles its heap once started."""
    settings = settings or load_settings(ApiSettings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_maintenance_loop(app, settings))] if background else []
        cache = for_app(app)
        if background and cache.enabled and settings.bom_cache_refresh_s > 0:
            refresh = refresh_loop(cache, app.state.db.sessions, settings.bom_cache_refresh_s)
            tasks.append(asyncio.create_task(refresh))
        try:
            async with live_runtime(app, settings, background=background):
                if background:
                    settle_heap()
                yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.db.dispose()

    app = FastAPI(
        title="KNU MES API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.hour_hooks = []  # list[HourHook]: consumers of changed telemetry hours
    # index lookups cost what the planner should assume of cached pages, not of spinning disks:
    # with PostgreSQL's default (4), a search of a few hundred stock rows hash-joins all 50,000
    # items instead of looking up the few hundred it needs
    app.state.db = Database(
        settings,
        pool_size=settings.db_pool_size,
        random_page_cost=settings.db_random_page_cost,
    )
    app.state.migration_heads = health.migration_heads()
    app.state.token_verifier = JwksVerifier.from_settings(settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["Authorization", "Content-Type"],
    )
    app.add_middleware(MetricsMiddleware)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(live_router)
    return app
