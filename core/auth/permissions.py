"""The RBAC matrix: every feature (permission) and the roles that may use it, in one place.

Routes declare `require("<permission>")`; UI menus and buttons use the same permission names
(`GET /api/v1/auth/me` returns the caller's). `mes auth matrix` prints route x role from this.
A permission used by a route but missing here fails at import; a route with no declaration fails
a test.
"""

from __future__ import annotations

from core.auth.principal import Role

ALL = frozenset(Role)
R = Role

PERMISSIONS: dict[str, frozenset[Role]] = {
    # any signed-in user: own identity and permissions
    "session:read": ALL,
    # dashboard and live views
    "dashboard:view": ALL,
    # audit trail
    "audit:read": frozenset({R.SUPERVISOR, R.ADMIN, R.QUALITY}),
    # telemetry (signals, readings)
    "telemetry:read": ALL,
    # master data: items
    "items:read": ALL,
    "items:write": frozenset({R.PLANNER, R.ENGINEER, R.ADMIN}),
    # master data: BOMs, routings, equipment, shift calendars, downtime reasons
    "bom:read": ALL,
    "bom:write": frozenset({R.PLANNER, R.ENGINEER, R.ADMIN}),
    "processes:read": ALL,
    "processes:write": frozenset({R.ENGINEER, R.ADMIN}),
    "equipment:read": ALL,
    "equipment:write": frozenset({R.ENGINEER, R.ADMIN}),
    "calendar:read": ALL,
    "calendar:write": frozenset({R.PLANNER, R.SUPERVISOR, R.ADMIN}),
    "downtime:read": ALL,
    "downtime:record": frozenset({R.OPERATOR, R.SUPERVISOR, R.ENGINEER, R.ADMIN}),
    "downtime:configure": frozenset({R.SUPERVISOR, R.ENGINEER, R.ADMIN}),
    # production: plans and work orders
    "plans:read": ALL,
    "plans:write": frozenset({R.PLANNER, R.SUPERVISOR, R.ADMIN}),
    "work_orders:read": ALL,
    "work_orders:write": frozenset({R.PLANNER, R.SUPERVISOR, R.ADMIN}),
    "work_orders:execute": frozenset({R.OPERATOR, R.SUPERVISOR, R.ADMIN}),
    # production reports
    "reports:read": frozenset({R.PLANNER, R.SUPERVISOR, R.QUALITY, R.ENGINEER, R.ADMIN}),
    # inventory: stock, lots, movements, genealogy
    "inventory:read": ALL,
    "inventory:move": frozenset({R.OPERATOR, R.PLANNER, R.SUPERVISOR, R.ADMIN}),
    "inventory:adjust": frozenset({R.SUPERVISOR, R.ADMIN}),
    "inventory:lots": frozenset({R.QUALITY, R.SUPERVISOR, R.ADMIN}),
    "inventory:configure": frozenset({R.PLANNER, R.ENGINEER, R.SUPERVISOR, R.ADMIN}),
    # quality: inspection plans, inspections, non-conformances, SPC
    "quality:read": ALL,
    "quality:plan": frozenset({R.QUALITY, R.ENGINEER, R.ADMIN}),
    "quality:inspect": frozenset({R.OPERATOR, R.QUALITY, R.SUPERVISOR, R.ADMIN}),
    "quality:report_nc": frozenset({R.OPERATOR, R.QUALITY, R.SUPERVISOR, R.ENGINEER, R.ADMIN}),
    "quality:review_nc": frozenset({R.QUALITY, R.SUPERVISOR, R.ADMIN}),
    # live MES: machine states (and how they are derived), OEE
    "equipment_states:read": ALL,
    "equipment_states:configure": frozenset({R.ENGINEER, R.SUPERVISOR, R.ADMIN}),
    "oee:read": ALL,
}

# Paths reachable without a token (probes, metrics, the API description).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc"})


def roles_for(permission: str) -> frozenset[Role]:
    """Roles allowed to use `permission`; KeyError if it is not declared above."""
    try:
        return PERMISSIONS[permission]
    except KeyError:
        raise KeyError(
            f"permission {permission!r} is not declared in core/auth/permissions.py"
        ) from None
