"""Acceptance of the live MES: the simulated demo plant, the edge gateway and the API together.

The simulators start an hour in the past and run fast until they reach the present, then at
real speed (the plant's own clock never runs ahead of the wall clock, as real machines'):

- the past hour is history: OEE of several machines must match a hand computation from the
  simulator's ground-truth event log (and its own truth module) within 1 percentage point;
- in the present, counters advance the demo's running work order, a machine the simulator
  breaks down becomes automatic downtime (with its reason from a rule, its end when the repair
  ends), and dashboards receive the updates over the WebSocket.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.auth.principal import Role
from core.db import Database
from core.demo import loader
from simulators.truth import machine_truth
from tests.core.live.processes import ApiProcess
from tests.core.live.sockets import LiveClient
from tests.support.api import api_settings
from tests.support.databases import TestDb
from tests.support.gateway import GatewayProcess
from tests.support.keycloak import TestRealm
from tests.support.mosquitto import Broker
from tests.support.simulators import SimProcess

pytestmark = [pytest.mark.keycloak, pytest.mark.slow]

SPEED = 40.0
HISTORY = timedelta(minutes=60)
WINDOW = (timedelta(minutes=5), timedelta(minutes=55))  # compared stretch of the history
COMPARED = ("ROBOT-202", "SCREW-203", "TEST-204", "WASH-105")  # OPC UA and MQTT machines
TOLERANCE = 0.01
MICRO_STOP_S = 120.0  # env.sh's MES_LIVE_MICRO_STOP_S, which the API process uses
BROKEN = "CNC-101"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def until(check: Callable[[], Any], what: str, within: float = 120) -> Any:
    """Poll a (blocking) check until it returns something truthy; return it."""
    deadline = time.monotonic() + within
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.5)


# --- the hand computation ---


def stop_class(state: str, reason: str) -> str | None:
    """The stop class of a simulator state (as the MES should classify it)."""
    if state == "running":
        return None
    if state == "maintenance":
        return "breakdown" if reason.startswith("repair") else "planned"
    return "breakdown" if state == "down" else state


def hand_oee(
    events: list[dict[str, Any]], machine: str, w0: float, w1: float, ideal: float
) -> dict[str, float]:
    """OEE of `machine` over simulated seconds [w0, w1) from the event log: stops shorter
    than the minor-stop threshold count as operating time (performance loss)."""
    changes = [
        (e["t"], e["to"], e["reason"])
        for e in events
        if e["type"] == "state" and e.get("machine") == machine
    ]
    spans = [
        (t, changes[i + 1][0] if i + 1 < len(changes) else float("inf"), to, reason)
        for i, (t, to, reason) in enumerate(changes)
    ]
    stops: list[list[Any]] = []  # [start, end, class]
    run = 0.0
    for a, b, state, reason in spans:
        cls = stop_class(state, reason)
        if cls is None:
            run += max(0.0, min(b, w1) - max(a, w0))
        elif stops and stops[-1][2] == cls and stops[-1][1] == a:
            stops[-1][1] = b
        else:
            stops.append([a, b, cls])
    minor = planned_stop = 0.0
    for a, b, cls in stops:
        inside = max(0.0, min(b, w1) - max(a, w0))
        if cls == "planned":
            planned_stop += inside
        elif b - a < MICRO_STOP_S:
            minor += inside
    cycles = [
        e for e in events if e["type"] == "cycle" and e["machine"] == machine and w0 <= e["t"] < w1
    ]
    good = sum(1 for e in cycles if e["good"])
    planned, operating = (w1 - w0) - planned_stop, run + minor
    return {
        "availability": operating / planned,
        "performance": ideal * len(cycles) / operating,
        "quality": good / len(cycles),
        "oee": operating / planned * ideal * len(cycles) / operating * good / len(cycles),
    }


# --- the plant ---


@pytest.fixture
async def demo_db(db: TestDb) -> TestDb:
    """The test database with the demo plant's master data and orders."""
    database = Database(api_settings(db), pool_size=2)
    try:
        async with database.sessions() as session:
            await loader.load(session)
    finally:
        await database.dispose()
    return db


