"""The gateway configuration (format v1, docs/gateway-config.md) that reads a simulated plant.

Hosts and ports are `${MES_...}` references resolved by the gateway from its environment, so
one file works for `./init.sh` (env.sh's ports) and for tests (free ports in the environment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml

from simulators.protocols.registermap import machine_map
from simulators.scenario.definitions import MachineDef, Scenario, SignalDef

OPCUA_ENDPOINT = "opc.tcp://${MES_SIM_OPCUA_HOST}:${MES_SIM_OPCUA_PORT}"
PKI_REF = "${MES_SIM_PKI_DIR}"


@dataclass(frozen=True)
class ExportOptions:
    """Choices for the export."""

    gateway_id: str = "edge-1"
    opcua_security: Literal["none", "sign-encrypt", "both"] = "none"
    group_by: Literal["machine", "line"] = "machine"  # one OPC UA/Modbus device per ...
    publishing_interval_ms: int = 500


def _ms(seconds: float) -> int:
    return max(10, round(seconds * 1000))


def _opcua_device(
    name: str, machines: list[MachineDef], sc: Scenario, opt: ExportOptions
) -> dict[str, Any]:
    ns = sc.opcua.namespace
    tags = []
    for m in machines:
        for sig in m.signals:
            tag: dict[str, Any] = {"signal": sig.key, "node": f"nsu={ns};s={sig.key}"}
            if sig.unit:
                tag["unit"] = sig.unit
            if len(machines) > 1:
                tag["equipment"] = m.code
            tags.append(tag)
    fastest = min(s.period for m in machines for s in m.signals)
    device: dict[str, Any] = {"name": name, "protocol": "opcua"}
    if len(machines) == 1:
        device["equipment"] = machines[0].code
    device["endpoint"] = f"{OPCUA_ENDPOINT}{sc.opcua.path}"
    if opt.opcua_security != "none":
        device["security"] = {
            "policy": "Basic256Sha256",
            "mode": "SignAndEncrypt",
            "certificate": f"{PKI_REF}/client-cert.der",
            "private_key": f"{PKI_REF}/client-key.pem",
            "server_certificate": f"{PKI_REF}/server-cert.der",
        }
    device.update(
        mode="subscribe",
        publishing_interval_ms=min(opt.publishing_interval_ms, _ms(fastest) * 5),
        sampling_interval_ms=_ms(fastest),
        queue_size=max(10, round(opt.publishing_interval_ms / (fastest * 1000)) + 2),
        tags=tags,
    )
    return device


def _modbus_device(m: MachineDef) -> dict[str, Any]:
    groups: dict[float, list[dict[str, Any]]] = {}
    periods = {s.name: s.period for s in m.signals}
    for reg in machine_map(m):
        if reg.kind != "signal":
            continue
        tag: dict[str, Any] = {
            "signal": reg.key,
            "table": reg.table,
            "address": reg.address,
            "type": reg.type,
        }
        if reg.scale != 1.0:
            tag["scale"] = reg.scale
        if reg.unit:
            tag["unit"] = reg.unit
        groups.setdefault(periods[reg.name], []).append(tag)
    return {
        "name": m.code,
        "protocol": "modbus",
        "equipment": m.code,
        "host": "${MES_SIM_MODBUS_HOST}",
        "port": "${MES_SIM_MODBUS_PORT}",
        "unit_id": m.unit_id,
        "timeout_ms": 1000,
        "byte_order": "big",
        "word_order": m.word_order,
        "max_gap": 8,
        "groups": [
            {"interval_ms": _ms(period), "tags": tags} for period, tags in sorted(groups.items())
        ],
    }


def _mqtt_device(sc: Scenario, opt: ExportOptions) -> dict[str, Any]:
    subscriptions = []
    lines = sorted({(m.area, m.line) for m in sc.by_protocol("mqtt")})
    for area, line in lines:
        base = f"{sc.site_code}/{area}/{line}"
        common = {"qos": 1, "equipment": "{3}", "value": "value", "timestamp": "ts", "quality": "q"}
        subscriptions.append(
            {
                "topic": f"{base}/+/+",
                "exclude": [f"{base}/+/status", f"{base}/+/batch"],
                "signal": "{3}.{4}",
                **common,
            }
        )
        subscriptions.append(
            {"topic": f"{base}/+/batch", "batch": "values", "signal": "{3}.{signal}", **common}
        )
    return {
        "name": "sim-mqtt",
        "protocol": "mqtt",
        "host": "${MES_MQTT_HOST}",
        "port": "${MES_MQTT_PORT}",
        "client_id": f"mes-gateway-{opt.gateway_id}",
        "tls": False,
        "subscriptions": subscriptions,
    }


def _signal_meta(sig: SignalDef) -> dict[str, Any]:
    return {"data_type": sig.data_type, "unit": sig.unit, "description": sig.description}


def gateway_config(scenario: Scenario, options: ExportOptions | None = None) -> dict[str, Any]:
    """The configuration as a mapping (ready for YAML)."""
    opt = options or ExportOptions()
    devices: list[dict[str, Any]] = []
    opcua = scenario.by_protocol("opcua")
    if opt.group_by == "line":
        for line in scenario.lines:
            members = [m for m in opcua if m.line == line.code]
            if members:
                devices.append(_opcua_device(f"opcua-{line.code}", members, scenario, opt))
    else:
        devices += [_opcua_device(m.code, [m], scenario, opt) for m in opcua]
    devices += [_modbus_device(m) for m in scenario.by_protocol("modbus")]
    if scenario.by_protocol("mqtt"):
        devices.append(_mqtt_device(scenario, opt))
    return {
        "version": 1,
        "gateway": {"id": opt.gateway_id, "heartbeat_s": 60},
        "batch": {"max_rows": 5000, "max_delay_ms": 200},
        "spool": {"dir": "${MES_GATEWAY_SPOOL_DIR}"},
        "devices": devices,
        "signals": {s.key: _signal_meta(s) for m in scenario.machines for s in m.signals},
    }


def dump_gateway_config(scenario: Scenario, options: ExportOptions | None = None) -> str:
    """YAML text with a header naming the scenario."""
    header = (
        f"# Gateway configuration for the simulated plant '{scenario.name}'\n"
        "# written by `mes sim export-gateway-config`; format: docs/gateway-config.md\n"
    )
    body = yaml.safe_dump(
        gateway_config(scenario, options), sort_keys=False, default_flow_style=False, width=100
    )
    return header + body
