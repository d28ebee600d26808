"""Settings of the live path (`MES_LIVE_*`; defaults in env.sh)."""

from __future__ import annotations

from pydantic import Field

from mes_common.settings import MesSettings


class LiveSettings(MesSettings):
    """Derivation engine, KPI publication and WebSocket fan-out."""

    live_engine: bool
    live_engine_interval: float = Field(gt=0, le=60)
    live_kpi_interval: float = Field(gt=0, le=3600)
    live_micro_stop_s: float = Field(ge=0, le=86400)
    live_startup_s: float = Field(ge=0, le=86400)
    live_stale_s: float = Field(gt=0)
    live_recompute_hours: int = Field(ge=1, le=24 * 31)
    live_leader_retry_s: float = Field(gt=0, le=300)
    live_ws_send_timeout: float = Field(gt=0, le=300)