@pytest.fixture
def api(demo_db: TestDb, realm: TestRealm, tmp_path: Path) -> Iterator[ApiProcess]:
    process = ApiProcess(
        demo_db,
        realm,
        tmp_path / "api.log",
        env={
            "MES_LIVE_STALE_S": "86400",
            "MES_LIVE_ENGINE_INTERVAL": "0.5",
            "MES_LIVE_KPI_INTERVAL": "2",
        },
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def origin() -> datetime:
    """Where the simulated clock starts: a whole minute, an hour ago."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - HISTORY


def prepare(api: ApiProcess, realm: TestRealm) -> dict[str, int]:
    """Around-the-clock shifts for the lines and an alarm rule for the machine that will break;
    the equipment ids by code."""
    admin = realm.token_for(Role.ADMIN)
    ids = {e["code"]: e["id"] for e in api.get("/api/v1/equipment", admin, limit=500)["items"]}
    reasons = {
        r["code"]: r["id"] for r in api.get("/api/v1/downtime/reasons", admin, limit=500)["items"]
    }
    with api.client(admin) as c:
        r = c.post(
            "/api/v1/calendar/shift-patterns",
            json={
                "code": "E2E-24-7",
                "name": "Around the clock",
                "timezone": "UTC",
                "shifts": [
                    {
                        "code": "D",
                        "name": "Day",
                        "start": "00:00",
                        "end": "12:00",
                        "days": [1, 2, 3, 4, 5, 6, 7],
                    },
                    {
                        "code": "N",
                        "name": "Night",
                        "start": "12:00",
                        "end": "00:00",
                        "days": [1, 2, 3, 4, 5, 6, 7],
                    },
                ],
            },
        )
        assert r.status_code == 201, r.text
        pattern = r.json()["id"]
        for line in ("L1", "L2"):
            r = c.post(
                "/api/v1/calendar/assignments",
                json={
                    "equipment_id": ids[line],
                    "pattern_id": pattern,
                    "valid_from": (datetime.now(UTC) - timedelta(days=2)).date().isoformat(),
                },
            )
            assert r.status_code == 201, r.text
        r = c.post(
            "/api/v1/equipment-states/downtime-rules",
            json={
                "equipment_id": ids[BROKEN],
                "stop_class": "breakdown",
                "alarm_code": 209,
                "reason_id": reasons["BD-MECH"],
            },
        )
        assert r.status_code == 201, r.text
    return ids


@pytest.fixture
async def plant(
    api: ApiProcess,
    realm: TestRealm,
    broker: Broker,
    demo_db: TestDb,
    origin: datetime,
    tmp_path: Path,
) -> AsyncIterator[tuple[SimProcess, GatewayProcess, dict[str, int]]]:
    ids = await asyncio.to_thread(prepare, api, realm)
    sim = SimProcess(
        broker=broker, scenario="demo", seed=11, speed=SPEED, start_time=origin.isoformat()
    )
    gateway: GatewayProcess | None = None
    try:
        await asyncio.to_thread(sim.start)
        config = sim.gateway_config()
        config["gateway"]["heartbeat_s"] = (
            86400  # heartbeats carry the gateway's clock, not the plant's
        )
        config["batch"]["max_delay_ms"] = 100
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        env = {**sim.env, **demo_db.env, "MES_GATEWAY_SPOOL_DIR": str(tmp_path / "spool")}
        gateway = GatewayProcess(path, env, tmp_path / "gateway.log")
        await asyncio.to_thread(gateway.start)
        await asyncio.to_thread(short_minor_stops, api, realm, ids[BROKEN])
        yield sim, gateway, ids
    finally:
        if gateway is not None:
            await asyncio.to_thread(gateway.stop)
        await asyncio.to_thread(sim.stop)
        shutil.rmtree(sim.workdir, ignore_errors=True)


def short_minor_stops(api: ApiProcess, realm: TestRealm, equipment_id: int) -> None:
    """Once the gateway registered the machine's signals: stops of 10 s are downtime."""
    token = realm.token_for(Role.ENGINEER)
    deadline = time.monotonic() + 60
    while not api.get("/api/v1/signals", token, equipment_code=BROKEN)["total"]:
        assert time.monotonic() < deadline, "the gateway did not register the signals"
        time.sleep(0.2)
    with api.client(token) as c:
        r = c.put(f"/api/v1/equipment-states/{equipment_id}/config", json={"micro_stop_s": 10})
    assert r.status_code == 200, r.text


def caught_up(sim: SimProcess) -> bool:
    """Slow the plant to real speed once its clock is within 10 s of the wall clock."""
    lag = (datetime.now(UTC) - at(sim.status()["sim_ts"])).total_seconds()
    if lag <= 10:
        sim.set_speed(1)
        return True
    return False


async def test_the_live_mes_on_the_simulated_demo_plant(
    plant: tuple[SimProcess, GatewayProcess, dict[str, int]],
    api: ApiProcess,
    realm: TestRealm,
    origin: datetime,
) -> None:
    sim, _, ids = plant

    def get(path: str, **params: Any) -> Any:
        """GET as the supervisor, with a token valid for a minute more (the test outlives one)."""
        return api.get(path, realm.token_for(Role.SUPERVISOR), **params)

    async with LiveClient.open(
        api.address,
        realm.token_for(Role.OPERATOR),
        renew=lambda: realm.fresh_token_for(Role.OPERATOR),
    ) as client:
        await client.subscribe("kpi", "work-orders", "alerts", f"equipment/{BROKEN}", "line/L2")
        await until(lambda: caught_up(sim), "the plant's clock to reach the present", within=300)

        # --- history: OEE against the ground truth ---
        w0, w1 = origin + WINDOW[0], origin + WINDOW[1]

        def processed() -> bool:
            states = get("/api/v1/equipment-states", limit=100)["items"]
            reach = {s["equipment_code"]: s["data_ts"] for s in states}
            return all(reach.get(m) and at(reach[m]) > w1 + timedelta(minutes=2) for m in COMPARED)

        await until(processed, "the engine to derive the compared history", within=240)

        def stable_oee() -> dict[str, dict[str, Any]] | None:
            first = {
                m: get(
                    f"/api/v1/oee/equipment/{ids[m]}",
                    start=w0.isoformat(),
                    end=w1.isoformat(),
                )
                for m in COMPARED
            }
            time.sleep(2)
            second = {
                m: get(
                    f"/api/v1/oee/equipment/{ids[m]}",
                    start=w0.isoformat(),
                    end=w1.isoformat(),
                )
                for m in COMPARED
            }
            return second if first == second else None

        measured = await until(stable_oee, "OEE of the history to settle", within=120)
        events = sim.events()
        ideal = {m["code"]: float(m["ideal_cycle_s"]) for m in events[0]["machines"]}
        t0, t1 = (w0 - origin).total_seconds(), (w1 - origin).total_seconds()
        for machine in COMPARED:
            hand = hand_oee(events, machine, t0, t1, ideal[machine])
            truth = machine_truth(events, machine, t0, t1)
            got = measured[machine]
            for factor in ("availability", "performance", "quality", "oee"):
                assert got[factor] == pytest.approx(hand[factor], abs=TOLERANCE), (
                    machine,
                    factor,
                    got,
                    hand,
                )
            assert got["oee"] == pytest.approx(truth.oee, abs=TOLERANCE), (machine, truth)
            assert got["planned_production_s"] == pytest.approx(t1 - t0, abs=2)

        # --- the present: counters advance the running work order ---
        orders = get("/api/v1/work-orders", status="in_progress", q="PUMP", limit=10)["items"]
        order = next(o for o in orders if o["line_code"] == "L2")

        def robot_counted() -> int:
            counts = get(f"/api/v1/production/work-orders/{order['id']}/counts")
            return sum(c["reported_good"] for c in counts if c["equipment_code"] == "ROBOT-202")

        before = await asyncio.to_thread(robot_counted)
        reported = await until(
            lambda: (n := robot_counted()) >= before + 2 and n,
            "counted parts on ROBOT-202",
            within=120,
        )
        detail = get(f"/api/v1/work-orders/{order['id']}")
        robot_op = next(op for op in detail["operations"] if op["equipment_code"] == "ROBOT-202")
        manual = sum(
            r["good_quantity"]
            for r in get(
                f"/api/v1/work-orders/{order['id']}/reports",
                source="manual",
                operation_id=robot_op["id"],
                limit=500,
            )["items"]
        )
        assert robot_op["good_quantity"] >= manual + reported
        update = await client.until("update", "work-orders", within=60)
        while order["code"] not in update["data"]["values"]:
            update = await client.until("update", "work-orders", within=60)

        # --- the present: a breakdown becomes automatic downtime ---
        await asyncio.to_thread(sim.command, BROKEN, "fail", response=5, duration=10)
        failure = await sim.await_event(
            lambda e: e["type"] == "failure" and e.get("machine") == BROKEN, within=30
        )

        def auto_event() -> dict[str, Any] | None:
            found = get(
                "/api/v1/downtime/events",
                equipment_id=ids[BROKEN],
                source="auto",
                sort="-start_ts",
                limit=5,
            )["items"]
            return next(
                (
                    e
                    for e in found
                    if abs((at(e["start_ts"]) - at(failure["ts"])).total_seconds()) <= 2
                ),
                None,
            )

        event = await until(auto_event, "automatic downtime of the broken machine", within=90)
        assert event["reason_code"] == "BD-MECH"  # the rule for alarm 209 (a commanded failure)
        alert = await client.until("update", "alerts", within=60)
        while not any(
            v.get("kind") == "downtime" and v.get("equipment") == BROKEN
            for v in alert["data"]["values"].values()
        ):
            alert = await client.until("update", "alerts", within=60)
        repaired = await sim.await_event(
            lambda e: e["type"] == "maintenance_end" and e.get("machine") == BROKEN, within=60
        )

        def closed() -> dict[str, Any] | None:
            found = get(f"/api/v1/downtime/events/{event['id']}")
            return found if found["end_ts"] else None

        ended = await until(closed, "the breakdown to end with the repair", within=90)
        assert abs((at(ended["end_ts"]) - at(repaired["ts"])).total_seconds()) <= 2
        status = await client.until("update", f"equipment/{BROKEN}", within=60)
        assert "status" in status["data"] or "values" in status["data"]

        # --- current-shift OEE is live on the kpi topic ---
        # entries computed from now on (the inbox still holds ones from the replay's start, when
        # the plant's data had not reached this shift yet: those carry no OEE and say why)
        since = datetime.now(UTC) - timedelta(seconds=1)  # `ts` may be rounded
        deadline = time.monotonic() + 120
        values: dict[str, Any] = {}

        def fresh_robot() -> dict[str, Any] | None:
            robot = values.get("equipment/ROBOT-202")
            return robot if robot is not None and at(robot["ts"]) >= since else None

        while (robot := fresh_robot()) is None or (
            not (robot["oee"] or 0) > 0 and time.monotonic() < deadline
        ):  # a shift that began seconds ago may have no finished part yet: OEE 0, then more
            values |= (await client.until("update", "kpi", within=60))["data"]["values"]
        assert {"line/L2", "site/KNU"} <= set(values)
        assert values["line/L2"]["window"]["kind"] == "shift"
        assert robot["reason"] is None, robot
        assert 0 < robot["oee"] <= 1.05, robot
