"""`mes db ...`: migrations and telemetry maintenance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from mes_cli.common import config_errors_exit

if TYPE_CHECKING:
    from mes_common.database import TelemetrySettings

app = typer.Typer(help="Database schema and telemetry upkeep.", no_args_is_help=True)


def _settings() -> TelemetrySettings:
    from mes_common.database import TelemetrySettings, check_reachable
    from mes_common.settings import load_settings

    settings = load_settings(TelemetrySettings)
    check_reachable(settings)
    return settings


@app.command()
@config_errors_exit
def upgrade(revision: str = typer.Argument("heads", help="target revision")) -> None:
    """Apply migrations up to REVISION (idempotent)."""
    from db import migrate

    s = _settings()
    options = migrate.TelemetryOptions(
        timescaledb=s.timescaledb,
        retention_days=s.telemetry_retention_days,
        compress_after_days=s.telemetry_compress_after_days,
    )
    migrate.upgrade(s.sqlalchemy_url(), options, revision=revision)
    typer.echo(f"database at {', '.join(sorted(migrate.current(s.sqlalchemy_url())))}")


@app.command()
@config_errors_exit
def downgrade(revision: str = typer.Argument(..., help="target revision, or 'base'")) -> None:
    """Revert migrations down to REVISION."""
    from db import migrate

    s = _settings()
    migrate.downgrade(s.sqlalchemy_url(), revision=revision)
    typer.echo(f"database at {', '.join(sorted(migrate.current(s.sqlalchemy_url()))) or 'base'}")


@app.command()
@config_errors_exit
def current() -> None:
    """Print the database's revision and whether it is the newest."""
    from db import migrate

    s = _settings()
    now = migrate.current(s.sqlalchemy_url())
    state = "up to date" if now == migrate.heads() else "behind: run `mes db upgrade`"
    typer.echo(f"{', '.join(sorted(now)) or 'base'} ({state})")


@app.command()
@config_errors_exit
def maintain() -> None:
    """One telemetry maintenance pass: partitions ahead, retention, dirty rollups."""
    from db.maintenance import run_maintenance

    s = _settings()
    report = run_maintenance(
        s.conninfo(),
        days_ahead=s.telemetry_partition_days_ahead,
        retention_days=s.telemetry_retention_days,
    )
    typer.echo(
        f"backend={report.backend} skipped={report.skipped} "
        f"partitions_created={report.partitions_created} "
        f"partitions_dropped={report.partitions_dropped} "
        f"hours_refreshed={len(report.hours_refreshed)}"
    )
