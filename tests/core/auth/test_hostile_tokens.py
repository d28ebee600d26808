"""Hostile and invalid tokens get 401, each case on its own, with real Keycloak tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from core.app import create_app
from core.auth.principal import Role
from tests.core.auth.conftest import auth_settings, bearer, http_client
from tests.support.databases import TestDb
from tests.support.keycloak import TestRealm, wait_for_expiry

pytestmark = pytest.mark.keycloak

ME = "/api/v1/auth/me"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header_b64, payload_b64, signature = token.split(".")
    return json.loads(_unb64(header_b64)), json.loads(_unb64(payload_b64)), signature


def _encode(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


async def _status(client: httpx.AsyncClient, token: str) -> tuple[int, str]:
    r = await client.get(ME, headers=bearer(token))
    message = r.json()["error"]["message"] if r.status_code >= 400 else ""
    return r.status_code, message


@pytest.fixture
async def strict_client(db: TestDb, realm: TestRealm) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an API that allows no clock skew at all."""
    app: FastAPI = create_app(auth_settings(db, realm, jwt_leeway_seconds=0), background=False)
    async with http_client(app) as c:
        yield c
    await app.state.db.dispose()


async def test_expired_token(strict_client: httpx.AsyncClient, realm: TestRealm) -> None:
    token = realm.fresh_token_for(Role.ADMIN, client_suffix="-short")
    assert (await _status(strict_client, token))[0] == 200
    wait_for_expiry(token, margin=1)
    status, message = await _status(strict_client, token)
    assert status == 401
    assert "expired" in message


async def test_token_expired_within_the_leeway_is_accepted(
    client: httpx.AsyncClient, realm: TestRealm
) -> None:
    """MES_JWT_LEEWAY_SECONDS tolerates clock skew: a token a second past `exp` still works."""
    token = realm.fresh_token_for(Role.ADMIN, client_suffix="-short")
    wait_for_expiry(token, margin=1)
    assert (await _status(client, token))[0] == 200


async def test_not_yet_valid_token(client: httpx.AsyncClient, realm: TestRealm) -> None:
    token = realm.fresh_token_for(Role.ADMIN, client_suffix="-future")
    assert _parts(token)[1]["nbf"] > _parts(token)[1]["iat"] + 3600
    status, message = await _status(client, token)
    assert status == 401
    assert "not valid yet" in message


async def test_wrong_issuer(client: httpx.AsyncClient, realm: TestRealm) -> None:
    """A token signed with the realm's own key but issued under another URL."""
    admin = realm.admin()
    attributes = admin.get_realm(realm.name).get("attributes", {})
    admin.update_realm(
        realm.name, {"attributes": {**attributes, "frontendUrl": "http://issuer.invalid"}}
    )
    try:
        token = realm.fresh_token_for(Role.ADMIN)
    finally:
        admin.update_realm(realm.name, {"attributes": {**attributes, "frontendUrl": ""}})
    assert _parts(token)[1]["iss"] == f"http://issuer.invalid/realms/{realm.name}"
    status, message = await _status(client, token)
    assert status == 401
    assert "not issued by" in message
    assert (await _status(client, realm.fresh_token_for(Role.ADMIN)))[0] == 200


async def test_wrong_audience(client: httpx.AsyncClient, realm: TestRealm) -> None:
    token = realm.fresh_token_for(Role.ADMIN, client_suffix="-noaud")
    assert realm.settings.keycloak_api_audience not in str(_parts(token)[1].get("aud"))
    status, message = await _status(client, token)
    assert status == 401
    assert "audience" in message


async def test_payload_tampered_keeping_the_signature(
    client: httpx.AsyncClient, realm: TestRealm
) -> None:
    header, payload, signature = _parts(realm.token_for(Role.OPERATOR))
    payload["realm_access"] = {"roles": ["admin"]}
    status, message = await _status(client, f"{_encode(header, payload)}.{signature}")
    assert status == 401
    assert "signature" in message.lower()


