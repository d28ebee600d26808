"""Session services (real PostgreSQL, real Mosquitto, real Keycloak on demand) and per-test
isolated databases."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from fastapi import FastAPI

from tests.support.envfile import load_env_sh

load_env_sh()

from core.app import create_app  # noqa: E402 - after env.sh is loaded
from tests.support import databases  # noqa: E402
from tests.support.api import AsRoles, api_client, api_settings, principal_for  # noqa: E402
from tests.support.databases import TestDb  # noqa: E402
from tests.support.keycloak import KeycloakServer, TestRealm, keycloak_server  # noqa: E402
from tests.support.mosquitto import Broker, private_broker  # noqa: E402
from tests.support.postgres import PgCluster, private_cluster  # noqa: E402


@pytest.fixture(scope="session")
def pg() -> Iterator[PgCluster]:
    """The session's private PostgreSQL cluster."""
    with private_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def template_db(pg: PgCluster) -> str:
    """A database migrated to the newest revision, cloned by `db`."""
    return databases.migrated_template(pg)


@pytest.fixture
def db(pg: PgCluster, template_db: str) -> Iterator[TestDb]:
    """A migrated database of this test's own."""
    test_db = databases.create_database(pg, template=template_db)
    yield test_db
    databases.drop_database(test_db)


@pytest.fixture
def empty_db(pg: PgCluster) -> Iterator[TestDb]:
    """An empty database of this test's own."""
    test_db = databases.create_database(pg)
    yield test_db
    databases.drop_database(test_db)


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """The session's private Mosquitto broker."""
    with private_broker() as b:
        yield b


@pytest.fixture
async def app(db: TestDb) -> AsyncIterator[FastAPI]:
    """The API on this test's database (no background jobs)."""
    application = create_app(api_settings(db), background=False)
    yield application
    await application.state.db.dispose()


@pytest.fixture
def as_roles(app: FastAPI) -> AsRoles:
    """`async with as_roles("planner") as client:` -> a client acting as a planner."""

    def factory(
        *roles: str, username: str | None = None
    ) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return api_client(app, principal_for(*roles, username=username))

    return factory


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials."""
    async with api_client(app) as client:
        yield client


@pytest.fixture(scope="session")
def keycloak(pg: PgCluster) -> Iterator[KeycloakServer]:
    """The session's Keycloak (started once, or reused when MES_TEST_KEYCLOAK_URL is set)."""
    with keycloak_server(pg) as server:
        yield server


def _realm_name(server: KeycloakServer) -> str:
    """The configured realm name on a private server; a unique one on a shared server."""
    if server.private:
        return os.environ["MES_KEYCLOAK_REALM"]
    return f"mes-test-{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def realm(keycloak: KeycloakServer) -> Iterator[TestRealm]:
    """The API's realm, provisioned from the realm as code plus the test-only clients."""
    test_realm = TestRealm(keycloak, _realm_name(keycloak))
    test_realm.provision()
    yield test_realm
    if not keycloak.private:
        test_realm.delete()
