"""The gateway configuration and register map exports: the documented format, every signal once,
and a file the gateway's own loader accepts unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.config.loader import load_config
from simulators.gateway_config import ExportOptions, gateway_config
from simulators.protocols.registermap import Register, decode, encode, machine_map
from simulators.scenario import Scenario

MES = str(Path(sys.executable).parent / "mes")
ENV = {
    "MES_SIM_OPCUA_HOST": "sim.example", "MES_SIM_OPCUA_PORT": "4841",
    "MES_SIM_MODBUS_HOST": "sim.example", "MES_SIM_MODBUS_PORT": "5021",
    "MES_MQTT_HOST": "broker.example", "MES_MQTT_PORT": "1884",
    "MES_GATEWAY_SPOOL_DIR": "/var/spool/mes",
}  # fmt: skip


def mes(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MES, *args], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120
    )


def test_export_uses_environment_references_and_covers_every_signal(demo: Scenario) -> None:
    config = gateway_config(demo)
    assert config["version"] == 1
    devices = {d["name"]: d for d in config["devices"]}
    opcua = devices["CNC-101"]
    assert opcua["endpoint"] == "opc.tcp://${MES_SIM_OPCUA_HOST}:${MES_SIM_OPCUA_PORT}/knu-mes/"
    assert opcua["tags"][0] == {
        "signal": "CNC-101.state", "node": "nsu=urn:knu-mes:simulator;s=CNC-101.state"
    }  # fmt: skip
    assert opcua["sampling_interval_ms"] == 100  # vibration at 10 Hz
    modbus = devices["MILL-104"]
    assert (modbus["host"], modbus["port"]) == ("${MES_SIM_MODBUS_HOST}", "${MES_SIM_MODBUS_PORT}")
    assert (modbus["unit_id"], modbus["word_order"]) == (2, "little")
    press = {t["signal"]: t for g in devices["PRESS-201"]["groups"] for t in g["tags"]}
    assert press["PRESS-201.force"] == {
        "signal": "PRESS-201.force", "table": "holding", "address": 11, "type": "int16",
        "scale": 0.1, "unit": "kN",
    }  # fmt: skip
    mqtt = devices["sim-mqtt"]
    assert (mqtt["host"], mqtt["port"]) == ("${MES_MQTT_HOST}", "${MES_MQTT_PORT}")
    assert [s["topic"] for s in mqtt["subscriptions"]] == [
        "KNU/ASSY/L2/+/+", "KNU/ASSY/L2/+/batch", "KNU/MACH/L1/+/+", "KNU/MACH/L1/+/batch",
    ]  # fmt: skip
    keys = [t["signal"] for d in config["devices"] for t in d.get("tags", [])]
    keys += [t["signal"] for d in config["devices"] for g in d.get("groups", []) for t in g["tags"]]
    mqtt_keys = [s.key for m in demo.by_protocol("mqtt") for s in m.signals]
    assert sorted(keys + mqtt_keys) == sorted(s.key for m in demo.machines for s in m.signals)
    assert len(keys) == len(set(keys))
    assert set(config["signals"]) == {s.key for m in demo.machines for s in m.signals}
    assert config["signals"]["CNC-101.good_count"] == {
        "data_type": "uint32", "unit": "pcs", "description": "good parts since counter reset"
    }  # fmt: skip


def test_the_gateway_loads_the_export_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "gateway.yaml"
    result = mes("sim", "export-gateway-config", "--scenario", "demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "${MES_SIM_OPCUA_PORT}" in out.read_text()
    config = load_config(out, env=ENV)
    assert len(config.devices) == 4 + 3 + 1
    endpoints = {d.endpoint for d in config.devices if d.protocol == "opcua"}
    assert endpoints == {"opc.tcp://sim.example:4841/knu-mes/"}
    ports = {d.port for d in config.devices if d.protocol == "modbus"}
    assert ports == {5021}
    line = tmp_path / "by-line.yaml"
    result = mes("sim", "export-gateway-config", "--scenario", "scale", "--param", "machines=12",
                 "--param", "signals=10", "--group-by", "line", "--out", str(line))  # fmt: skip
    assert result.returncode == 0, result.stderr
    grouped = load_config(line, env=ENV)
    assert [d.name for d in grouped.devices if d.protocol == "opcua"][:2] == [
        "opcua-S01",
        "opcua-S04",
    ]


def test_secure_export_names_the_generated_certificates(demo: Scenario, tmp_path: Path) -> None:
    config = gateway_config(demo, ExportOptions(opcua_security="sign-encrypt"))
    security = config["devices"][0]["security"]
    assert security == {
        "policy": "Basic256Sha256", "mode": "SignAndEncrypt",
        "certificate": "${MES_SIM_PKI_DIR}/client-cert.der",
        "private_key": "${MES_SIM_PKI_DIR}/client-key.pem",
        "server_certificate": "${MES_SIM_PKI_DIR}/server-cert.der",
    }  # fmt: skip


def test_register_map_export(tmp_path: Path) -> None:
    out = tmp_path / "map.json"
    result = mes("sim", "export-register-map", "--scenario", "demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    units = {u["machine"]: u for u in data["units"]}
    assert {c: u["unit_id"] for c, u in units.items()} == {
        "LATHE-103": 1,
        "MILL-104": 2,
        "PRESS-201": 3,
    }
    lathe = {r["key"]: r for r in units["LATHE-103"]["registers"]}
    assert lathe["LATHE-103.good_count"] | {} == lathe["LATHE-103.good_count"]
    assert (lathe["LATHE-103.good_count"]["table"], lathe["LATHE-103.good_count"]["address"]) == (
        "input",
        2,
    )
    assert lathe["LATHE-103.spindle_speed"]["type"] == "float32"
    assert lathe["LATHE-103.command"]["access"] == "rw"
    assert lathe["LATHE-103.running"]["table"] == "discrete"
    addresses: dict[str, set[int]] = {}
    for unit in data["units"]:
        taken: dict[str, set[int]] = {}
        for reg in unit["registers"]:
            span = set(range(reg["address"], reg["address"] + reg["size"]))
            assert not taken.setdefault(reg["table"], set()) & span, (unit["machine"], reg["key"])
            taken[reg["table"]] |= span
        addresses[unit["machine"]] = taken["input"]
    assert addresses["LATHE-103"] == set(range(16))


def test_register_encoding_round_trips(demo: Scenario) -> None:
    for m in demo.by_protocol("modbus"):
        for reg in machine_map(m):
            if reg.type == "bool":
                continue
            value = {"uint16": 5, "uint32": 4294967295, "int16": -12.3, "float32": 1234.5}[reg.type]
            expected = value * reg.scale / reg.scale if reg.type != "int16" else value
            assert decode(reg, encode(reg, value)) == expected
    clamp = Register("x", "x", "signal", "holding", 10, "int16", "big", 0.1)
    assert decode(clamp, encode(clamp, 99999.0)) == 3276.7  # saturates, does not wrap


def test_cli_validate_reports_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\ngenerate:\n  machines: -3\n")
    result = mes("sim", "validate", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"scenario error: {bad}:4: generate.machines: Input should be greater than or equal to 1"
    )
    ok = mes("sim", "validate", "demo")
    assert ok.returncode == 0
    assert (
        ok.stdout.strip() == "demo: 10 machines on 2 lines, 83 signals; opcua 4, modbus 3, mqtt 3"
    )


def test_cli_run_offline_writes_series_and_events(tmp_path: Path) -> None:
    out = tmp_path / "series.jsonl"
    result = mes("sim", "run-offline", "--scenario", "demo", "--seed", "3", "--hours", "0.25",
                 "--every", "5", "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["t"] % 5 for r in lines} == {0.0}
    assert lines[0]["ts"] == "2026-01-05T06:00:00.000Z"
    events = [
        json.loads(line) for line in (tmp_path / "series.events.jsonl").read_text().splitlines()
    ]
    assert events[0]["type"] == "run_start" and events[0]["seed"] == 3
    assert events[-1]["type"] == "run_end" and events[-1]["t"] == 900.0
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def flat(text: str) -> str:
    """Terminal output without box drawing and line wrapping."""
    return " ".join(text.replace("│", " ").split())


def test_cli_refuses_bad_options_with_a_clear_message() -> None:
    fault = mes("sim", "--fault", "modbus", "--control-port", "1")
    assert fault.returncode == 2 and "expected TARGET:KIND" in flat(fault.stderr)
    only = mes("sim", "--only", "profibus")
    assert only.returncode == 2 and "unknown: profibus" in flat(only.stderr)
    url = mes("sim", "--mqtt-url", "http://broker")
    assert url.returncode == 2 and "expected mqtt://HOST:PORT" in flat(url.stderr)
    portless = mes("sim", "--mqtt-url", "mqtt://broker")
    assert portless.returncode == 2 and "the port is required" in flat(portless.stderr)
    speed = mes("sim", "--speed", "abc")
    assert speed.returncode == 2
    setting = mes("sim", "export-register-map", env={"MES_SIM_SEED": "many"})
    assert setting.returncode == 2
    assert setting.stderr.startswith("configuration error: MES_SIM_SEED='many'")
    unreachable = mes("sim", "status", env={"MES_SIM_CONTROL_PORT": "9"})
    assert unreachable.returncode == 2
    assert "cannot reach the simulator control endpoint" in unreachable.stderr
