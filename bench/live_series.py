"""Chart query of 24 h of 1 Hz data on 10 signals (864,000 readings): the time-series layer's
bucket query over the rollups (as `/api/v1/series` runs it) against the same buckets computed
from raw readings, in the same run. Target: < 150 ms with rollups.

    python -m bench.live_series [--repeat 15]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.gateway_common import median, stack, table, write_result
from core.telemetry import query
from db.maintenance import run_maintenance
from tests.support.databases import TestDb

SIGNALS = 10
HOURS = 24


def load(db: TestDb, end: datetime) -> tuple[list[int], datetime]:
    """1 Hz readings of 10 signals for the 24 hours before `end`; the rollups are kept by the
    maintenance job as in production (the hours are marked dirty as a gateway marks them)."""
    start = end - timedelta(hours=HOURS)
    with psycopg.connect(db.conninfo) as conn:
        ids = []
        for n in range(SIGNALS):
            row = conn.execute(
                "INSERT INTO signal (key, name, equipment_code)"
                " VALUES (%s, %s, 'BENCH') RETURNING id",
                (f"BENCH.s{n}", f"s{n}"),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY reading (ts, signal_id, value, quality) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["timestamptz", "int4", "float8", "int2"])
            for second in range(HOURS * 3600):
                ts = start + timedelta(seconds=second)
                for i, signal_id in enumerate(ids):
                    copy.write_row((ts, signal_id, 50.0 + i + (second % 600) / 60.0, 0))
        hour = start
        while hour < end:
            conn.execute(
                "INSERT INTO telemetry_dirty (bucket, writer) VALUES (%s, 'bench')"
                " ON CONFLICT DO NOTHING",
                (hour,),
            )
            hour += timedelta(hours=1)
        conn.commit()
    return ids, start


async def timed(
    db: TestDb, ids: list[int], start: datetime, end: datetime, repeat: int
) -> dict[str, list[float]]:
    engine = create_async_engine(db.url)
    out: dict[str, list[float]] = {"rollups": [], "raw": []}
    try:
        async with engine.connect() as conn, AsyncSession(bind=conn) as session:
            for _ in range(repeat):
                for kind, resolution in (("rollups", None), ("raw", "raw")):
                    t0 = time.perf_counter()
                    rows, res, _ = await query.buckets(
                        session,
                        ids,
                        start,
                        end,
                        max_points=1000,
                        resolution=resolution,  # type: ignore[arg-type]
                    )
                    out[kind].append(time.perf_counter() - t0)
                    assert rows and (res != "raw") == (kind == "rollups")
    finally:
        await engine.dispose()
    return out


async def run(args: argparse.Namespace) -> None:
    with stack() as st:
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
        t0 = time.monotonic()
        ids, start = load(st.db, end)
        loaded = time.monotonic() - t0
        report = run_maintenance(st.db.conninfo, days_ahead=2, retention_days=400)
        times = await timed(st.db, ids, start, end, args.repeat)
    rollups, raw = median(times["rollups"]), median(times["raw"])
    print(
        table(
            f"24 h of 1 Hz data on {SIGNALS} signals, chart buckets (median of {args.repeat})",
            ["source", "median ms", "min ms", "max ms"],
            [
                [kind, f"{median(v) * 1000:.1f}", f"{min(v) * 1000:.1f}", f"{max(v) * 1000:.1f}"]
                for kind, v in times.items()
            ],
        )
    )
    print(f"raw / rollups: {raw / rollups:.1f}x")
    path = write_result(
        "live_series",
        {
            "unit": "seconds",
            "signals": SIGNALS,
            "hours": HOURS,
            "readings": SIGNALS * HOURS * 3600,
            "load_seconds": loaded,
            "hours_rolled_up": len(report.hours_refreshed),
            "repeat": args.repeat,
            "times": times,
            "median": {"rollups": rollups, "raw": raw},
            "ratio_raw_to_rollups": raw / rollups,
            "target_s": 0.15,
        },
    )
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=15)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
