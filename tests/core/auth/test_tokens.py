"""Real Keycloak tokens are verified and mapped to the caller; the realm's keys are cached."""

from __future__ import annotations

import secrets

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from core.app import create_app
from core.auth.principal import Role
from core.auth.tokens import REFRESH_COOLDOWN, JwksVerifier
from tests.core.auth.conftest import auth_settings, bearer, http_client
from tests.support.databases import TestDb
from tests.support.keycloak import TestRealm
from tests.support.net import free_port

pytestmark = pytest.mark.keycloak


@pytest.mark.parametrize("role", list(Role))
async def test_demo_user_token_names_the_user_and_role(
    client: httpx.AsyncClient, realm: TestRealm, role: Role
) -> None:
    r = await client.get("/api/v1/auth/me", headers=bearer(realm.token_for(role)))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["username"] == role.value
    assert me["name"] == f"Demo {role.value.title()}"
    assert me["roles"] == [role.value]
    assert "session:read" in me["permissions"]


async def test_principal_carries_subject_name_and_expiry(kc_app: FastAPI, realm: TestRealm) -> None:
    token = realm.token_for(Role.PLANNER)
    claims = jwt.decode(token, options={"verify_signature": False})
    principal = await kc_app.state.token_verifier.verify(token)
    assert principal.subject == claims["sub"]
    assert principal.username == "planner"
    assert principal.display == "Demo Planner"
    assert principal.expires_at == claims["exp"]
    assert principal.client_id is None
    assert principal.roles == {Role.PLANNER}


async def test_gateway_service_account_is_an_operator_client(
    client: httpx.AsyncClient, kc_app: FastAPI, realm: TestRealm
) -> None:
    token = realm.gateway_token()
    principal = await kc_app.state.token_verifier.verify(token)
    assert principal.client_id == realm.settings.keycloak_gateway_client
    assert principal.roles == {Role.OPERATOR}
    r = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == f"service-account-{realm.settings.keycloak_gateway_client}"


async def test_keys_are_fetched_once_and_cached(kc_app: FastAPI, realm: TestRealm) -> None:
    verifier: JwksVerifier = kc_app.state.token_verifier
    for role in Role:
        await verifier.verify(realm.token_for(role))
    await verifier.verify(realm.gateway_token())
    assert verifier.jwks_fetches == 1


def _forged(realm: TestRealm, kid: str, key: rsa.RSAPrivateKey) -> str:
    """A well-formed token with the realm's claims, signed by a key the realm never had."""
    claims = jwt.decode(realm.token_for(Role.ADMIN), options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


async def test_unknown_key_ids_refetch_keys_at_most_once_per_cooldown(
    client: httpx.AsyncClient, kc_app: FastAPI, realm: TestRealm
) -> None:
    verifier: JwksVerifier = kc_app.state.token_verifier
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    statuses = set()
    for _ in range(25):
        token = _forged(realm, secrets.token_urlsafe(16), key)
        r = await client.get("/api/v1/auth/me", headers=bearer(token))
        statuses.add(r.status_code)
    assert statuses == {401}
    # one fetch to fill the cache, one forced refetch for the first unknown kid, then cooldown
    assert verifier.jwks_fetches == 2
    assert REFRESH_COOLDOWN >= 5


async def test_forged_token_with_a_real_key_id_is_rejected(
    client: httpx.AsyncClient, realm: TestRealm
) -> None:
    real_kid = jwt.get_unverified_header(realm.token_for(Role.ADMIN))["kid"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = await client.get("/api/v1/auth/me", headers=bearer(_forged(realm, real_kid, key)))
    assert r.status_code == 401
    assert "signature" in r.json()["error"]["message"].lower()


async def test_unreachable_keycloak_is_503_not_401(db: TestDb, realm: TestRealm) -> None:
    settings = auth_settings(db, realm, keycloak_url=f"http://127.0.0.1:{free_port()}")
    app = create_app(settings, background=False)
    async with http_client(app) as c:
        r = await c.get("/api/v1/auth/me", headers=bearer(realm.token_for(Role.OPERATOR)))
    await app.state.db.dispose()
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "auth_unavailable"


async def test_no_token_and_wrong_scheme_are_401(
    client: httpx.AsyncClient, realm: TestRealm
) -> None:
    r = await client.get("/api/v1/auth/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    token = realm.token_for(Role.OPERATOR)
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 401
