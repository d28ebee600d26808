"""Rotating the realm's signing key in Keycloak needs no API restart."""

from __future__ import annotations

import secrets

import jwt
import pytest

from core.app import create_app
from core.auth.principal import Role
from core.auth.tokens import JwksVerifier
from tests.core.auth.conftest import auth_settings, bearer, http_client
from tests.support.databases import TestDb
from tests.support.keycloak import TestRealm

pytestmark = pytest.mark.keycloak


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_new_signing_key_is_picked_up_by_a_running_api(db: TestDb, realm: TestRealm) -> None:
    app = create_app(auth_settings(db, realm), background=False)
    verifier: JwksVerifier = app.state.token_verifier
    admin = realm.admin()
    realm_id = admin.get_realm(realm.name)["id"]
    old_token = realm.fresh_token_for(Role.ADMIN)
    async with http_client(app) as client:
        assert (await client.get("/api/v1/auth/me", headers=bearer(old_token))).status_code == 200
        assert verifier.jwks_fetches == 1

        component_id = admin.create_component(
            {
                "name": f"rotated-{secrets.token_hex(4)}",
                "providerId": "rsa-generated",
                "providerType": "org.keycloak.keys.KeyProvider",
                "parentId": realm_id,
                "config": {
                    "priority": ["10000"],
                    "enabled": ["true"],
                    "active": ["true"],
                    "keySize": ["2048"],
                    "algorithm": ["RS256"],
                },
            }
        )
        try:
            new_token = realm.fresh_token_for(Role.ADMIN)
            assert _kid(new_token) != _kid(old_token)
            r = await client.get("/api/v1/auth/me", headers=bearer(new_token))
            assert r.status_code == 200, r.text
            assert verifier.jwks_fetches == 2  # refetched once for the unknown kid
            # tokens signed before the rotation stay valid while the old key is published
            r = await client.get("/api/v1/auth/me", headers=bearer(old_token))
            assert r.status_code == 200
        finally:
            admin.delete_component(component_id)
    await app.state.db.dispose()

    # a key removed from the realm no longer verifies anything (fresh API, no cached keys)
    fresh = create_app(auth_settings(db, realm), background=False)
    async with http_client(fresh) as client:
        r = await client.get("/api/v1/auth/me", headers=bearer(new_token))
        assert r.status_code == 401
        r = await client.get("/api/v1/auth/me", headers=bearer(old_token))
        assert r.status_code == 200
    await fresh.state.db.dispose()
