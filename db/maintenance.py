"""Telemetry upkeep: partitions ahead, retention, and rollups of the hours writers marked dirty.

Run by the API in the background (one replica at a time, by advisory lock) and by `mes db maintain`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg

LOCK_KEY = 0x4D45_5354  # advisory lock id shared by every maintainer ("MEST")
HOUR = timedelta(hours=1)


@dataclass
class MaintenanceReport:
    """What one run did."""

    backend: str = ""
    skipped: bool = False
    partitions_created: int = 0
    partitions_dropped: int = 0
    hours_refreshed: list[datetime] = field(default_factory=list)


def telemetry_backend(conn: psycopg.Connection) -> str:
    """'timescaledb' or 'partitioned', as chosen by the migration."""
    row = conn.execute("SELECT value FROM mes_meta WHERE key = 'telemetry_backend'").fetchone()
    if row is None:
        raise RuntimeError("telemetry schema missing: run `mes db upgrade` first")
    return str(row[0])


def _refresh_hour(conn: psycopg.Connection, backend: str, hour: datetime) -> None:
    if backend == "timescaledb":
        for view in ("reading_1m", "reading_1h"):
            conn.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", (view, hour, hour + HOUR))
    else:
        conn.execute("SELECT mes_telemetry_refresh(%s, %s)", (hour, hour + HOUR))


def refresh_dirty(conn: psycopg.Connection, backend: str, *, batch: int = 48) -> list[datetime]:
    """Refresh the rollups of every hour marked dirty; returns the hours refreshed.

    A marked hour is unmarked (in a short transaction) before it is refreshed, so a writer that
    marks it again meanwhile gets another refresh. Writers hold the mark's row lock until their
    rows commit, so the unmark waits for them and the refresh sees their rows.
    """
    done: list[datetime] = []
    while True:
        with conn.transaction():
            rows = conn.execute(
                "DELETE FROM telemetry_dirty WHERE bucket IN ("
                " SELECT DISTINCT bucket FROM telemetry_dirty ORDER BY bucket LIMIT %s)"
                " RETURNING bucket",
                (batch,),
            ).fetchall()
        hours = sorted({r[0] for r in rows})
        if not hours:
            return done
        for n, hour in enumerate(hours):
            try:
                _refresh_hour(conn, backend, hour)
            except Exception:
                with conn.transaction():  # put back what was not refreshed
                    conn.cursor().executemany(
                        "INSERT INTO telemetry_dirty (bucket, writer) VALUES (%s, 'maintenance')"
                        " ON CONFLICT DO NOTHING",
                        [(h,) for h in hours[n:]],
                    )
                raise
            done.append(hour)


def mark_dirty(conninfo: str, hours: list[datetime], *, writer: str = "maintenance") -> None:
    """Mark `hours` for another refresh (rollups and hour hooks)."""
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO telemetry_dirty (bucket, writer) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(h, writer) for h in hours],
        )


def run_maintenance(
    conninfo: str, *, days_ahead: int, retention_days: int, today: date | None = None
) -> MaintenanceReport:
    """One maintenance pass; skipped when another process holds the maintenance lock."""
    today = today or datetime.now(UTC).date()
    report = MaintenanceReport()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        if not (locked and locked[0]):
            report.skipped = True
            return report
        try:
            report.backend = telemetry_backend(conn)
            if report.backend == "partitioned":
                made = conn.execute(
                    "SELECT mes_telemetry_ensure_partitions(%s, %s)",
                    (today - timedelta(days=1), today + timedelta(days=days_ahead + 1)),
                ).fetchone()
                dropped = conn.execute(
                    "SELECT mes_telemetry_drop_partitions(%s)",
                    (today - timedelta(days=retention_days),),
                ).fetchone()
                report.partitions_created = int(made[0]) if made else 0
                report.partitions_dropped = int(dropped[0]) if dropped else 0
            report.hours_refreshed = refresh_dirty(conn, report.backend)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return report
