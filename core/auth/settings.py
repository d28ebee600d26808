"""Settings for provisioning the realm and running a local Keycloak (`MES_KEYCLOAK_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from core.auth.principal import Role
from mes_common.settings import MesSettings


class KeycloakAdminSettings(MesSettings):
    """Where Keycloak is and how to log in to its admin API (the bootstrap admin of `master`)."""

    keycloak_url: str = Field(min_length=1)
    keycloak_realm: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    keycloak_admin_user: str = Field(min_length=1)
    keycloak_admin_password: SecretStr


class RealmSettings(KeycloakAdminSettings):
    """Everything the realm as code (`core.auth.realm`) is built from; secrets come from here."""

    keycloak_ui_client: str = Field(min_length=1)
    keycloak_api_audience: str = Field(min_length=1)
    keycloak_gateway_client: str = Field(min_length=1)
    keycloak_gateway_secret: SecretStr
    keycloak_test_client: str = Field(min_length=1)
    keycloak_test_secret: SecretStr
    keycloak_access_token_seconds: int = Field(ge=30, le=3600)
    keycloak_sso_idle_seconds: int = Field(ge=60)
    keycloak_sso_max_seconds: int = Field(ge=60)
    ui_public_url: str = Field(min_length=1)
    cors_origins: str
    demo_password_operator: SecretStr
    demo_password_engineer: SecretStr
    demo_password_quality: SecretStr
    demo_password_planner: SecretStr
    demo_password_supervisor: SecretStr
    demo_password_admin: SecretStr

    def demo_password(self, role: Role) -> str:
        """The generated password of the demo user named after `role`."""
        secret: SecretStr = getattr(self, f"demo_password_{role.value}")
        return secret.get_secret_value()

    @property
    def ui_origins(self) -> list[str]:
        """Origins the UI is served from: MES_UI_PUBLIC_URL first, then MES_CORS_ORIGINS."""
        origins = [self.ui_public_url, *self.cors_origins.split(",")]
        seen: dict[str, None] = {}
        for origin in origins:
            cleaned = origin.strip().rstrip("/")
            if cleaned:
                seen.setdefault(cleaned, None)
        return list(seen)


class KeycloakServerSettings(KeycloakAdminSettings):
    """How `mes auth keycloak` runs the server: distribution, ports, database, JVM."""

    home: Path
    keycloak_version: str = Field(min_length=1, pattern=r"^[0-9][0-9A-Za-z.-]*$")
    keycloak_cache: Path
    keycloak_host: str = Field(min_length=1)
    keycloak_port: int = Field(ge=1, le=65535)
    keycloak_management_port: int = Field(ge=1, le=65535)
    keycloak_db_name: str = Field(min_length=1)
    keycloak_db_password: SecretStr
    keycloak_heap_max: str = Field(pattern=r"^[0-9]+[mMgG]$")
    keycloak_start_timeout: float = Field(gt=0)
    db_host: str = Field(min_length=1)
    db_port: int = Field(ge=1, le=65535)
