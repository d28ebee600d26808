"""A real Keycloak for the tests: private server on free ports, provisioned realms, tokens.

`private_keycloak(pg)` runs the server from the cached distribution (fetched once, as `./init.sh`
does) with its database in the test PostgreSQL cluster; with MES_TEST_KEYCLOAK_URL set, a running
Keycloak is reused instead (admin MES_KEYCLOAK_ADMIN_USER / MES_KEYCLOAK_ADMIN_PASSWORD) and the
test realms get unique names. `TestRealm` provisions the realm as code plus a few test-only
clients and hands out access tokens by the password grant (demo users) and client credentials
(the gateway).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import psycopg
from keycloak import KeycloakAdmin, KeycloakOpenID

from core.auth import realm as realm_spec
from core.auth.keycloak_server import ServerSpec, ensure_distribution, is_ready, prepare_instance
from core.auth.principal import Role
from core.auth.provision import admin_client, provision
from core.auth.settings import KeycloakAdminSettings, KeycloakServerSettings, RealmSettings
from mes_common.settings import load_settings
from tests.support.net import LOOPBACK, free_port, wait_until
from tests.support.postgres import PgCluster

SHORT_LIFESPAN = 8
"""Access token lifetime (seconds) of the `-short` test client: expiry tests wait this long."""

FUTURE_NBF = 4_102_444_800
"""`nbf` (2100-01-01) the `-future` test client stamps on its tokens."""


@dataclass
class KeycloakServer:
    """A Keycloak reachable at `url` (also the token issuer base) with admin credentials."""

    url: str
    admin_user: str
    admin_password: str
    private: bool
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    workdir: Path | None = None

    @property
    def admin_settings(self) -> KeycloakAdminSettings:
        """Admin settings for this server (realm filled in by the caller)."""
        return load_settings(
            KeycloakAdminSettings,
            keycloak_url=self.url,
            keycloak_realm="master",
            keycloak_admin_user=self.admin_user,
            keycloak_admin_password=self.admin_password,
        )

    def admin(self, realm: str) -> KeycloakAdmin:
        """An admin API client working on `realm`."""
        return admin_client(self.admin_settings, realm=realm)

    def stop(self) -> None:
        """Stop the private server (its process group) and remove its files."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=30)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _keycloak_database(pg: PgCluster) -> tuple[str, str, str]:
    """A role and database for Keycloak in the test cluster: (database, user, password)."""
    name = f"keycloak_{secrets.token_hex(4)}"
    password = secrets.token_hex(12)
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        conn.execute(f"CREATE DATABASE {name} OWNER {name}")
    return name, name, password


