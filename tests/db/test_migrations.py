"""Migrations: empty -> head, head again (no-op), down to base and up again, models match."""

from __future__ import annotations

import psycopg

from db import migrate
from tests.support.databases import TestDb, telemetry_options


def schema_fingerprint(db: TestDb) -> list[tuple[str, ...]]:
    """Tables, columns, indexes and functions of the public schema."""
    with psycopg.connect(db.conninfo) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            " AND tablename !~ '^reading_p[0-9]{8}$' ORDER BY 1, 2"
        ).fetchall()
        functions = conn.execute(
            "SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc"
            " WHERE pronamespace = 'public'::regnamespace ORDER BY 1"
        ).fetchall()
    return [tuple(map(str, r)) for r in [*columns, *indexes, *functions]]


def test_upgrade_empty_database_reaches_head(empty_db: TestDb) -> None:
    assert migrate.current(empty_db.url) == set()
    migrate.upgrade(empty_db.url, telemetry_options())
    assert migrate.is_current(empty_db.url)
    with psycopg.connect(empty_db.conninfo) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
    assert {"signal", "reading_1m", "reading_1h", "telemetry_dirty", "audit_event"} <= tables


def test_upgrade_twice_changes_nothing(empty_db: TestDb) -> None:
    migrate.upgrade(empty_db.url, telemetry_options())
    before = schema_fingerprint(empty_db)
    migrate.upgrade(empty_db.url, telemetry_options())
    assert schema_fingerprint(empty_db) == before
    assert migrate.is_current(empty_db.url)


def test_downgrade_and_upgrade_round_trip(empty_db: TestDb) -> None:
    migrate.upgrade(empty_db.url, telemetry_options())
    first = schema_fingerprint(empty_db)
    migrate.downgrade(empty_db.url, revision="base")
    assert migrate.current(empty_db.url) == set()
    with psycopg.connect(empty_db.conninfo) as conn:
        left = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version'"
        ).fetchall()
    assert left == []
    migrate.upgrade(empty_db.url, telemetry_options())
    assert schema_fingerprint(empty_db) == first


def test_models_match_migrations(db: TestDb) -> None:
    """Every ORM model change has its migration (alembic check finds no difference)."""
    migrate.check(db.url)
