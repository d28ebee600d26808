"""Settings of the gateway process (`MES_DB_*`, `MES_GATEWAY_*`; defaults in env.sh)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from mes_common.database import DatabaseSettings


class GatewaySettings(DatabaseSettings):
    """Everything `mes gateway` reads from the environment."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    log_format: Literal["json", "text"]
    gateway_config: Path
    gateway_metrics_host: str = Field(min_length=1)
    gateway_metrics_port: int = Field(ge=0, le=65535)
    gateway_spool_dir: Path
    gateway_spool_max_bytes: int = Field(ge=1024)
    gateway_write_timeout: float = Field(gt=0)
