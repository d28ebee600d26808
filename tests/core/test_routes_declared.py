"""Every route declares its access rule and has a stable, unique operation id and a summary."""

from __future__ import annotations

from collections import Counter

from fastapi import FastAPI

from core.auth.matrix import route_access
from core.auth.permissions import PERMISSIONS


def test_every_route_declares_a_permission_or_is_public(app: FastAPI) -> None:
    undeclared = [
        f"{r.method} {r.path}" for r in route_access(app) if not r.public and r.permission is None
    ]
    assert undeclared == []


def test_declared_permissions_exist_and_grant_someone(app: FastAPI) -> None:
    used = {r.permission for r in route_access(app) if r.permission}
    assert used <= set(PERMISSIONS)
    assert all(PERMISSIONS[p] for p in used)


def test_operation_ids_are_unique_and_every_operation_is_described(app: FastAPI) -> None:
    spec = app.openapi()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    ids = Counter(op["operationId"] for op in operations)
    assert [i for i, n in ids.items() if n > 1] == []
    assert [op["operationId"] for op in operations if not op.get("summary")] == []
