"""OPC UA end to end against a real asyncua server: values, source timestamps and status codes
land in `reading`; browse discovery, polling, security with user/password; a server restart is
recovered without any action."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.ua.status_codes import StatusCodes
from cryptography.x509.oid import ExtendedKeyUsageOID

from gateway import quality
from gateway.settings import GatewaySettings
from tests.gateway.servers import OpcuaTestServer
from tests.support.databases import TestDb
from tests.support.gateway import base_config, eventually, fetch, readings, running_gateway

LAYOUT = {"CNC": {"speed": 0.0, "temp": 20.0, "running": False, "program": "P0"}}
T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=123456)


@pytest.fixture
async def opc() -> AsyncIterator[OpcuaTestServer]:
    server = OpcuaTestServer(layout=LAYOUT)
    await server.start()
    yield server
    await server.stop()


def opcua_device(server: OpcuaTestServer, **extra: Any) -> dict[str, Any]:
    device: dict[str, Any] = {
        "name": "CNC",
        "protocol": "opcua",
        "equipment": "CNC-1",
        "endpoint": server.endpoint,
        "publishing_interval_ms": 50,
        "sampling_interval_ms": 0,
        "queue_size": 100,
        "backoff": {"initial_ms": 100, "max_ms": 1000},
        "tags": [
            {"signal": "CNC-1.speed", "node": f"nsu={server.uri};s=CNC.speed", "unit": "rpm"},
        ],
        "browse": [{"root": "Objects/Plant/CNC", "pattern": "*", "signal": "{equipment}.{name}"}],
    }
    device.update(extra)
    return device


def in_window(ts: datetime) -> bool:
    """Rows written by a test with source timestamps from T0 (not the servers' start values)."""
    return T0 <= ts < T0 + timedelta(hours=1)


async def rows_of(db: TestDb, key: str) -> list[tuple[Any, ...]]:
    return [(ts, v, q) for _, ts, v, q in await readings(db, key)]


async def test_subscription_keeps_values_source_timestamps_and_status(
    opc: OpcuaTestServer, db: TestDb, settings: GatewaySettings, tmp_path: Path
) -> None:
    config = base_config([opcua_device(opc)])
    async with running_gateway(config, settings, tmp_path / "gw.yaml"):
        # discovery found every variable below the folder; the explicit tag kept its unit
        await eventually(
            lambda: _signals(db, {"CNC-1.speed", "CNC-1.temp", "CNC-1.running", "CNC-1.program"}),
            what="discovered signals",
        )
        await eventually(lambda: _count(db, "CNC-1.speed", 1), what="initial value")
        writes = [
            (1500.0, T0, 0),
            (1510.5, T0 + timedelta(milliseconds=250), 0x40920000),  # Uncertain, sub-code kept
            (1520.0, T0 + timedelta(milliseconds=500), 0x80310000),  # BadNoCommunication
            (1530.25, T0 + timedelta(seconds=1), 0),
        ]
        for value, ts, status in writes:
            await opc.write("CNC.speed", value, source_ts=ts, status=status)
            await eventually(partial(_has_ts, db, "CNC-1.speed", ts), what=f"speed at {ts}")
        await opc.write("CNC.running", True, source_ts=T0)
        await opc.write("CNC.program", "SHAFT-A100", source_ts=T0)
        await eventually(lambda: _has_ts(db, "CNC-1.running", T0), what="bool")
        await eventually(lambda: _text_is(db, "CNC-1.program", "SHAFT-A100"), what="string")
        got = [r for r in await rows_of(db, "CNC-1.speed") if in_window(r[0])]
        # a Bad DataValue carries no value (the server sends none): stored as NULL, quality kept
        assert got == [
            (ts, None if s & 0x80000000 else v, quality.from_status_code(s)) for v, ts, s in writes
        ]
        assert quality.from_status_code(0x40920000) > 0 and quality.from_status_code(0x80310000) < 0
        assert (T0, 1.0, 0) in await rows_of(db, "CNC-1.running")
        meta = await fetch(
            db,
            "SELECT key, equipment_code, unit, protocol, source FROM signal ORDER BY key",
        )
        by_key = {m[0]: m[1:] for m in meta}
        assert by_key["CNC-1.speed"] == ("CNC-1", "rpm", "opcua", f"nsu={opc.uri};s=CNC.speed")
        assert by_key["CNC-1.temp"][:3] == ("CNC-1", None, "opcua")
        assert {m[0] for m in meta} == {
            "CNC-1.speed", "CNC-1.temp", "CNC-1.running", "CNC-1.program"
        }  # fmt: skip


async def _signals(db: TestDb, keys: set[str]) -> bool:
    return keys <= {r[0] for r in await fetch(db, "SELECT key FROM signal")}


async def _count(db: TestDb, key: str, n: int) -> bool:
    return len(await rows_of(db, key)) >= n


async def _has_ts(db: TestDb, key: str, ts: datetime) -> bool:
    return any(r[0] == ts for r in await rows_of(db, key))


async def _text_is(db: TestDb, key: str, value: str) -> bool:
    rows = await fetch(
        db,
        "SELECT t.value FROM reading_text t JOIN signal s ON s.id = t.signal_id WHERE s.key = %s",
        key,
    )
    return (value,) in rows


async def test_absolute_deadband_suppresses_small_changes(
    opc: OpcuaTestServer, db: TestDb, settings: GatewaySettings, tmp_path: Path
) -> None:
    device = opcua_device(opc, browse=[])
    device["tags"][0]["deadband"] = {"type": "absolute", "value": 1.0}
    async with running_gateway(base_config([device]), settings, tmp_path / "gw.yaml"):
        await eventually(lambda: _count(db, "CNC-1.speed", 1), what="initial value")
        for n, value in enumerate([10.0, 10.4, 10.8, 12.0, 12.5, 14.0]):
            await opc.write("CNC.speed", value, source_ts=T0 + timedelta(seconds=n))
        await eventually(lambda: _has_ts(db, "CNC-1.speed", T0 + timedelta(seconds=5)), what="14")
        got = [(ts, v) for ts, v, _ in await rows_of(db, "CNC-1.speed") if in_window(ts)]
        assert got == [
            (T0, 10.0),
            (T0 + timedelta(seconds=3), 12.0),
            (T0 + timedelta(seconds=5), 14.0),
        ]


async def test_poll_mode_reads_values_and_timestamps(
    opc: OpcuaTestServer, db: TestDb, settings: GatewaySettings, tmp_path: Path
) -> None:
    device = opcua_device(opc, mode="poll", publishing_interval_ms=100)
    async with running_gateway(base_config([device]), settings, tmp_path / "gw.yaml"):
        await opc.write("CNC.temp", 55.5, source_ts=T0)
        await eventually(lambda: _has_ts(db, "CNC-1.temp", T0), what="polled temperature")
        await opc.write("CNC.temp", 56.0, source_ts=T0 + timedelta(seconds=1))
        await eventually(
            lambda: _has_ts(db, "CNC-1.temp", T0 + timedelta(seconds=1)), what="second poll"
        )
        got = [(ts, v, q) for ts, v, q in await rows_of(db, "CNC-1.temp") if in_window(ts)]
        assert got == [(T0, 55.5, 0), (T0 + timedelta(seconds=1), 56.0, 0)]


async def test_server_restart_resumes_without_action(
    opc: OpcuaTestServer, db: TestDb, settings: GatewaySettings, tmp_path: Path
) -> None:
    async with running_gateway(
        base_config([opcua_device(opc, browse=[])]), settings, tmp_path / "gw.yaml"
    ) as gw:
        first = datetime.now(UTC)
        await opc.write("CNC.speed", 100.0, source_ts=first)
        await eventually(lambda: _has_ts(db, "CNC-1.speed", first), what="first value")
        await opc.stop()
        await eventually(
            lambda: _bad(db, "CNC-1.speed"), what="Bad quality while the server is down"
        )
        await opc.start()  # a fresh server process: new session, subscriptions must be re-created
        await eventually(lambda: gw.links.links["CNC"].state == "connected", what="reconnect")
        after = datetime.now(UTC)
        await opc.write("CNC.speed", 200.0, source_ts=after)
        await eventually(lambda: _has_ts(db, "CNC-1.speed", after), what="data after restart")
        assert gw.links.links["CNC"].reconnect_count == 1
        values = [(v, q) for ts, v, q in await rows_of(db, "CNC-1.speed") if ts >= first]
        assert values[0] == (100.0, 0)
        assert values.index((None, quality.BAD_NO_COMMUNICATION)) > 0
        assert values[-1] == (200.0, 0)


async def _bad(db: TestDb, key: str) -> bool:
    return any(q == quality.BAD_NO_COMMUNICATION for _, _, q in await rows_of(db, key))


@pytest.fixture
async def pki(tmp_path: Path) -> dict[str, Path]:
    host = socket.gethostname()
    files = {
        "server_cert": tmp_path / "server-cert.der",
        "server_key": tmp_path / "server-key.pem",
        "client_cert": tmp_path / "client-cert.der",
        "client_key": tmp_path / "client-key.pem",
    }
    await setup_self_signed_certificate(
        files["server_key"], files["server_cert"], "urn:knu-mes:test:server", host,
        [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "test server"},
    )  # fmt: skip
    await setup_self_signed_certificate(
        files["client_key"], files["client_cert"], "urn:knu-mes:gateway:test", host,
        [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "test gateway"},
    )  # fmt: skip
    return files


async def test_basic256sha256_with_user_and_password(
    pki: dict[str, Path],
    db: TestDb,
    settings: GatewaySettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = OpcuaTestServer(
        layout=LAYOUT,
        users={"operator": "s3cret-word"},
        security=(pki["server_cert"], pki["server_key"]),
    )
    await server.start()
    try:
        monkeypatch.setenv("TEST_OPCUA_PASSWORD", "s3cret-word")
        monkeypatch.setenv("TEST_OPCUA_WRONG", "nope")
        security = {
            "policy": "Basic256Sha256",
            "mode": "SignAndEncrypt",
            "certificate": str(pki["client_cert"]),
            "private_key": str(pki["client_key"]),
            "server_certificate": str(pki["server_cert"]),
        }
        good = opcua_device(server, browse=[], security=security, username="operator",
                            password_env="TEST_OPCUA_PASSWORD")  # fmt: skip
        node = f"nsu={server.uri};s=CNC.speed"
        wrong = {**good, "name": "CNC-wrong", "password_env": "TEST_OPCUA_WRONG",
                 "tags": [{"signal": "X.speed", "node": node}]}  # fmt: skip
        async with running_gateway(
            base_config([good, wrong]), settings, tmp_path / "gw.yaml"
        ) as gw:
            await server.write("CNC.speed", 42.0, source_ts=T0)
            await eventually(lambda: _has_ts(db, "CNC-1.speed", T0), what="encrypted data")
            await eventually(
                lambda: gw.links.links["CNC-wrong"].last_error is not None, what="refusal"
            )
            link = gw.links.links["CNC-wrong"]
            assert link.state in ("backoff", "disconnected")
            assert "refused" in (link.last_error or "")
            assert not await rows_of(db, "X.speed") or all(
                q < 0 for _, _, q in await rows_of(db, "X.speed")
            )
            endpoint = gw.devices["CNC"].connector
            assert endpoint.endpoint == server.endpoint
    finally:
        await server.stop()


def test_status_code_mapping_keeps_severity_and_subcode() -> None:
    assert quality.from_status_code(StatusCodes.Good) == 0
    assert quality.from_status_code(StatusCodes.UncertainLastUsableValue) == 0x4090
    assert quality.from_status_code(StatusCodes.BadNodeIdUnknown) == 0x8034 - 0x10000
