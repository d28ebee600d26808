"""Programmatic Alembic: upgrade, downgrade, current and check, with no alembic.ini."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, kw_only=True)
class TelemetryOptions:
    """Choices the telemetry migration needs (from MES_TIMESCALEDB and MES_TELEMETRY_*)."""

    timescaledb: str
    retention_days: int
    compress_after_days: int


def alembic_config(url: str, options: TelemetryOptions | None = None) -> Config:
    """An Alembic config for the database at `url` (SQLAlchemy URL)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    cfg.attributes["url"] = url
    if options is not None:
        cfg.attributes.update(asdict(options))
    return cfg


def upgrade(url: str, options: TelemetryOptions, *, revision: str = "heads") -> None:
    """Bring the schema to `revision` (all heads by default); a no-op when already there."""
    command.upgrade(alembic_config(url, options), revision)


def downgrade(url: str, *, revision: str = "base") -> None:
    """Step the schema down to `revision`."""
    command.downgrade(alembic_config(url), revision)


def heads() -> set[str]:
    """Revision ids of the newest migrations in the repository."""
    return set(ScriptDirectory.from_config(alembic_config("postgresql://")).get_heads())


def current(url: str) -> set[str]:
    """Revision ids the database is at (empty when never migrated)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def is_current(url: str) -> bool:
    """True when the database is at every head of the repository."""
    return current(url) == heads()


def check(url: str) -> None:
    """Raise when the ORM models and the migrated schema differ (a migration is missing)."""
    command.check(alembic_config(url))
