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
