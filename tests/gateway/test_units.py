"""Pure parts of the gateway, without I/O: report-by-exception, batching, the spool and its file
format, Modbus block planning and decoding, MQTT mapping, live payloads."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import quality
from gateway.config.models import MqttSubscription
from gateway.connectors.modbus_codec import Point, decode, plan_blocks
from gateway.connectors.mqtt_mapping import Malformed, Mapper, keyer, topic_matches
from gateway.pipeline import Batch, Batcher, ReportByException
from gateway.records import Deadband, Record
from gateway.sinks import codec, live
from gateway.sinks.spool import Spool

T = datetime(2026, 1, 1, tzinfo=UTC)


def rec(signal: str, value: float | str | None, q: int = 0, at: float = 0) -> Record:
    ts = T + timedelta(seconds=at)
    return Record(signal, ts, ts, value, q)


# --- report-by-exception -------------------------------------------------------------------------


def test_polled_signals_are_written_on_change_beyond_the_deadband() -> None:
    rbe = ReportByException(heartbeat_s=60)
    rbe.set_deadband("p", Deadband(kind="percent", value=10))
    values = [100.0, 105.0, 109.0, 111.0, 111.0, 90.0]
    passed = rbe.filter([rec("p", v, at=n) for n, v in enumerate(values)])
    assert [r.value for r in passed] == [100.0, 111.0, 90.0]
    assert rbe.suppressed == 3
    # without a deadband: any change, and a quality change even with the same value
    passed = rbe.filter([rec("x", 1.0), rec("x", 1.0), rec("x", 1.0, q=quality.BAD), rec("x", 2.0)])
    assert [(r.value, r.quality) for r in passed] == [(1.0, 0), (1.0, -32768), (2.0, 0)]


def test_heartbeat_writes_the_suppressed_value_or_repeats_the_last() -> None:
    rbe = ReportByException(heartbeat_s=10)
    rbe.filter([rec("p", 1.0), rec("p", 1.0, at=1)])  # the second is suppressed, kept pending
    rbe.set_filtered("d", False)  # a source reporting by exception
    rbe.filter([rec("d", 7.0)])
    now = T + timedelta(seconds=30)
    assert rbe.due(now=0.0, wall=T) == []  # nothing is due yet
    due = rbe.due(now=1e9, wall=now)
    by_key = {r.signal: r for r in due}
    assert by_key["p"].ts == T + timedelta(seconds=1)  # the suppressed reading, its own time
    assert (by_key["d"].ts, by_key["d"].value) == (now, 7.0)  # repeated at the current time
    assert rbe.due(now=1e9, wall=now) == []  # written: not due again at once


def test_sources_that_report_by_exception_pass_unfiltered() -> None:
    rbe = ReportByException(heartbeat_s=60)
    rbe.set_filtered("s", False)
    passed = rbe.filter([rec("s", 1.0, at=n) for n in range(5)])
    assert len(passed) == 5 and rbe.suppressed == 0


# --- batching ------------------------------------------------------------------------------------


async def test_batcher_triggers_and_acknowledgement_order() -> None:
    got: list[Batch] = []
    batcher = Batcher(max_rows=3, max_delay=0.2, deliver=got.append, idle=0.01)
    acked: list[int] = []
    batcher.add([rec("a", 1.0), rec("a", 2.0), rec("a", 3.0), rec("a", 4.0)])
    assert [len(b.records) for b in got] == [4]  # size trigger (a message is never split)
    batcher.add([rec("a", 5.0)])
    await asyncio.sleep(0.3)
    assert [len(b.records) for b in got] == [4, 1]  # time trigger
    batcher.add([], lambda: acked.append(1))
    batcher.add([rec("a", 6.0)], lambda: acked.append(2))
    await asyncio.sleep(0.05)
    assert len(got) == 3  # idle trigger: acknowledgements are not held for the whole delay
    got[2].acknowledge()
    assert acked == [1, 2]


# --- spool ---------------------------------------------------------------------------------------


def test_spool_keeps_order_across_restarts_and_drops_the_oldest(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    payloads = [codec.encode([rec(f"s{n}", float(n))], {}) for n in range(3)]
    for data in payloads:
        assert spool.append(data, 1).batches == 0
    (tmp_path / "0000000000000099-1.tmp").write_bytes(b"partial")  # an interrupted write
    again = Spool(tmp_path, max_bytes=10_000)
    assert len(again) == 3 and not list(tmp_path.glob("*.tmp"))
    entry = again.oldest()
    assert entry is not None
    assert codec.decode(again.read(entry))[0][0].signal == "s0"
    again.remove(entry)
    assert again.rows == 2
    small = Spool(tmp_path / "small", max_bytes=len(payloads[0]) * 2)
    small.append(payloads[0], 1)
    busy = small.oldest()  # being replayed: protected from the overflow policy
    small.append(payloads[1], 1)
    dropped = small.append(payloads[2], 1)
    assert (dropped.batches, dropped.rows) == (1, 1)
    assert busy is not None and busy.path.exists()
    assert small.bytes <= small.max_bytes
    with pytest.raises(OSError):
        small.append(b"x" * (small.max_bytes + 1), 1)


def test_corrupt_spool_files_are_detected() -> None:
    data = bytearray(codec.encode([rec("a", 1.0)], {}))
    data[-1] ^= 0xFF
    with pytest.raises(codec.SpoolFormatError):
        codec.decode(bytes(data))
    with pytest.raises(codec.SpoolFormatError):
        codec.decode(bytes(data[:10]))


values = st.one_of(
    st.none(), st.floats(allow_nan=False), st.text(max_size=20), st.integers(-1000, 1000).map(float)
)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "CNC-101.spindle_speed"]),
            st.integers(-(10**12), 10**15),
            values,
            st.integers(-32768, 32767),
        ),
        max_size=50,
    )
)
def test_spool_format_round_trips(rows: list[tuple[str, int, object, int]]) -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    records = [
        Record(k, epoch + timedelta(microseconds=us), T, v, q)  # type: ignore[arg-type]
        for k, us, v, q in rows
    ]
    back, _ = codec.decode(codec.encode(records, {}))
    assert [(r.signal, r.ts, r.value, r.quality) for r in back] == [
        (r.signal, r.ts, r.value, r.quality) for r in records
    ]


# --- Modbus --------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2000), st.sampled_from([1, 2, 4])), min_size=1, max_size=60),
    st.integers(0, 20),
    st.integers(4, 125),
)
def test_block_plan_covers_every_point_within_the_limits(
    spans: list[tuple[int, int]], gap: int, limit: int
) -> None:
    points = [Point(f"p{n}", "holding", a, size, "uint16") for n, (a, size) in enumerate(spans)]
    blocks = plan_blocks(points, max_gap=gap, max_block=limit)
    covered = [p.key for b in blocks for p in b.points]
    assert sorted(covered) == sorted(p.key for p in points)
    for block in blocks:
        assert block.count <= max(limit, max(p.size for p in block.points))
        for p in block.points:
            assert block.address <= p.address and p.address + p.size <= block.address + block.count


def test_decoding_orders_and_types() -> None:
    raw = struct.pack(">d", -1234.5)
    regs = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, 8, 2)]
    assert decode(Point("x", "holding", 0, 4, "float64"), regs) == -1234.5
    assert (
        decode(Point("x", "holding", 0, 4, "float64", word_order="little"), regs[::-1]) == -1234.5
    )
    assert decode(Point("x", "holding", 0, 1, "int16"), [0xFFFF]) == -1.0
    assert decode(Point("x", "holding", 0, 2, "uint32", byte_order="little", word_order="little"),
                  [0x0100, 0x0000]) == 1.0  # fmt: skip
    assert (
        decode(Point("x", "holding", 0, 2, "string", byte_order="little"), [0x4241, 0x0043])
        == "ABC"
    )


# --- MQTT ----------------------------------------------------------------------------------------


topics = st.lists(st.sampled_from(["a", "b", "KNU", "x1"]), min_size=1, max_size=5).map("/".join)
filters = st.lists(st.sampled_from(["a", "b", "+", "KNU"]), min_size=1, max_size=5).map(
    "/".join
) | st.lists(st.sampled_from(["a", "+"]), max_size=3).map(lambda p: "/".join([*p, "#"]))


@settings(max_examples=300, deadline=None)
@given(filters, topics)
def test_topic_matching_agrees_with_paho(pattern: str, topic: str) -> None:
    assert topic_matches(pattern, topic) == paho.topic_matches_sub(pattern, topic)


def test_keys_from_templates_and_malformed_payloads() -> None:
    assert keyer("{3}.{4}", "K/A/L/M-1/temp", ["K", "A", "L", "M-1", "temp"])({}) == "M-1.temp"
    with pytest.raises(Malformed):
        keyer("{9}.x", "a/b", ["a", "b"])
    mapper = Mapper(
        [MqttSubscription(topic="p/+", signal="{1}.v", value="data.0.v", timestamp="t")],
        equipment="EQ",
        meta=lambda key: {"unit": "bar"},
    )
    records, new = mapper.map("p/M", orjson.dumps({"data": [{"v": "3.5"}], "t": 1767225600}), T)
    assert [(r.signal, r.value, r.ts) for r in records] == [("M.v", 3.5, T)]
    assert (new[0].equipment_code, new[0].unit, new[0].protocol) == ("EQ", "bar", "mqtt")
    for payload, reason in [
        (b"[1,", "invalid_json"),
        (orjson.dumps({"t": 1}), "missing_value"),
        (orjson.dumps({"data": [{"v": {"x": 1}}]}), "bad_value"),
        (orjson.dumps({"data": [{"v": 1}], "t": "noon"}), "bad_timestamp"),
    ]:
        with pytest.raises(Malformed) as caught:
            mapper.map("p/M", payload, T)
        assert caught.value.reason == reason
    assert mapper.map("q/other", b"{}", T) == ([], [])  # no route: not a reading


# --- live path -----------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**6), values), max_size=600))
def test_live_payloads_fit_notify_and_carry_everything(items: list[tuple[int, object]]) -> None:
    latest = [(sid, T, v, 0) for sid, v in items]
    parts = live.payloads("edge-1", latest)  # type: ignore[arg-type]
    assert all(len(p.encode()) < 8000 for p in parts)
    rows = [row for p in parts for row in orjson.loads(p)["r"]]
    assert [r[0] for r in rows] == [sid for sid, _ in items]
