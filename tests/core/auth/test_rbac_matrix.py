"""Every route x every role with real tokens follows the RBAC matrix; no token is 401.

Table-driven from `core.auth.matrix.route_access(app)`, so routes added later are covered without
touching this file. Path parameters get a placeholder id: a 404 or 422 means the request got past
authorisation, which is all this checks.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from core.app import create_app
from core.auth.matrix import RouteAccess, route_access
from core.auth.principal import Role
from tests.core.auth.conftest import auth_settings, bearer, http_client
from tests.support.databases import TestDb
from tests.support.keycloak import TestRealm

pytestmark = pytest.mark.keycloak

PLACEHOLDER = "999999"
BODY_METHODS = {"POST", "PUT", "PATCH"}


@pytest.fixture(scope="module")
async def rbac_app(module_db: TestDb, realm: TestRealm) -> AsyncIterator[FastAPI]:
    """One API (and database) for the whole table."""
    app = create_app(auth_settings(module_db, realm), background=False)
    yield app
    await app.state.db.dispose()


@pytest.fixture
async def rbac_client(rbac_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Client on the table's API."""
    async with http_client(rbac_app) as c:
        yield c


def protected_http_routes(app: FastAPI) -> list[RouteAccess]:
    """Every HTTP route that needs a token."""
    return [r for r in route_access(app) if r.method != "WS" and not r.public]


def concrete(path: str) -> str:
    """The path with every parameter replaced by a placeholder id."""
    return re.sub(r"\{[^}]+\}", PLACEHOLDER, path)


async def call(client: httpx.AsyncClient, row: RouteAccess, token: str | None) -> httpx.Response:
    """Request `row` as the bearer of `token` (an empty JSON object as body where one is taken)."""
    headers = bearer(token) if token else {}
    body: dict[str, object] | None = {} if row.method in BODY_METHODS else None
    return await client.request(row.method, concrete(row.path), json=body, headers=headers)


def test_the_table_covers_the_api(rbac_app: FastAPI) -> None:
    rows = protected_http_routes(rbac_app)
    assert {("GET", "/api/v1/auth/me"), ("GET", "/api/v1/audit")} <= {
        (r.method, r.path) for r in rows
    }
    assert all(r.permission for r in rows)


@pytest.mark.parametrize("role", list(Role))
async def test_every_route_allows_exactly_the_roles_of_the_matrix(
    rbac_app: FastAPI, rbac_client: httpx.AsyncClient, realm: TestRealm, role: Role
) -> None:
    wrong = []
    for row in protected_http_routes(rbac_app):
        r = await call(rbac_client, row, realm.token_for(role))
        allowed = role in row.roles
        if allowed and r.status_code in (401, 403):
            wrong.append(f"{row.method} {row.path}: {r.status_code}, matrix allows {role}")
        if not allowed and r.status_code != 403:
            wrong.append(f"{row.method} {row.path}: {r.status_code}, matrix forbids {role}")
        if not allowed:
            assert row.permission and row.permission in r.json()["error"]["message"]
    assert wrong == []


async def test_the_gateway_service_account_has_the_operator_column(
    rbac_app: FastAPI, rbac_client: httpx.AsyncClient, realm: TestRealm
) -> None:
    wrong = []
    for row in protected_http_routes(rbac_app):
        r = await call(rbac_client, row, realm.gateway_token())
        if (Role.OPERATOR in row.roles) == (r.status_code in (401, 403)):
            wrong.append(f"{row.method} {row.path}: {r.status_code}")
    assert wrong == []


async def test_every_route_without_a_token_is_401(
    rbac_app: FastAPI, rbac_client: httpx.AsyncClient
) -> None:
    wrong = []
    for row in protected_http_routes(rbac_app):
        r = await call(rbac_client, row, None)
        if r.status_code != 401 or r.headers.get("www-authenticate") != "Bearer":
            wrong.append(f"{row.method} {row.path}: {r.status_code}")
    assert wrong == []


async def test_public_routes_need_no_token(
    rbac_app: FastAPI, rbac_client: httpx.AsyncClient
) -> None:
    public = [r for r in route_access(rbac_app) if r.public]
    assert {r.path for r in public} >= {"/healthz", "/readyz", "/metrics"}
    for row in public:
        r = await call(rbac_client, row, None)
        assert r.status_code not in (401, 403), row.path
