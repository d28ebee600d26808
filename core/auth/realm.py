"""The `mes` realm as code: Keycloak representations built from settings.

Pure functions, no I/O: `core.auth.provision` applies them idempotently. Nothing secret is written
here; client secrets and demo passwords are read from the environment (the generated secrets file)
when the realm is provisioned.
"""

from __future__ import annotations

from typing import Any

from core.auth.principal import Role
from core.auth.settings import RealmSettings

Representation = dict[str, Any]

AUDIENCE_SCOPE = "mes-api-audience"
"""Client scope whose mapper puts the API's client id into `aud` of access tokens."""

GATEWAY_ROLE = Role.OPERATOR
"""Realm role of the gateway's service account (docs/adr/0010-gateway-service-account-role.md)."""

ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.OPERATOR: "Line operator: dashboards, machine states, work-order progress, floor input",
    Role.ENGINEER: "Process/equipment engineer: master data, equipment, signals, simulators",
    Role.QUALITY: "Quality staff: inspections, SPC, lot genealogy, audit trail",
    Role.PLANNER: "Production planner: plans, work orders, BOM and items",
    Role.SUPERVISOR: "Shift supervisor: everything on the floor, reports, audit trail",
    Role.ADMIN: "MES administrator: all features",
}

DISABLED_GRANTS = {
    "oauth2.device.authorization.grant.enabled": "false",
    "oidc.ciba.grant.enabled": "false",
}


def realm(settings: RealmSettings) -> Representation:
    """Realm settings: short access tokens, UI sessions bounded by idle and maximum time."""
    return {
        "realm": settings.keycloak_realm,
        "enabled": True,
        "displayName": "KNU MES",
        "sslRequired": "external",
        "registrationAllowed": False,
        "resetPasswordAllowed": False,
        "editUsernameAllowed": False,
        "loginWithEmailAllowed": True,
        "duplicateEmailsAllowed": False,
        "rememberMe": False,
        "defaultSignatureAlgorithm": "RS256",
        "accessTokenLifespan": settings.keycloak_access_token_seconds,
        "accessTokenLifespanForImplicitFlow": settings.keycloak_access_token_seconds,
        "accessCodeLifespan": 60,
        "accessCodeLifespanUserAction": 300,
        "accessCodeLifespanLogin": 1800,
        "ssoSessionIdleTimeout": settings.keycloak_sso_idle_seconds,
        "ssoSessionMaxLifespan": settings.keycloak_sso_max_seconds,
        "clientSessionIdleTimeout": 0,
        "clientSessionMaxLifespan": 0,
        "revokeRefreshToken": False,
        "bruteForceProtected": True,
        "permanentLockout": False,
        "failureFactor": 10,
        "waitIncrementSeconds": 60,
        "maxFailureWaitSeconds": 900,
        "maxDeltaTimeSeconds": 43200,
        "passwordPolicy": "length(12) and notUsername",
    }


def roles() -> list[Representation]:
    """The six realm roles."""
    return [{"name": r.value, "description": ROLE_DESCRIPTIONS[r]} for r in Role]


def audience_scope(settings: RealmSettings) -> Representation:
    """Client scope adding the API's audience to access tokens (not to ID tokens)."""
    return {
        "name": AUDIENCE_SCOPE,
        "description": f"Access tokens for the MES API (aud {settings.keycloak_api_audience})",
        "protocol": "openid-connect",
        "attributes": {
            "include.in.token.scope": "false",
            "display.on.consent.screen": "false",
        },
    }


def audience_mapper(settings: RealmSettings) -> Representation:
    """The mapper of the audience scope."""
    return {
        "name": f"audience {settings.keycloak_api_audience}",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {
            "included.client.audience": settings.keycloak_api_audience,
            "id.token.claim": "false",
            "access.token.claim": "true",
            "introspection.token.claim": "true",
        },
    }


def _ui_redirect_uris(settings: RealmSettings) -> list[str]:
    return [f"{origin}/" for origin in settings.ui_origins]


def api_client(settings: RealmSettings) -> Representation:
    """The API: only the audience of tokens; no flow can obtain a token for it directly."""
    return {
        "clientId": settings.keycloak_api_audience,
        "name": "MES API (token audience)",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "bearerOnly": False,
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "frontchannelLogout": False,
        "attributes": dict(DISABLED_GRANTS),
    }


def ui_client(settings: RealmSettings) -> Representation:
    """The browser UI: public client, authorization code flow with PKCE S256, exact URIs."""
    redirects = _ui_redirect_uris(settings)
    return {
        "clientId": settings.keycloak_ui_client,
        "name": "MES web UI",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": True,
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "frontchannelLogout": True,
        "fullScopeAllowed": True,
        "baseUrl": redirects[0],
        "redirectUris": redirects,
        "webOrigins": settings.ui_origins,
        "attributes": {
            **DISABLED_GRANTS,
            "pkce.code.challenge.method": "S256",
            "post.logout.redirect.uris": "##".join(redirects),
            "use.refresh.tokens": "true",
        },
    }


def gateway_client(settings: RealmSettings) -> Representation:
    """The edge gateway: confidential client, client credentials only (service account)."""
    return {
        "clientId": settings.keycloak_gateway_client,
        "name": "MES edge gateway (service account)",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": settings.keycloak_gateway_secret.get_secret_value(),
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": True,
        "frontchannelLogout": False,
        "attributes": dict(DISABLED_GRANTS),  # client credentials get no refresh token
    }


def testing_client(settings: RealmSettings) -> Representation:
    """Test-only client (password grant); provisioned only for the test suite."""
    return {
        "clientId": settings.keycloak_test_client,
        "name": "MES test suite (password grant; never in a real deployment)",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": settings.keycloak_test_secret.get_secret_value(),
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": True,
        "serviceAccountsEnabled": False,
        "frontchannelLogout": False,
        "attributes": dict(DISABLED_GRANTS),
    }


def demo_user(role: Role) -> Representation:
    """The demo user for `role` (username = role name); its password is set separately."""
    return {
        "username": role.value,
        "enabled": True,
        "email": f"{role.value}@example.com",
        "emailVerified": True,
        "firstName": "Demo",
        "lastName": role.value.title(),
        "requiredActions": [],
    }


def clients(settings: RealmSettings, *, include_test_client: bool) -> list[Representation]:
    """Every client of the realm, the test client only when asked for."""
    out = [api_client(settings), ui_client(settings), gateway_client(settings)]
    if include_test_client:
        out.append(testing_client(settings))
    return out


def audience_clients(settings: RealmSettings, *, include_test_client: bool) -> list[str]:
    """Clients whose access tokens must carry the API audience."""
    out = [settings.keycloak_ui_client, settings.keycloak_gateway_client]
    if include_test_client:
        out.append(settings.keycloak_test_client)
    return out
