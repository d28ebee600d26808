"""The telemetry schema on the back end this server offers, and its maintenance job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from db import telemetry_ddl
from db.maintenance import run_maintenance, telemetry_backend
from tests.support.databases import TestDb


def _add_signal(conn: psycopg.Connection, key: str) -> int:
    row = conn.execute(
        "INSERT INTO signal (key, name, equipment_code) VALUES (%s, %s, 'M1') RETURNING id",
        (key, key),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_backend_matches_what_the_server_offers(db: TestDb) -> None:
    """TimescaleDB is used exactly when the extension is available (checked, not skipped)."""
    with psycopg.connect(db.conninfo) as conn:
        available = conn.execute(telemetry_ddl.TIMESCALE_PROBE).fetchone() is not None
        backend = telemetry_backend(conn)
        if backend == "timescaledb":
            hypertables = conn.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables"
            ).fetchall()
            assert ("reading",) in hypertables
            caggs = {
                r[0]
                for r in conn.execute(
                    "SELECT view_name FROM timescaledb_information.continuous_aggregates"
                ).fetchall()
            }
            assert caggs == {"reading_1m", "reading_1h"}
        else:
            kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'reading'").fetchone()
            assert kind == ("p",)  # partitioned table
    assert backend == telemetry_ddl.choose_backend("auto", available)


def test_choose_backend_rules() -> None:
    assert telemetry_ddl.choose_backend("auto", True) == "timescaledb"
    assert telemetry_ddl.choose_backend("off", True) == "partitioned"
    with pytest.raises(RuntimeError, match="MES_TIMESCALEDB=on"):
        telemetry_ddl.choose_backend("on", False)
    with pytest.raises(ValueError, match="MES_TIMESCALEDB"):
        telemetry_ddl.choose_backend("maybe", True)


def test_reading_is_unique_per_signal_and_time(db: TestDb) -> None:
    ts = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(db.conninfo) as conn:
        sid = _add_signal(conn, "M1.temp")
        conn.execute("INSERT INTO reading VALUES (%s, %s, 1.0, 0)", (ts, sid))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO reading VALUES (%s, %s, 2.0, 0)", (ts, sid))


def test_partitions_made_ahead_and_late_rows_move_out_of_default(db: TestDb) -> None:
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        if telemetry_backend(conn) != "partitioned":
            pytest.fail("this server has TimescaleDB; the partition test covers the plain path")
        sid = _add_signal(conn, "M1.speed")
        far = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)  # no partition yet -> default
        conn.execute("INSERT INTO reading VALUES (%s, %s, 5.0, 0)", (far, sid))
        assert conn.execute("SELECT count(*) FROM reading_default").fetchone() == (1,)
        run_maintenance(db.conninfo, days_ahead=3, retention_days=400, today=far.date())
        assert conn.execute("SELECT count(*) FROM reading_default").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM reading_p20310304").fetchone() == (1,)
        for day in ("20310303", "20310305", "20310307"):
            assert conn.execute(f"SELECT to_regclass('reading_p{day}')").fetchone() != (None,)
        report = run_maintenance(db.conninfo, days_ahead=3, retention_days=400, today=far.date())
        assert report.partitions_created == 0  # idempotent


def test_retention_drops_old_partitions(db: TestDb) -> None:
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        if telemetry_backend(conn) != "partitioned":
            pytest.fail("retention on TimescaleDB is a policy; this test covers the plain path")
        conn.execute("SELECT mes_telemetry_ensure_partitions('2020-01-01', '2020-01-03')")
        report = run_maintenance(db.conninfo, days_ahead=1, retention_days=30)
        assert report.partitions_dropped >= 2
        assert conn.execute("SELECT to_regclass('reading_p20200101')").fetchone() == (None,)


def test_rollups_refresh_dirty_hours_and_match_raw(db: TestDb) -> None:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        sid = _add_signal(conn, "M1.current")
        rows = [(base + timedelta(seconds=i), sid, float(i % 60), 0) for i in range(7200)]
        rows.append((base + timedelta(seconds=30, milliseconds=500), sid, 1e9, -32768))  # Bad
        with (
            conn.cursor() as cur,
            cur.copy("COPY reading (ts, signal_id, value, quality) FROM STDIN") as cp,
        ):
            for r in rows:
                cp.write_row(r)
        conn.execute(
            "INSERT INTO telemetry_dirty (bucket, writer) VALUES (%s, 't'), (%s, 't')",
            (base, base + timedelta(hours=1)),
        )
        report = run_maintenance(db.conninfo, days_ahead=2, retention_days=400)
        assert report.hours_refreshed == [base, base + timedelta(hours=1)]
        assert conn.execute("SELECT count(*) FROM telemetry_dirty").fetchone() == (0,)
        minute = conn.execute(
            "SELECT n, vmin, vmax, vsum FROM reading_1m WHERE signal_id = %s AND bucket = %s",
            (sid, base),
        ).fetchone()
        assert minute == (60, 0.0, 59.0, float(sum(range(60))))  # the Bad value is left out
        hours = conn.execute(
            "SELECT bucket, n, vmin, vmax FROM reading_1h WHERE signal_id = %s ORDER BY bucket",
            (sid,),
        ).fetchall()
        assert hours == [(base, 3600, 0.0, 59.0), (base + timedelta(hours=1), 3600, 0.0, 59.0)]
        # late data for an hour already rolled up is picked up after the writer marks it again
        conn.execute(
            "INSERT INTO reading VALUES (%s, %s, 1000.0, 0)",
            (base + timedelta(minutes=5, milliseconds=1), sid),
        )
        conn.execute("INSERT INTO telemetry_dirty (bucket, writer) VALUES (%s, 't')", (base,))
        run_maintenance(db.conninfo, days_ahead=2, retention_days=400)
        assert conn.execute(
            "SELECT n, vmax FROM reading_1m WHERE signal_id = %s AND bucket = %s",
            (sid, base + timedelta(minutes=5)),
        ).fetchone() == (61, 1000.0)


def test_maintenance_runs_once_at_a_time(db: TestDb) -> None:
    from db.maintenance import LOCK_KEY

    with psycopg.connect(db.conninfo, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        assert run_maintenance(db.conninfo, days_ahead=2, retention_days=400).skipped
    assert not run_maintenance(db.conninfo, days_ahead=2, retention_days=400).skipped
