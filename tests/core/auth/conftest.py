"""Fixtures for auth tests: a real Keycloak, provisioned realms, apps that verify real tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from core.app import create_app
from core.config import ApiSettings
from tests.support import databases
from tests.support.api import api_settings
from tests.support.databases import TestDb
from tests.support.keycloak import KeycloakServer, TestRealm
from tests.support.net import LOOPBACK, free_port
from tests.support.postgres import PgCluster


@pytest.fixture(scope="session")
def other_realm(keycloak: KeycloakServer, realm: TestRealm) -> Iterator[TestRealm]:
    """A second realm with the same clients and users (other issuer, other keys)."""
    test_realm = TestRealm(keycloak, realm.name + "-other")
    test_realm.provision()
    yield test_realm
    if not keycloak.private:
        test_realm.delete()


def auth_settings(db: TestDb, realm: TestRealm, **overrides: Any) -> ApiSettings:
    """API settings on `db` that trust `realm` of the test Keycloak."""
    base = {"keycloak_url": realm.server.url, "keycloak_realm": realm.name}
    return api_settings(db, **{**base, **overrides})


@pytest.fixture
async def kc_app(db: TestDb, realm: TestRealm) -> AsyncIterator[FastAPI]:
    """The API verifying real tokens of the test realm."""
    application = create_app(auth_settings(db, realm), background=False)
    yield application
    await application.state.db.dispose()


@asynccontextmanager
async def http_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling `app` in process (no credentials of its own)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://mes.test") as client:
        yield client


@pytest.fixture
async def client(kc_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Client on `kc_app`; pass `headers=bearer(token)`."""
    async with http_client(kc_app) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    """Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def module_db(pg: PgCluster, template_db: str) -> Iterator[TestDb]:
    """A migrated database shared by one test module."""
    test_db = databases.create_database(pg, template=template_db)
    yield test_db
    databases.drop_database(test_db)


@asynccontextmanager
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free port; yields the base `ws://` URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=LOOPBACK, port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start in 30 s")
        await asyncio.sleep(0.05)
    try:
        yield f"ws://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        await task
