"""Settings of `mes sim` (MES_SIM_*, MES_MQTT_*; defaults in env.sh)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from mes_common.settings import MesSettings


class SimSettings(MesSettings):
    """Where the simulators listen, which scenario they run, where the broker is."""

    sim_scenario: str
    sim_seed: int
    sim_speed: float
    sim_opcua_host: str
    sim_opcua_port: int
    sim_modbus_host: str
    sim_modbus_port: int
    sim_control_host: str
    sim_control_port: int
    sim_event_log: Path
    sim_opcua_security: Literal["none", "sign-encrypt", "both"]
    sim_pki_dir: Path
    mqtt_host: str
    mqtt_port: int
    mqtt_tls: bool
    mqtt_username: str
    mqtt_password: str | None = None  # not in env.sh: set it when the broker needs one
    log_level: str
    log_format: str
