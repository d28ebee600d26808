"""The route x role table built from the routes' declared permissions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute, APIWebSocketRoute

from core.auth.deps import declared_permission
from core.auth.permissions import PERMISSIONS, PUBLIC_PATHS
from core.auth.principal import Role
from core.config import ApiSettings


@dataclass(frozen=True)
class RouteAccess:
    """One route, the permission it declares (None = undeclared) and the roles it allows."""

    method: str
    path: str
    operation_id: str
    permission: str | None
    roles: frozenset[Role]
    public: bool


def iter_routes(app: FastAPI) -> Iterator[Any]:
    """Every route with its effective (prefixed) path, on flat and on nested FastAPI routing."""
    iter_contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if iter_contexts is None:  # FastAPI < 0.150 keeps included routes flat
        yield from app.routes
        return
    yield from iter_contexts(app.routes)


def _original(route: Any) -> Any:
    return getattr(route, "original_route", route)


def _dependency_calls(route: Any) -> list[object]:
    calls: list[object] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        calls.append(dep.call)
        stack.extend(dep.dependencies)
    return calls


def route_access(app: FastAPI) -> list[RouteAccess]:
    """Every HTTP and WebSocket route of `app` with its access rule."""
    rows = []
    for route in iter_routes(app):
        if not isinstance(_original(route), APIRoute | APIWebSocketRoute):
            continue
        permission = next(
            (p for c in _dependency_calls(route) if (p := declared_permission(c))), None
        )
        methods = sorted(route.methods) if isinstance(_original(route), APIRoute) else ["WS"]
        for method in methods:
            rows.append(
                RouteAccess(
                    method=method,
                    path=route.path,
                    operation_id=route.name,
                    permission=permission,
                    roles=PERMISSIONS.get(permission, frozenset()) if permission else frozenset(),
                    public=route.path in PUBLIC_PATHS,
                )
            )
    return sorted(rows, key=lambda r: (r.path, r.method))


def render_matrix(*, markdown: bool = False) -> str:
    """The matrix as text (or Markdown) for `mes auth matrix` and docs/RBAC.md."""
    from core.app import create_app

    app = create_app(_matrix_settings(), background=False)
    roles = list(Role)
    header = ["method", "path", "permission", *[r.value for r in roles]]
    lines = []
    for row in route_access(app):
        perm = "public" if row.public else (row.permission or "UNDECLARED")
        marks = ["x" if (row.public or r in row.roles) else "" for r in roles]
        lines.append([row.method, row.path, perm, *marks])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(c) for c in col) for col in zip(header, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*cells) for cells in [header, *lines])


UNUSED_DATABASE = {
    "db_host": "unused",
    "db_port": 1,
    "db_name": "unused",
    "db_user": "unused",
    "db_password": "",
    "db_connect_timeout": 1,
    "db_pool_size": 1,
    "db_random_page_cost": 1,
}
"""Stand-ins for unset database settings: the matrix is built without any connection."""


def _matrix_settings() -> ApiSettings:
    """Settings from the environment; the database settings may be missing."""
    import os

    from mes_common.settings import env_name, load_settings

    missing = {k: v for k, v in UNUSED_DATABASE.items() if env_name(k) not in os.environ}
    return load_settings(ApiSettings, **missing)
