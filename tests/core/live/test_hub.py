"""The WebSocket hub: snapshots first, coalescing per topic, slow clients dropped."""

from __future__ import annotations

import asyncio
from typing import Any

from core.live.hub import Hub, Message


class Recorder:
    """A client's socket: records what it was sent, optionally blocking until released."""

    def __init__(self, *, blocked: bool = False) -> None:
        self.messages: list[Message] = []
        self.gate = asyncio.Event()
        if not blocked:
            self.gate.set()
        self.arrived = asyncio.Condition()

    async def send(self, message: Message) -> None:
        await self.gate.wait()
        async with self.arrived:
            self.messages.append(message)
            self.arrived.notify_all()

    async def wait_for(self, count: int) -> list[Message]:
        async with asyncio.timeout(5), self.arrived:
            await self.arrived.wait_for(lambda: len(self.messages) >= count)
        return self.messages


async def snapshot_of(topic: str) -> dict[str, Any]:
    return {"values": {"temp": {"ts": "2026-01-01T00:00:00+00:00", "v": 20.0, "q": 0}}}


async def test_subscribers_get_a_snapshot_then_updates_and_others_nothing() -> None:
    hub = Hub()
    hub.provide("equipment/", snapshot_of)
    a, b = Recorder(), Recorder()
    ca, cb = hub.register(a.send), hub.register(b.send)
    tasks = [asyncio.create_task(ca.run()), asyncio.create_task(cb.run())]
    await hub.subscribe(ca, ["equipment/M1"])
    await hub.subscribe(cb, ["equipment/M2"])
    await a.wait_for(1)
    assert (
        hub.publish(
            "equipment/M1",
            {"values": {"temp": {"ts": "2026-01-01T00:00:01+00:00", "v": 21.0, "q": 0}}},
        )
        == 1
    )
    got = await a.wait_for(2)
    assert [m["type"] for m in got] == ["snapshot", "update"]
    assert got[1]["data"]["values"]["temp"]["v"] == 21.0
    await b.wait_for(1)
    assert [m["topic"] for m in b.messages] == ["equipment/M2"]  # its snapshot only
    for t in tasks:
        t.cancel()


async def test_a_slow_client_gets_coalesced_updates_and_never_blocks_others() -> None:
    hub = Hub(send_timeout=30)
    slow, fast = Recorder(blocked=True), Recorder()
    cs, cf = hub.register(slow.send), hub.register(fast.send)
    tasks = [asyncio.create_task(cs.run()), asyncio.create_task(cf.run())]
    await hub.subscribe(cs, ["kpi"])
    await hub.subscribe(cf, ["kpi"])
    for i in range(100):  # the fast client receives each update while the slow one is stuck
        hub.publish("kpi", {"values": {f"k{i % 5}": {"ts": i, "v": i}}, "seq": i})
        await fast.wait_for(i + 1)
    assert [m["data"]["seq"] for m in fast.messages] == list(range(100))
    slow.gate.set()  # the slow socket drains: the first update, then one merged message
    got = await slow.wait_for(2)
    await asyncio.sleep(0.05)
    assert len(slow.messages) == 2
    merged = got[-1]["data"]
    assert merged["seq"] == 99
    assert {k: v["v"] for k, v in merged["values"].items()} == {
        "k0": 95,
        "k1": 96,
        "k2": 97,
        "k3": 98,
        "k4": 99,
    }
    for t in tasks:
        t.cancel()


async def test_a_client_whose_send_hangs_is_dropped() -> None:
    hub = Hub(send_timeout=0.2)
    stuck, ok = Recorder(blocked=True), Recorder()
    cs, co = hub.register(stuck.send), hub.register(ok.send)
    stuck_task = asyncio.create_task(cs.run())
    ok_task = asyncio.create_task(co.run())
    await hub.subscribe(cs, ["alerts"])
    await hub.subscribe(co, ["alerts"])
    hub.publish("alerts", {"id": 1})
    await asyncio.wait_for(stuck_task, timeout=5)
    assert cs.dropped and cs.closed
    assert hub.publish("alerts", {"id": 2}) == 1  # only the healthy client is left
    assert [m["data"]["id"] for m in await ok.wait_for(2)] == [1, 2]
    ok_task.cancel()


async def test_updates_during_the_snapshot_are_merged_on_top() -> None:
    hub = Hub()
    release = asyncio.Event()

    async def slow_snapshot(topic: str) -> dict[str, Any]:
        await release.wait()
        return {"values": {"a": {"ts": 1, "v": "old"}, "b": {"ts": 1, "v": "b"}}}

    hub.provide("equipment/", slow_snapshot)
    rec = Recorder()
    client = hub.register(rec.send)
    task = asyncio.create_task(client.run())
    subscribing = asyncio.create_task(hub.subscribe(client, ["equipment/M9"]))
    await asyncio.sleep(0.01)
    hub.publish("equipment/M9", {"values": {"a": {"ts": 2, "v": "new"}}})
    await asyncio.sleep(0.01)
    release.set()
    await subscribing
    messages = await rec.wait_for(1)
    await asyncio.sleep(0.05)
    assert messages[0]["type"] == "snapshot"
    values = {k: v["v"] for k, v in messages[-1]["data"]["values"].items()}
    assert values == {"a": "new", "b": "b"}
    task.cancel()


async def test_unsubscribe_and_close_leave_no_subscribers() -> None:
    hub = Hub()
    rec = Recorder()
    client = hub.register(rec.send)
    await hub.subscribe(client, ["line/L1", "kpi"])
    hub.unsubscribe(client, ["kpi"])
    assert hub.topics() == ["line/L1"]
    client.close()
    assert hub.topics() == []
    assert hub.publish("line/L1", {"x": 1}) == 0
