"""MQTT end to end through a real Mosquitto: single and batched JSON payloads land in `reading`
with their timestamps and quality; malformed payloads are counted and never fatal; a broker
restart is recovered without action."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway import quality
from gateway.settings import GatewaySettings
from tests.gateway.servers import Publisher, publish_all
from tests.support.databases import TestDb
from tests.support.gateway import base_config, count_readings, eventually, readings, running_gateway
from tests.support.mosquitto import Broker, create_broker

T0 = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def mqtt_device(broker: Broker, client_id: str, **extra: Any) -> dict[str, Any]:
    device: dict[str, Any] = {
        "name": "line2",
        "protocol": "mqtt",
        "host": broker.host,
        "port": broker.port,
        "client_id": client_id,
        "backoff": {"initial_ms": 100, "max_ms": 1000},
        "subscriptions": [
            {
                "topic": "KNU/ASSY/L2/+/+",
                "qos": 1,
                "exclude": ["KNU/ASSY/L2/+/status", "KNU/ASSY/L2/+/batch"],
                "signal": "{3}.{4}",
                "equipment": "{3}",
                "value": "value",
                "timestamp": "ts",
                "quality": "q",
            },
            {
                "topic": "KNU/ASSY/L2/+/batch",
                "qos": 1,
                "batch": "values",
                "signal": "{3}.{signal}",
                "equipment": "{3}",
                "value": "value",
                "timestamp": "ts",
                "quality": "q",
            },
        ],
    }
    device.update(extra)
    return device


@pytest.fixture
def publisher(broker: Broker) -> Iterator[Publisher]:
    pub = Publisher(
        broker.host, broker.port, client_id=f"pub-{id(broker)}-{datetime.now().timestamp()}"
    )
    yield pub
    pub.close()


async def test_single_and_batched_payloads_with_timestamps_and_quality(
    broker: Broker, publisher: Publisher, db: TestDb, settings: GatewaySettings, tmp_path: Path
) -> None:
    device = mqtt_device(broker, f"gw-{db.name}")
    async with running_gateway(base_config([device]), settings, tmp_path / "gw.yaml") as gw:
        await eventually(lambda: gw.links.links["line2"].state == "connected", what="subscribed")
        single = [
            ("KNU/ASSY/L2/SCREW-203/torque", {"value": 12.5, "ts": iso(T0), "q": "good"}),
            ("KNU/ASSY/L2/SCREW-203/torque",
             {"value": 13.0, "ts": iso(T0 + timedelta(seconds=1)), "q": "uncertain"}),
            ("KNU/ASSY/L2/SCREW-203/angle", {"value": 90, "ts": iso(T0), "q": "bad"}),
            ("KNU/ASSY/L2/SCREW-203/state", {"value": True, "ts": iso(T0)}),
        ]  # fmt: skip
        batch = {
            "ts": iso(T0),
            "values": [
                {"signal": "leak_rate", "value": 0.12, "ts": iso(T0), "q": "good"},
                {"signal": "leak_rate", "value": 0.15, "ts": iso(T0 + timedelta(seconds=1))},
                {"signal": "pressure", "value": 4.5, "q": "BadSensorFailure"},  # message ts
            ],
        }
        items: list[tuple[str, bytes | str]] = [(t, orjson.dumps(p)) for t, p in single]
        items.append(("KNU/ASSY/L2/TEST-204/batch", orjson.dumps(batch)))
        items.append(("KNU/ASSY/L2/TEST-204/status", b"online"))  # excluded: not a reading
        await publish_all(publisher, items)
        await eventually(lambda: _total(db, 7), what="seven readings")
        got = {(k, ts, v, q) for k, ts, v, q in await readings(db)}
        assert got == {
            ("SCREW-203.torque", T0, 12.5, 0),
            ("SCREW-203.torque", T0 + timedelta(seconds=1), 13.0, quality.UNCERTAIN),
            ("SCREW-203.angle", T0, 90.0, quality.BAD),
            ("SCREW-203.state", T0, 1.0, 0),
            ("TEST-204.leak_rate", T0, 0.12, 0),
            ("TEST-204.leak_rate", T0 + timedelta(seconds=1), 0.15, 0),
            ("TEST-204.pressure", T0, 4.5, quality.from_text("BadSensorFailure")),
        }
        equipment = await _equipment(db)
        assert equipment == {
            "SCREW-203.torque": "SCREW-203",
            "SCREW-203.angle": "SCREW-203",
            "SCREW-203.state": "SCREW-203",
            "TEST-204.leak_rate": "TEST-204",
            "TEST-204.pressure": "TEST-204",
        }

        # malformed payloads: counted by reason, logged with the topic, never fatal
        bad: list[tuple[str, bytes | str]] = [
            ("KNU/ASSY/L2/SCREW-203/torque", b"{not json"),
            ("KNU/ASSY/L2/SCREW-203/torque", orjson.dumps({"ts": iso(T0)})),
            ("KNU/ASSY/L2/SCREW-203/torque", orjson.dumps({"value": 1, "ts": "yesterday"})),
            ("KNU/ASSY/L2/SCREW-203/torque", orjson.dumps({"value": [1], "ts": iso(T0)})),
            ("KNU/ASSY/L2/TEST-204/batch", orjson.dumps({"values": 5})),
            ("KNU/ASSY/L2/SCREW-203/torque",
             orjson.dumps({"value": 14.0, "ts": iso(T0 + timedelta(seconds=2))})),
        ]  # fmt: skip
        await publish_all(publisher, bad)
        await eventually(lambda: _total(db, 8), what="the good message after the bad ones")
        malformed = gw.devices["line2"].connector.malformed  # type: ignore[attr-defined]
        assert dict(malformed) == {
            "invalid_json": 1,
            "missing_value": 1,
            "bad_timestamp": 1,
            "bad_value": 1,
            "not_an_array": 1,
        }
        assert gw.links.links["line2"].state == "connected"


async def _total(db: TestDb, n: int) -> bool:
    return await count_readings(db) >= n


async def _equipment(db: TestDb) -> dict[str, str]:
    from tests.support.gateway import fetch

    return {k: e for k, e in await fetch(db, "SELECT key, equipment_code FROM signal")}


async def test_broker_restart_resumes(
    db: TestDb, settings: GatewaySettings, tmp_path: Path
) -> None:
    broker = create_broker()
    broker.start()
    try:
        device = mqtt_device(broker, "gw-restart")
        async with running_gateway(base_config([device]), settings, tmp_path / "gw.yaml") as gw:
            await eventually(lambda: gw.links.links["line2"].state == "connected", what="connect")
            pub = Publisher(broker.host, broker.port, "pub-restart")
            await publish_all(pub, [_msg(0)])
            pub.close()
            await eventually(lambda: _total(db, 1), what="first message")
            broker.stop()
            await eventually(lambda: gw.links.links["line2"].state != "connected", what="loss")
            await asyncio.to_thread(broker.start)
            await eventually(
                lambda: gw.links.links["line2"].state == "connected", what="reconnect", timeout=60
            )
            pub = Publisher(broker.host, broker.port, "pub-restart")
            await publish_all(pub, [_msg(n) for n in range(1, 51)])
            pub.close()
            await eventually(lambda: _value_count(db, 51), what="51 good readings")
            assert gw.links.links["line2"].reconnect_count == 1
            rows = [r for r in await readings(db, "PACK-205.count") if r[3] == 0]
            assert [r[2] for r in rows] == [float(n) for n in range(51)]
    finally:
        broker.kill()


def _msg(n: int) -> tuple[str, bytes]:
    return (
        "KNU/ASSY/L2/PACK-205/count",
        orjson.dumps({"value": n, "ts": iso(T0 + timedelta(seconds=n))}),
    )


async def _value_count(db: TestDb, n: int) -> bool:
    return len([r for r in await readings(db, "PACK-205.count") if r[3] == 0]) >= n
