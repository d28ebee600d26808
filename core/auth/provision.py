"""Apply the realm as code (`core.auth.realm`) to a running Keycloak, idempotently.

Creates what is missing and brings what exists back to the declared state (realm settings, roles,
the audience scope, clients and their secrets, the gateway's service-account role, demo users with
their passwords and exactly one role each). Nothing outside the declared objects is touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from core.auth import realm as spec
from core.auth.principal import Role
from core.auth.settings import KeycloakAdminSettings, RealmSettings

log = logging.getLogger(__name__)

MES_ROLES = frozenset(r.value for r in Role)


class ProvisioningError(Exception):
    """Keycloak refused or could not be reached while provisioning; the message says what."""


@dataclass
class ProvisionReport:
    """What provisioning created (the rest already existed and was brought up to date)."""

    realm: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the command line."""
        made = ", ".join(self.created) if self.created else "nothing"
        return f"realm {self.realm}: created {made}; {len(self.updated)} objects up to date"


def admin_client(settings: KeycloakAdminSettings, *, realm: str | None = None) -> KeycloakAdmin:
    """An admin API client logged in as the bootstrap admin of `master`, working on `realm`."""
    try:
        admin = KeycloakAdmin(
            server_url=settings.keycloak_url.rstrip("/") + "/",
            username=settings.keycloak_admin_user,
            password=settings.keycloak_admin_password.get_secret_value(),
            realm_name="master",
            user_realm_name="master",
            timeout=30,
        )
        admin.connection.get_token()  # log in now, so that bad credentials are named here
        admin.change_current_realm(realm or settings.keycloak_realm)
        return admin
    except KeycloakError as err:
        raise ProvisioningError(
            f"cannot log in to Keycloak at MES_KEYCLOAK_URL={settings.keycloak_url} as "
            f"MES_KEYCLOAK_ADMIN_USER={settings.keycloak_admin_user}: {_reason(err)} (the "
            "bootstrap admin is created with MES_KEYCLOAK_ADMIN_PASSWORD on Keycloak's first start)"
        ) from err


def _reason(err: KeycloakError) -> str:
    code = getattr(err, "response_code", None)
    message = getattr(err, "error_message", None) or str(err)
    if isinstance(message, bytes):
        message = message.decode(errors="replace")
    return f"HTTP {code}: {message}" if code else str(message)


def provision(
    settings: RealmSettings,
    *,
    include_test_client: bool = False,
    demo_users: bool = True,
    admin: KeycloakAdmin | None = None,
) -> ProvisionReport:
    """Bring the realm to its declared state; safe to run any number of times."""
    admin = admin or admin_client(settings)
    report = ProvisionReport(realm=settings.keycloak_realm)
    try:
        _realm(admin, settings, report)
        admin.change_current_realm(settings.keycloak_realm)
        _roles(admin, report)
        scope_id = _audience_scope(admin, settings, report)
        for representation in spec.clients(settings, include_test_client=include_test_client):
            _client(admin, representation, report)
        for client_id in spec.audience_clients(settings, include_test_client=include_test_client):
            _default_scope(admin, client_id, scope_id)
        _service_account_role(admin, settings.keycloak_gateway_client, spec.GATEWAY_ROLE)
        if demo_users:
            for role in Role:
                _user(admin, role, settings.demo_password(role), report)
    except KeycloakError as err:
        raise ProvisioningError(
            f"provisioning realm {settings.keycloak_realm} failed: {_reason(err)}"
        ) from err
    log.info("keycloak realm provisioned", extra={"realm": report.realm, "created": report.created})
    return report


def _realm(admin: KeycloakAdmin, settings: RealmSettings, report: ProvisionReport) -> None:
    representation = spec.realm(settings)
    name = settings.keycloak_realm
    existing = {r["realm"] for r in admin.get_realms()}
    if name in existing:
        admin.update_realm(name, representation)
        report.updated.append(f"realm {name}")
    else:
        admin.create_realm(representation)
        report.created.append(f"realm {name}")


