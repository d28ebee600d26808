"""Signals, latest values, chart series (raw, LTTB, buckets from raw or rollups) and statistics."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from db.maintenance import run_maintenance
from tests.support.api import AsRoles
from tests.support.databases import TestDb

NOW = datetime.now(UTC).replace(microsecond=0)


def seed(db: TestDb, *, hours: int, keys: tuple[str, ...] = ("M1.temp", "M1.speed")) -> list[int]:
    """Signals with one reading per second for `hours` hours ending now; hours marked dirty."""
    start = NOW - timedelta(hours=hours)
    ids = []
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        for key in keys:
            row = conn.execute(
                "INSERT INTO signal (key, name, equipment_code, unit, protocol) "
                "VALUES (%s, %s, 'M1', 'degC', 'opcua') RETURNING id",
                (key, key.split(".")[1]),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
        with (
            conn.cursor() as cur,
            cur.copy("COPY reading (ts, signal_id, value, quality) FROM STDIN") as copy,
        ):
            for n, sid in enumerate(ids):
                for i in range(hours * 3600):
                    quality = -32768 if i % 1000 == 999 else 0  # some Bad readings
                    copy.write_row(
                        (start + timedelta(seconds=i), sid, float((i * (n + 1)) % 97), quality)
                    )
        hour = start.replace(minute=0, second=0)
        while hour < NOW:
            conn.execute(
                "INSERT INTO telemetry_dirty VALUES (%s, 'test') ON CONFLICT DO NOTHING", (hour,)
            )
            hour += timedelta(hours=1)
    return ids


def raw_values(db: TestDb, sid: int, start: datetime, end: datetime) -> list[float]:
    with psycopg.connect(db.conninfo) as conn:
        rows = conn.execute(
            "SELECT value FROM reading WHERE signal_id = %s AND ts >= %s AND ts < %s"
            " AND quality >= 0",
            (sid, start, end),
        ).fetchall()
    return [r[0] for r in rows]


async def test_buckets_from_rollups_equal_raw_aggregates(db: TestDb, as_roles: AsRoles) -> None:
    ids = seed(db, hours=8)
    run_maintenance(db.conninfo, days_ahead=2, retention_days=400)  # rolls up every hour
    start, end = NOW - timedelta(hours=8), NOW
    async with as_roles("operator") as client:
        r = await client.get(
            "/api/v1/series",
            params={
                "signal_id": ids,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "max_points": 100,
            },
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "buckets" and body["resolution"] == "1m"
    assert body["bucket_seconds"] == 300
    for series in body["series"]:
        assert len(series["buckets"]) <= 100
        assert sum(b["n"] for b in series["buckets"]) == len(
            raw_values(db, series["signal_id"], start, end)
        )
        first = series["buckets"][1]
        t0 = datetime.fromisoformat(first["ts"])
        values = raw_values(db, series["signal_id"], t0, t0 + timedelta(seconds=300))
        assert (first["n"], first["min"], first["max"]) == (len(values), min(values), max(values))
        assert first["avg"] == pytest.approx(statistics.fmean(values))


async def test_fresh_data_is_included_before_rollups_catch_up(
    db: TestDb, as_roles: AsRoles
) -> None:
    ids = seed(db, hours=5, keys=("M2.temp",))  # no maintenance run: rollups are empty
    start, end = NOW - timedelta(hours=5), NOW
    async with as_roles("operator") as client:
        r = await client.get(
            "/api/v1/series",
            params={
                "signal_id": ids,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "resolution": "1m",
            },
        )
    series = r.json()["series"][0]
    assert sum(b["n"] for b in series["buckets"]) == len(raw_values(db, ids[0], start, end))


async def test_raw_and_lttb_modes(db: TestDb, as_roles: AsRoles) -> None:
    ids = seed(db, hours=1, keys=("M3.temp",))
    start, end = NOW - timedelta(minutes=30), NOW
    params: dict[str, str | int | list[int]] = {
        "signal_id": ids,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "max_points": 50,
    }
    async with as_roles("engineer") as client:
        raw = (await client.get("/api/v1/series", params={**params, "mode": "raw"})).json()
        picked = (await client.get("/api/v1/series", params={**params, "mode": "lttb"})).json()
    assert len(raw["series"][0]["points"]) == 50 and raw["series"][0]["truncated"] is True
    points = picked["series"][0]["points"]
    assert len(points) == 50 and picked["series"][0]["truncated"] is False
    assert points[0]["ts"] == raw["series"][0]["points"][0]["ts"]
    assert datetime.fromisoformat(points[-1]["ts"]) == end - timedelta(seconds=1)


async def test_stats_match_python(db: TestDb, as_roles: AsRoles) -> None:
    ids = seed(db, hours=6, keys=("M4.temp",))
    run_maintenance(db.conninfo, days_ahead=2, retention_days=400)
    start, end = NOW - timedelta(hours=6), NOW
    async with as_roles("quality") as client:
        r = await client.get(
            "/api/v1/signals/stats",
            params={"signal_id": ids, "start": start.isoformat(), "end": end.isoformat()},
        )
    stats = r.json()[0]
    values = raw_values(db, ids[0], start, end)
    assert stats["n"] == len(values)
    assert (stats["min"], stats["max"]) == (min(values), max(values))
    assert stats["mean"] == pytest.approx(statistics.fmean(values))
    assert stats["std"] == pytest.approx(statistics.stdev(values), rel=1e-6)


async def test_signals_list_and_latest(db: TestDb, as_roles: AsRoles) -> None:
    ids = seed(db, hours=1, keys=("CNC-9.temp", "CNC-9.speed"))
    async with as_roles("operator") as client:
        page = (await client.get("/api/v1/signals", params={"q": "cnc-9"})).json()
        latest = (
            await client.get("/api/v1/signals/latest", params={"equipment_code": "M1"})
        ).json()
        one = await client.get(f"/api/v1/signals/{ids[0]}")
    assert page["total"] == 2
    assert one.json()["key"] == "CNC-9.temp"
    assert {p["key"] for p in latest} == {"CNC-9.temp", "CNC-9.speed"}
    assert all(datetime.fromisoformat(p["ts"]) == NOW - timedelta(seconds=1) for p in latest)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "query.end"),
        ({"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00Z"}, "query.start"),
        ({"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "query.end"),
        (
            {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "max_points": 1},
            "query.max_points",
        ),
        (
            {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "mode": "smooth"},
            "query.mode",
        ),
    ],
)
async def test_bad_series_requests_are_422(
    db: TestDb, as_roles: AsRoles, params: dict[str, str | int], field: str
) -> None:
    ids = seed(db, hours=1, keys=("M5.temp",))
    async with as_roles("operator") as client:
        r = await client.get("/api/v1/series", params={"signal_id": ids, **params})
    assert r.status_code == 422
    assert field in [d["field"] for d in r.json()["error"]["details"]]


async def test_unknown_signal_is_404(as_roles: AsRoles) -> None:
    async with as_roles("operator") as client:
        r = await client.get(
            "/api/v1/series",
            params={
                "signal_id": [424242],
                "start": "2026-01-01T00:00:00Z",
                "end": "2026-01-02T00:00:00Z",
            },
        )
        assert r.status_code == 404
        assert (await client.get("/api/v1/signals/424242")).status_code == 404
