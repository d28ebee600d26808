"""The versioned REST API: one line per domain router."""

from __future__ import annotations

from fastapi import APIRouter

from core.audit.router import router as audit_router
from core.auth.router import router as auth_router
from core.bom.router import router as bom_router
from core.calendar.router import router as calendar_router
from core.counters.router import router as production_router
from core.downtime.router import router as downtime_router
from core.equipment.router import router as equipment_router
from core.inventory.router import router as inventory_router
from core.items.router import router as items_router
from core.oee.router import router as oee_router
from core.plans.router import router as plans_router
from core.processes.router import router as routings_router
from core.quality.router import router as quality_router
from core.reports.router import router as reports_router
from core.states.router import router as equipment_states_router
from core.telemetry.router import router as telemetry_router
from core.work_orders.router import router as work_orders_router

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(auth_router)
api_router.include_router(audit_router)
api_router.include_router(items_router)
api_router.include_router(telemetry_router)
api_router.include_router(bom_router)
api_router.include_router(equipment_router)
api_router.include_router(routings_router)
api_router.include_router(work_orders_router)
api_router.include_router(plans_router)
api_router.include_router(calendar_router)
api_router.include_router(downtime_router)
api_router.include_router(reports_router)
api_router.include_router(inventory_router)
api_router.include_router(quality_router)
api_router.include_router(equipment_states_router)
api_router.include_router(production_router)
api_router.include_router(oee_router)