async def test_signature_tampered(client: httpx.AsyncClient, realm: TestRealm) -> None:
    token = realm.token_for(Role.OPERATOR)
    head, body, signature = token.split(".")
    raw = bytearray(_unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    status, _ = await _status(client, f"{head}.{body}.{_b64(bytes(raw))}")
    assert status == 401


async def test_alg_none(client: httpx.AsyncClient, realm: TestRealm) -> None:
    header, payload, _ = _parts(realm.token_for(Role.OPERATOR))
    for alg in ("none", "None", "NONE"):
        forged = _encode({**header, "alg": alg}, payload) + "."
        status, message = await _status(client, forged)
        assert status == 401
        assert "algorithm" in message


async def test_hs256_signed_with_the_public_key(
    client: httpx.AsyncClient, realm: TestRealm
) -> None:
    """The classic key-confusion attack: HMAC keyed with the realm's public RSA key."""
    token = realm.token_for(Role.OPERATOR)
    header, payload, _ = _parts(token)
    jwks = realm.openid().certs()
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public_key = jwt.PyJWK(jwk).key
    pems = [
        public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
    ]
    payload["realm_access"] = {"roles": ["admin"]}
    for pem in pems:
        signing_input = _encode({**header, "alg": "HS256"}, payload)
        mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        status, message = await _status(client, f"{signing_input}.{_b64(mac)}")
        assert status == 401
        assert "algorithm" in message


async def test_token_from_another_realm(
    client: httpx.AsyncClient, kc_app: FastAPI, realm: TestRealm, other_realm: TestRealm
) -> None:
    token = other_realm.token_for(Role.ADMIN)
    assert _parts(token)[1]["iss"] == other_realm.issuer != realm.issuer
    status, message = await _status(client, token)
    assert status == 401
    assert "key" in message


@pytest.mark.parametrize(
    "garbage",
    [
        "garbage",
        "a.b.c",
        "...",
        "eyJhbGciOiJSUzI1NiJ9",
        "eyJhbGciOiJSUzI1NiJ9.e30",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.c2ln",
        _b64(b'"just a string"') + ".e30.c2ln",
        _b64(secrets.token_bytes(96)),
        "x" * 8000,
    ],
    ids=[
        "word",
        "dots",
        "empty-parts",
        "header-only",
        "no-signature",
        "kid-not-a-string",
        "header-not-an-object",
        "random-bytes",
        "huge",
    ],
)
async def test_garbage(client: httpx.AsyncClient, garbage: str) -> None:
    assert (await _status(client, garbage))[0] == 401


async def test_refresh_and_id_tokens_are_not_access_tokens(
    client: httpx.AsyncClient, realm: TestRealm
) -> None:
    response = realm.openid().token("operator", realm.settings.demo_password(Role.OPERATOR))
    for kind in ("refresh_token", "id_token"):
        assert (await _status(client, response[kind]))[0] == 401, kind


async def test_role_removed_after_issue_stays_until_expiry(
    client: httpx.AsyncClient, realm: TestRealm
) -> None:
    """Documented: a token keeps the roles it was issued with until it expires (short lifetime);
    the next token (renewal) no longer has the removed role."""
    admin = realm.admin()
    username, password = f"temp-{secrets.token_hex(4)}", secrets.token_hex(12)
    user_id = admin.create_user(
        {
            "username": username,
            "enabled": True,
            "email": f"{username}@example.com",
            "emailVerified": True,
            "firstName": "Temp",
            "lastName": "User",
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        }
    )
    try:
        planner = admin.get_realm_role(Role.PLANNER.value)
        admin.assign_realm_roles(user_id, [planner])
        before = realm.password_token(username, password)
        admin.delete_realm_roles_of_user(user_id, [planner])
        after = realm.password_token(username, password)

        r = await client.get(ME, headers=bearer(before))
        assert r.status_code == 200
        assert r.json()["roles"] == ["planner"]
        assert (await client.get(ME, headers=bearer(after))).status_code == 403  # no MES role
        assert (await client.get("/api/v1/items", headers=bearer(before))).status_code == 200
        assert (await client.get("/api/v1/items", headers=bearer(after))).status_code == 403
    finally:
        admin.delete_user(user_id)