def start_private(pg: PgCluster) -> KeycloakServer:
    """Start Keycloak from the cached distribution on free ports; wait until it is ready."""
    settings = load_settings(KeycloakServerSettings)
    distribution = ensure_distribution(settings.keycloak_version, settings.keycloak_cache)
    workdir = Path(tempfile.mkdtemp(prefix="mes-kc-"))
    instance = prepare_instance(distribution, workdir / "keycloak")
    port = free_port()
    management_port = free_port()
    while management_port == port:
        management_port = free_port()
    db_name, db_user, db_password = _keycloak_database(pg)
    url = f"http://{LOOPBACK}:{port}"
    spec = ServerSpec(
        instance=instance,
        host=LOOPBACK,
        port=port,
        management_port=management_port,
        public_url=url,
        db_host=pg.host,
        db_port=pg.port,
        db_name=db_name,
        db_user=db_user,
        db_password=db_password,
        admin_user="admin",
        admin_password=secrets.token_hex(12),
        heap_max=settings.keycloak_heap_max,
    )
    log = open(workdir / "keycloak.log", "ab")  # noqa: SIM115 - owned by Popen
    process = subprocess.Popen(
        spec.command(),
        env=spec.environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = KeycloakServer(
        url=url,
        admin_user=spec.admin_user,
        admin_password=spec.admin_password,
        private=True,
        process=process,
        workdir=workdir,
    )

    def ready() -> bool:
        if process.poll() is not None:
            tail = (workdir / "keycloak.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Keycloak exited with {process.returncode}:\n{tail}")
        return is_ready(spec.ready_url)

    try:
        wait_until(ready, timeout=settings.keycloak_start_timeout, what="Keycloak readiness")
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def keycloak_server(pg: PgCluster) -> Iterator[KeycloakServer]:
    """The configured running Keycloak (MES_TEST_KEYCLOAK_URL), else a private one."""
    reuse = os.environ.get("MES_TEST_KEYCLOAK_URL", "")
    if reuse:
        yield KeycloakServer(
            url=reuse.rstrip("/"),
            admin_user=os.environ["MES_KEYCLOAK_ADMIN_USER"],
            admin_password=os.environ["MES_KEYCLOAK_ADMIN_PASSWORD"],
            private=False,
        )
        return
    server = start_private(pg)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class IssuedToken:
    """An access token and its decoded (unverified) claims."""

    token: str
    claims: dict[str, Any]

    @property
    def expires_at(self) -> float:
        """`exp` of the token."""
        return float(self.claims["exp"])


class TestRealm:
    """A provisioned realm (realm as code + test-only clients) and its tokens."""

    __test__ = False

    def __init__(self, server: KeycloakServer, name: str) -> None:
        self.server = server
        self.name = name
        self.settings = load_settings(
            RealmSettings,
            keycloak_url=server.url,
            keycloak_realm=name,
            keycloak_admin_user=server.admin_user,
            keycloak_admin_password=server.admin_password,
            keycloak_gateway_secret=secrets.token_hex(16),
            keycloak_test_secret=secrets.token_hex(16),
            **{f"demo_password_{r.value}": secrets.token_hex(12) for r in Role},
        )
        self._cache: dict[tuple[str, str], IssuedToken] = {}

    @property
    def issuer(self) -> str:
        """The `iss` of this realm's tokens."""
        return f"{self.server.url}/realms/{self.name}"

    @property
    def test_client(self) -> str:
        """Client id of the password-grant test client."""
        return self.settings.keycloak_test_client

    def provision(self) -> None:
        """Realm as code with the test client, then the extra test-only clients."""
        provision(self.settings, include_test_client=True)
        admin = self.admin()
        secret = self.settings.keycloak_test_secret.get_secret_value()
        base = realm_spec.testing_client(self.settings)
        scope = admin.get_client_scope_by_name(realm_spec.AUDIENCE_SCOPE)
        assert scope is not None
        extras: dict[str, dict[str, Any]] = {
            "-noaud": {},
            "-short": {"attributes": {"access.token.lifespan": str(SHORT_LIFESPAN)}},
            "-future": {
                "protocolMappers": [
                    {
                        "name": "future nbf",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-hardcoded-claim-mapper",
                        "config": {
                            "claim.name": "nbf",
                            "claim.value": str(FUTURE_NBF),
                            "jsonType.label": "long",
                            "access.token.claim": "true",
                            "id.token.claim": "false",
                        },
                    }
                ]
            },
        }
        for suffix, extra in extras.items():
            client_id = self.test_client + suffix
            if admin.get_client_id(client_id) is not None:
                continue
            representation = {**base, **extra, "clientId": client_id, "secret": secret}
            representation["attributes"] = {
                **base["attributes"],
                **extra.get("attributes", {}),
            }
            uuid = admin.create_client(representation)
            if suffix != "-noaud":
                admin.add_client_default_client_scope(uuid, scope["id"], {})

    def admin(self) -> KeycloakAdmin:
        """Admin API client on this realm."""
        return self.server.admin(self.name)

    def openid(self, client_id: str | None = None, secret: str | None = None) -> KeycloakOpenID:
        """OpenID client of this realm (the test client by default)."""
        return KeycloakOpenID(
            server_url=self.server.url + "/",
            realm_name=self.name,
            client_id=client_id or self.test_client,
            client_secret_key=secret or self.settings.keycloak_test_secret.get_secret_value(),
            timeout=30,
        )

    def password_token(self, username: str, password: str, *, client_suffix: str = "") -> str:
        """A fresh access token by the password grant on a test client."""
        response = self.openid(self.test_client + client_suffix).token(username, password)
        return str(response["access_token"])

    def _cached(self, key: tuple[str, str], issue: Any) -> str:
        issued = self._cache.get(key)
        if issued is None or issued.expires_at - time.time() < 60:
            token = issue()
            issued = IssuedToken(token, jwt.decode(token, options={"verify_signature": False}))
            self._cache[key] = issued
        return issued.token

    def token_for(self, role: Role | str, *, client_suffix: str = "") -> str:
        """An access token of the demo user of `role` (reused while valid for a minute more)."""
        role = Role(role)
        return self._cached(
            (role.value, client_suffix),
            lambda: self.password_token(
                role.value, self.settings.demo_password(role), client_suffix=client_suffix
            ),
        )

    def fresh_token_for(self, role: Role | str, *, client_suffix: str = "") -> str:
        """A newly issued token of the demo user of `role`."""
        role = Role(role)
        return self.password_token(
            role.value, self.settings.demo_password(role), client_suffix=client_suffix
        )

    def gateway_token(self) -> str:
        """An access token of the gateway's service account (client credentials)."""

        def issue() -> str:
            client = self.openid(
                self.settings.keycloak_gateway_client,
                self.settings.keycloak_gateway_secret.get_secret_value(),
            )
            return str(client.token(grant_type="client_credentials")["access_token"])

        return self._cached(("gateway", ""), issue)

    def delete(self) -> None:
        """Remove the realm (when reusing a shared Keycloak)."""
        admin = self.server.admin("master")
        admin.delete_realm(self.name)


def wait_for_expiry(token: str, *, margin: float = 0.0) -> None:
    """Block until the wall clock is past the token's `exp` (+ margin)."""
    exp = float(jwt.decode(token, options={"verify_signature": False})["exp"])
    wait_until(
        lambda: time.time() > exp + margin,
        timeout=exp + margin - time.time() + 5,
        what="token expiry",
    )
