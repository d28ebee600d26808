"""Settings of the API process (`MES_*` variables; defaults in env.sh)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mes_common.database import TelemetrySettings


class ApiSettings(TelemetrySettings):
    """Everything `mes api` reads from the environment."""

    env: Literal["development", "production"]
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    log_format: Literal["json", "text"]
    api_host: str = Field(min_length=1)
    api_port: int = Field(ge=1, le=65535)
    api_workers: int = Field(ge=1, le=64)
    db_pool_size: int = Field(ge=1, le=200)
    db_random_page_cost: float = Field(gt=0, le=100)
    cors_origins: str
    keycloak_url: str = Field(min_length=1)
    keycloak_realm: str = Field(min_length=1)
    keycloak_api_audience: str = Field(min_length=1)
    jwt_leeway_seconds: int = Field(ge=0, le=300)
    jwks_cache_seconds: int = Field(ge=1)
    bom_cache_entries: int = Field(ge=0, le=100_000)
    bom_cache_refresh_s: float = Field(ge=0, le=3600)

    @property
    def cors_origin_list(self) -> list[str]:
        """CORS origins as a list (MES_CORS_ORIGINS is comma-separated)."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def issuer(self) -> str:
        """The token issuer the API accepts (the realm's URL)."""
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}"
