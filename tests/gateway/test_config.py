"""The configuration file: the format's example loads; every bad file gives one clear error that
names the key path and the line; `${VAR}` expansion and environment overrides."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gateway.config import ConfigFileError, load_text
from tests.support.gateway import MES

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "MES_GATEWAY_SPOOL_DIR": "/tmp/spool",
    "MES_SIM_OPCUA_HOST": "opc.example",
    "MES_SIM_OPCUA_PORT": "4841",
    "MES_SIM_MODBUS_HOST": "plc.example",
    "MES_SIM_MODBUS_PORT": "502",
    "MES_MQTT_HOST": "broker.example",
    "MES_MQTT_PORT": "1884",
    "MES_OPCUA_PASSWORD": "x",
}


def doc_example() -> str:
    """The example of docs/gateway-config.md, without its placeholder certificate paths."""
    text = (ROOT / "docs/gateway-config.md").read_text().split("```yaml")[1].split("```")[0]
    lines = [
        line
        for line in text.splitlines()
        if not any(
            k in line
            for k in ("security:", "policy:", "mode: Sign", "certificate:", "private_key:")
        )
    ]
    return "\n".join(lines)


def test_the_documented_example_loads() -> None:
    config = load_text(doc_example(), source="example.yaml", env=ENV)
    assert config.gateway.id == "edge-1"
    opcua, modbus, mqtt = config.devices
    assert opcua.protocol == "opcua" and opcua.endpoint == "opc.tcp://opc.example:4841/knu-mes/"
    assert modbus.protocol == "modbus" and modbus.port == 502 and modbus.max_gap == 8
    assert mqtt.protocol == "mqtt" and mqtt.subscriptions[1].batch == "values"
    assert str(config.spool.dir) == "/tmp/spool"


MINIMAL = """\
version: 1
gateway:
  id: edge-1
devices:
  - name: PLC
    protocol: modbus
    host: plc
    port: 502
    groups:
      - interval_ms: 1000
        tags:
          - signal: PLC.temp
            table: holding
            address: 0
            type: float32
"""


def one_error(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigFileError) as caught:
        load_text(text, source="plant.yaml", env=env if env is not None else ENV)
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("type: float32", "type: float16"),
         "plant.yaml:15: devices[0].groups[0].tags[0].type: unknown value 'float16'"),
        (("protocol: modbus", "protocol: profibus"),
         "plant.yaml:6: devices[0].protocol: unknown 'protocol' 'profibus'"),
        (("    port: 502\n", ""), "plant.yaml:5: devices[0].port: required key is missing"),
        (("    port: 502", "    port: five"),
         "plant.yaml:8: devices[0].port: Input should be a valid integer"),
        (("    host: plc", "    host: plc\n    colour: red"),
         "plant.yaml:8: devices[0].colour: unknown key"),
        (("version: 1", "version: 2"), "plant.yaml:1: version: unknown value 2"),
        (("  id: edge-1", "  id: edge 1"), "plant.yaml:3: gateway.id: String should match"),
        (("    host: plc", "    host: ${PLC_HOST}"),
         "plant.yaml:7: devices[0].host: environment variable PLC_HOST is not set"),
        (("            address: 0", "            address: [0"), "plant.yaml:15: invalid YAML"),
        (("            type: float32", "            type: string"),
         "plant.yaml:12: devices[0].groups[0].tags[0]: type string needs length"),
        (("            table: holding", "            table: coil"),
         "plant.yaml:12: devices[0].groups[0].tags[0]: a coil holds bits"),
        (("      - interval_ms: 1000", "      - interval_ms: 1"),
         "plant.yaml:10: devices[0].groups[0].interval_ms: Input should be greater than or equal"),
    ],
)  # fmt: skip
def test_each_bad_file_gives_one_clear_error(change: tuple[str, str], expected: str) -> None:
    text = MINIMAL.replace(*change)
    assert text != MINIMAL
    error = one_error(text)
    assert error.startswith(f"config error: {expected}"), error


def test_duplicates_name_both_places() -> None:
    tag = "          - signal: PLC.temp\n            table: holding\n            address: 0\n"
    doubled = MINIMAL + tag.replace("address: 0", "address: 2") + "            type: int16\n"
    assert one_error(doubled) == (
        "config error: plant.yaml:16: devices[0].groups[0].tags[1].signal: signal 'PLC.temp' "
        "is already defined at devices[0].groups[0].tags[0].signal"
    )
    device = MINIMAL.split("devices:\n")[1]
    assert "duplicate device name 'PLC'" in one_error(MINIMAL + device)


def test_mqtt_and_opcua_specific_errors(tmp_path: Path) -> None:
    mqtt = """\
version: 1
gateway: {id: edge-1}
devices:
  - name: M
    protocol: mqtt
    host: b
    port: 1884
    password_env: NOT_SET_ANYWHERE
    subscriptions:
      - topic: "KNU/#/x"
        signal: "{3}"
"""
    assert "devices[0].subscriptions[0].topic: 'KNU/#/x': '#' must be a whole last level" in (
        one_error(mqtt.replace("    password_env: NOT_SET_ANYWHERE\n", ""))
    )
    assert one_error(mqtt.replace("KNU/#/x", "KNU/+/x")) == (
        "config error: plant.yaml:8: devices[0].password_env: "
        "environment variable NOT_SET_ANYWHERE is not set"
    )
    opcua = """\
version: 1
gateway: {id: edge-1}
devices:
  - name: O
    protocol: opcua
    endpoint: opc.tcp://o:4841/
    security: {policy: Basic256Sha256, certificate: /nowhere/c.der, private_key: /nowhere/k.pem}
    tags: [{signal: O.x, node: "ns=2;s=x"}]
"""
    assert "devices[0].security: certificate: file not found: /nowhere/c.der" in one_error(opcua)


def test_env_overrides_and_defaults() -> None:
    env = {**ENV, "MES_GATEWAY__BATCH__MAX_ROWS": "750", "MES_GATEWAY__GATEWAY__HEARTBEAT_S": "5"}
    config = load_text(MINIMAL, source="plant.yaml", env=env)
    assert config.batch.max_rows == 750 and config.gateway.heartbeat_s == 5
    assert config.batch.max_delay_ms == 200  # the format's default
    bad = {**ENV, "MES_GATEWAY__BATCH__MAX_ROWS": "-1"}
    with pytest.raises(ConfigFileError) as caught:
        load_text(MINIMAL, source="plant.yaml", env=bad)
    assert caught.value.problems[0].startswith("config error: ")
    assert "batch.max_rows" in caught.value.problems[0]
    assert caught.value.problems[-1].endswith("MES_GATEWAY__BATCH__MAX_ROWS")  # names the cause


def test_command_line_reports_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "plant.yaml"
    bad.write_text(MINIMAL.replace("type: float32", "type: float16"))
    result = subprocess.run(
        [MES, "gateway", "--config", str(bad)],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"config error: {bad}:15: devices[0].groups[0].tags[0].type")
    good = tmp_path / "good.yaml"
    good.write_text(MINIMAL)
    result = subprocess.run(
        [MES, "gateway", "--config", str(good), "--check"],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ok (gateway edge-1, 1 devices, 1 worker)" in result.stdout
    missing = subprocess.run(
        [MES, "gateway", "--config", str(tmp_path / "absent.yaml")],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "cannot read the file" in missing.stderr