def _roles(admin: KeycloakAdmin, report: ProvisionReport) -> None:
    present = {r["name"] for r in admin.get_realm_roles()}
    for role in spec.roles():
        if role["name"] in present:
            admin.update_realm_role(role["name"], role)
            report.updated.append(f"role {role['name']}")
        else:
            admin.create_realm_role(role)
            report.created.append(f"role {role['name']}")


def _audience_scope(admin: KeycloakAdmin, settings: RealmSettings, report: ProvisionReport) -> str:
    representation = spec.audience_scope(settings)
    found = admin.get_client_scope_by_name(representation["name"])
    if found is None:
        scope_id = admin.create_client_scope(representation)
        report.created.append(f"client scope {representation['name']}")
    else:
        scope_id = found["id"]
        admin.update_client_scope(scope_id, {**found, **representation})
        report.updated.append(f"client scope {representation['name']}")
    mapper = spec.audience_mapper(settings)
    mappers = {m["name"]: m for m in admin.get_mappers_from_client_scope(scope_id)}
    if mapper["name"] in mappers:
        current = mappers[mapper["name"]]
        admin.update_mapper_in_client_scope(scope_id, current["id"], {**current, **mapper})
    else:
        for stale in mappers.values():  # an audience mapper for a renamed API client
            if stale.get("protocolMapper") == mapper["protocolMapper"]:
                admin.delete_mapper_from_client_scope(scope_id, stale["id"])
        admin.add_mapper_to_client_scope(scope_id, mapper)
    return str(scope_id)


def _client(admin: KeycloakAdmin, representation: dict[str, Any], report: ProvisionReport) -> str:
    client_id = representation["clientId"]
    uuid = admin.get_client_id(client_id)
    if uuid is None:
        uuid = admin.create_client(representation)
        report.created.append(f"client {client_id}")
    else:
        current = admin.get_client(uuid)
        merged = {**current, **representation}
        merged["attributes"] = {**current.get("attributes", {}), **representation["attributes"]}
        admin.update_client(uuid, merged)
        report.updated.append(f"client {client_id}")
    return str(uuid)


def _default_scope(admin: KeycloakAdmin, client_id: str, scope_id: str) -> None:
    uuid = _client_uuid(admin, client_id)
    present = {s["id"] for s in admin.get_client_default_client_scopes(uuid)}
    if scope_id not in present:
        admin.add_client_default_client_scope(uuid, scope_id, {})


def _client_uuid(admin: KeycloakAdmin, client_id: str) -> str:
    uuid = admin.get_client_id(client_id)
    if uuid is None:
        raise ProvisioningError(f"client {client_id} does not exist after provisioning")
    return str(uuid)


def _exact_mes_role(admin: KeycloakAdmin, user_id: str, role: Role) -> None:
    """Give the user `role` and no other MES role (other realm roles are left alone)."""
    held = {r["name"]: r for r in admin.get_realm_roles_of_user(user_id)}
    extra = [r for name, r in held.items() if name in MES_ROLES and name != role.value]
    if extra:
        admin.delete_realm_roles_of_user(user_id, extra)
    if role.value not in held:
        admin.assign_realm_roles(user_id, [admin.get_realm_role(role.value)])


def _service_account_role(admin: KeycloakAdmin, client_id: str, role: Role) -> None:
    user = admin.get_client_service_account_user(_client_uuid(admin, client_id))
    _exact_mes_role(admin, user["id"], role)


def _user(admin: KeycloakAdmin, role: Role, password: str, report: ProvisionReport) -> None:
    representation = spec.demo_user(role)
    user_id = admin.get_user_id(representation["username"])
    if user_id is None:
        user_id = admin.create_user(representation)
        report.created.append(f"user {role.value}")
    else:
        admin.update_user(user_id, representation)
        report.updated.append(f"user {role.value}")
    admin.set_user_password(user_id, password, temporary=False)
    _exact_mes_role(admin, user_id, role)
