"""In-process API clients for domain tests.

Domain tests call the API through httpx with the caller's Principal set directly (the token path
is tested against the real Keycloak in tests/core/auth/). `as_roles("planner")` gives a client
acting as a user with those roles.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request

from core.auth.deps import current_principal
from core.auth.principal import Principal, Role
from core.config import ApiSettings
from core.errors import Unauthorized
from mes_common.settings import load_settings
from tests.support.databases import TestDb


def api_settings(db: TestDb, **overrides: Any) -> ApiSettings:
    """API settings from env.sh, pointed at the test database."""
    return load_settings(ApiSettings, **{**db.overrides, **overrides})


def principal_for(*roles: str, username: str | None = None) -> Principal:
    """A user holding `roles`."""
    name = username or (roles[0] if roles else "nobody")
    return Principal(
        subject=f"test-{name}",
        username=name,
        name=name.title(),
        roles=frozenset(Role(r) for r in roles),
    )


TEST_HEADER = "X-Test-Principal"

AsRoles = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
"""Type of the `as_roles` fixture: `async with as_roles("planner") as client: ...`."""


async def _test_principal(request: Request) -> Principal:
    """Stand-in for token verification in domain tests: the principal the client registered."""
    key = request.headers.get(TEST_HEADER)
    principal: Principal | None = request.app.state.test_principals.get(key)
    if principal is None:
        raise Unauthorized("a bearer token is required")
    return principal


@asynccontextmanager
async def api_client(
    app: FastAPI, principal: Principal | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on `app`; with `principal`, its requests act as that caller."""
    headers = {}
    if principal is not None:
        if not hasattr(app.state, "test_principals"):
            app.state.test_principals = {}
            app.dependency_overrides[current_principal] = _test_principal
        key = secrets.token_hex(8)
        app.state.test_principals[key] = principal
        headers[TEST_HEADER] = key
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://mes.test", headers=headers
    ) as client:
        yield client
