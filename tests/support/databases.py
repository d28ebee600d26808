"""Per-test databases cloned from a migrated template on the session cluster."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import psycopg

from db import migrate
from tests.support.postgres import PgCluster


@dataclass(frozen=True)
class TestDb:
    """A database on the test cluster and the settings that reach it."""

    __test__ = False  # not a test class

    cluster: PgCluster
    name: str

    @property
    def conninfo(self) -> str:
        """libpq string (superuser)."""
        return self.cluster.conninfo(self.name)

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3)."""
        c = self.cluster
        return f"postgresql+psycopg://{c.user}:{c.password}@{c.host}:{c.port}/{self.name}"

    @property
    def overrides(self) -> dict[str, Any]:
        """Keyword overrides for any DatabaseSettings subclass."""
        c = self.cluster
        return {
            "db_host": c.host,
            "db_port": c.port,
            "db_name": self.name,
            "db_user": c.user,
            "db_password": c.password,
        }

    @property
    def env(self) -> dict[str, str]:
        """The same as MES_DB_* environment variables (for subprocesses)."""
        return {f"MES_{k.upper()}": str(v) for k, v in self.overrides.items()}


def telemetry_options(mode: str = "auto") -> migrate.TelemetryOptions:
    """Migration options as env.sh sets them."""
    return migrate.TelemetryOptions(timescaledb=mode, retention_days=400, compress_after_days=7)


def create_database(cluster: PgCluster, *, template: str | None = None) -> TestDb:
    """A new database, empty or cloned from `template`."""
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    return TestDb(cluster=cluster, name=name)


def drop_database(db: TestDb) -> None:
    """Drop it, closing any connection still open."""
    with psycopg.connect(db.cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')


def migrated_template(cluster: PgCluster, name: str = "mes_template") -> str:
    """Create `name` and migrate it to the newest revision; returns its name."""
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(TestDb(cluster=cluster, name=name).url, telemetry_options())
    return name
