"""The provisioned realm: clients, flows, PKCE, redirect URIs, roles, users, lifetimes.

The browser login itself is exercised end to end with the UI; here the realm's configuration is
read back and the server's answers to authorization requests are checked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

from core.auth.principal import Role
from core.auth.provision import ProvisioningError, provision
from core.auth.realm import AUDIENCE_SCOPE
from mes_common.settings import load_settings
from tests.support.keycloak import TestRealm

pytestmark = pytest.mark.keycloak

MES = str(Path(sys.executable).parent / "mes")


def _client(realm: TestRealm, client_id: str) -> dict[str, Any]:
    admin = realm.admin()
    uuid = admin.get_client_id(client_id)
    assert uuid is not None, client_id
    return dict(admin.get_client(uuid))


def _auth_url(realm: TestRealm, **params: str) -> str:
    return f"{realm.issuer}/protocol/openid-connect/auth?{urlencode(params)}"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def test_ui_client_is_public_standard_flow_with_pkce_s256(realm: TestRealm) -> None:
    ui = _client(realm, realm.settings.keycloak_ui_client)
    assert ui["publicClient"] is True
    assert ui["standardFlowEnabled"] is True
    assert ui["implicitFlowEnabled"] is False
    assert ui["directAccessGrantsEnabled"] is False
    assert ui["serviceAccountsEnabled"] is False
    assert ui["attributes"]["pkce.code.challenge.method"] == "S256"
    assert ui["attributes"].get("oauth2.device.authorization.grant.enabled") == "false"


def test_ui_redirect_uris_and_origins_are_exact(realm: TestRealm) -> None:
    ui = _client(realm, realm.settings.keycloak_ui_client)
    origins = realm.settings.ui_origins
    assert os.environ["MES_UI_PUBLIC_URL"].rstrip("/") in origins
    assert sorted(ui["redirectUris"]) == sorted(f"{o}/" for o in origins)
    assert sorted(ui["webOrigins"]) == sorted(origins)
    for value in [*ui["redirectUris"], *ui["webOrigins"]]:
        assert "*" not in value and value != "+", value


def test_authorization_request_without_pkce_is_refused(realm: TestRealm) -> None:
    redirect = f"{realm.settings.ui_origins[0]}/"
    url = _auth_url(
        realm,
        client_id=realm.settings.keycloak_ui_client,
        response_type="code",
        scope="openid",
        redirect_uri=redirect,
    )
    r = httpx.get(url, follow_redirects=False, timeout=30)
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(redirect)
    query = parse_qs(urlparse(location).query)
    assert query["error"] == ["invalid_request"]
    assert "code_challenge" in query["error_description"][0]


def test_authorization_request_with_pkce_s256_shows_the_login_page(realm: TestRealm) -> None:
    _, challenge = _pkce()
    url = _auth_url(
        realm,
        client_id=realm.settings.keycloak_ui_client,
        response_type="code",
        scope="openid",
        redirect_uri=f"{realm.settings.ui_origins[0]}/",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    r = httpx.get(url, follow_redirects=False, timeout=30)
    assert r.status_code == 200
    assert "kc-form-login" in r.text or 'id="username"' in r.text


def test_plain_pkce_and_foreign_redirects_and_implicit_flow_are_refused(realm: TestRealm) -> None:
    ui_client = realm.settings.keycloak_ui_client
    redirect = f"{realm.settings.ui_origins[0]}/"
    plain = httpx.get(
        _auth_url(
            realm,
            client_id=ui_client,
            response_type="code",
            redirect_uri=redirect,
            code_challenge=secrets.token_urlsafe(48),
            code_challenge_method="plain",
        ),
        follow_redirects=False,
        timeout=30,
    )
    assert plain.status_code == 302
    assert "error=invalid_request" in plain.headers["location"]

    _, challenge = _pkce()
    for foreign in (f"{redirect}evil", "http://evil.invalid/", f"{redirect}?next=x"):
        r = httpx.get(
            _auth_url(
                realm,
                client_id=ui_client,
                response_type="code",
                redirect_uri=foreign,
                code_challenge=challenge,
                code_challenge_method="S256",
            ),
            follow_redirects=False,
            timeout=30,
        )
        assert r.status_code == 400, foreign
        assert "redirect_uri" in r.text

    implicit = httpx.get(
        _auth_url(
            realm,
            client_id=ui_client,
            response_type="token",
            redirect_uri=redirect,
            nonce="n",
        ),
        follow_redirects=False,
        timeout=30,
    )
    assert implicit.status_code == 302
    assert "error=unauthorized_client" in implicit.headers["location"]


def test_ui_client_has_no_password_grant(realm: TestRealm) -> None:
    ui = realm.openid(realm.settings.keycloak_ui_client)
    ui.client_secret_key = None
    with pytest.raises((KeycloakAuthenticationError, KeycloakPostError)) as err:
        ui.token("operator", realm.settings.demo_password(Role.OPERATOR))
    assert err.value.response_code in (400, 401)


def test_api_client_is_only_an_audience(realm: TestRealm) -> None:
    api = _client(realm, realm.settings.keycloak_api_audience)
    assert api["publicClient"] is False
    for flow in (
        "standardFlowEnabled",
        "implicitFlowEnabled",
        "directAccessGrantsEnabled",
        "serviceAccountsEnabled",
    ):
        assert api[flow] is False, flow


def test_gateway_client_is_confidential_with_client_credentials_only(realm: TestRealm) -> None:
    gateway = _client(realm, realm.settings.keycloak_gateway_client)
    assert gateway["publicClient"] is False
    assert gateway["serviceAccountsEnabled"] is True
    assert gateway["standardFlowEnabled"] is False
    assert gateway["implicitFlowEnabled"] is False
    assert gateway["directAccessGrantsEnabled"] is False
    client = realm.openid(
        realm.settings.keycloak_gateway_client,
        realm.settings.keycloak_gateway_secret.get_secret_value(),
    )
    response = client.token(grant_type="client_credentials")
    assert "refresh_token" not in response
    claims = jwt.decode(response["access_token"], options={"verify_signature": False})
    assert realm.settings.keycloak_api_audience in claims["aud"]
    assert Role.OPERATOR.value in claims["realm_access"]["roles"]


def test_user_tokens_carry_the_api_audience_and_a_short_lifetime(realm: TestRealm) -> None:
    response = realm.openid().token("operator", realm.settings.demo_password(Role.OPERATOR))
    claims = jwt.decode(response["access_token"], options={"verify_signature": False})
    assert realm.settings.keycloak_api_audience in claims["aud"]
    assert claims["iss"] == realm.issuer
    assert claims["exp"] - claims["iat"] == realm.settings.keycloak_access_token_seconds
    assert response["refresh_expires_in"] <= realm.settings.keycloak_sso_idle_seconds
    settings = realm.admin().get_realm(realm.name)
    assert settings["accessTokenLifespan"] == realm.settings.keycloak_access_token_seconds
    assert settings["ssoSessionMaxLifespan"] == realm.settings.keycloak_sso_max_seconds
    assert settings["bruteForceProtected"] is True
    assert settings["registrationAllowed"] is False


def test_six_roles_and_one_demo_user_per_role(realm: TestRealm) -> None:
    admin = realm.admin()
    realm_roles = {r["name"] for r in admin.get_realm_roles()}
    assert {r.value for r in Role} <= realm_roles
    mes_roles = {r.value for r in Role}
    for role in Role:
        user_id = admin.get_user_id(role.value)
        assert user_id is not None
        held = {r["name"] for r in admin.get_realm_roles_of_user(user_id)} & mes_roles
        assert held == {role.value}
    scope = admin.get_client_scope_by_name(AUDIENCE_SCOPE)
    assert scope is not None


def test_provisioning_again_changes_nothing_but_applies_new_secrets(realm: TestRealm) -> None:
    original = realm.settings
    rotated = original.model_copy(
        update={"keycloak_gateway_secret": original.keycloak_gateway_secret.__class__("n" * 32)}
    )
    try:
        report = provision(rotated, include_test_client=True)
        assert report.created == []
        gateway = realm.openid(rotated.keycloak_gateway_client, "n" * 32)
        assert gateway.token(grant_type="client_credentials")["access_token"]
        stale = realm.openid(
            original.keycloak_gateway_client, original.keycloak_gateway_secret.get_secret_value()
        )
        with pytest.raises(KeycloakAuthenticationError):
            stale.token(grant_type="client_credentials")
    finally:
        provision(original, include_test_client=True)
    assert realm.gateway_token()


def test_wrong_admin_password_names_the_settings(realm: TestRealm) -> None:
    wrong = realm.settings.model_copy(
        update={"keycloak_admin_password": realm.settings.keycloak_admin_password.__class__("x")}
    )
    with pytest.raises(ProvisioningError) as err:
        provision(wrong)
    assert "MES_KEYCLOAK_ADMIN_USER" in str(err.value)
    assert "MES_KEYCLOAK_URL" in str(err.value)


def test_mes_auth_provision_command_is_idempotent(realm: TestRealm) -> None:
    name = f"cli-{secrets.token_hex(3)}"
    env = {
        **os.environ,
        "MES_KEYCLOAK_URL": realm.server.url,
        "MES_KEYCLOAK_REALM": name,
        "MES_KEYCLOAK_ADMIN_USER": realm.server.admin_user,
        "MES_KEYCLOAK_ADMIN_PASSWORD": realm.server.admin_password,
    }
    try:
        first = subprocess.run(
            [MES, "auth", "provision"], env=env, capture_output=True, text=True, timeout=300
        )
        assert first.returncode == 0, first.stderr
        assert f"realm {name}: created realm {name}" in first.stdout
        second = subprocess.run(
            [MES, "auth", "provision"], env=env, capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 0, second.stderr
        assert "created nothing" in second.stdout
        assert realm.server.admin(name).get_client_id(realm.test_client) is None
    finally:
        realm.server.admin("master").delete_realm(name)


def test_mes_auth_provision_reports_a_missing_setting() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MES_KEYCLOAK_GATEWAY_SECRET"}
    result = subprocess.run(
        [MES, "auth", "provision"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "MES_KEYCLOAK_GATEWAY_SECRET is not set" in result.stderr


def test_realm_settings_hold_no_secret_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets come only from the environment: without them the settings do not load."""
    from core.auth.settings import RealmSettings
    from mes_common.settings import ConfigError

    for role in Role:
        monkeypatch.delenv(f"MES_DEMO_PASSWORD_{role.value.upper()}")
    with pytest.raises(ConfigError) as err:
        load_settings(RealmSettings)
    assert "MES_DEMO_PASSWORD_ADMIN is not set" in str(err.value)
