"""`mes demo load`: load the demo plant (docs/demo-plant.md) into the configured database."""

from __future__ import annotations

import asyncio

import typer

from mes_cli.common import config_errors_exit

app = typer.Typer(help="Demo data.", no_args_is_help=True)


async def _load() -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    from core.db import Database
    from core.demo import loader
    from mes_common.database import DatabaseSettings, check_reachable
    from mes_common.settings import load_settings

    settings = load_settings(DatabaseSettings)
    check_reachable(settings)
    database = Database(settings, pool_size=2)
    try:
        async with database.sessions() as session:
            report = await loader.load(session)
        async with database.sessions() as session:
            totals = await loader.counts(session)
    finally:
        await database.dispose()
    return report, totals


@app.command()
@config_errors_exit
def load() -> None:
    """Load the demo plant: equipment, items, BOMs, routings, shift calendar, downtime reasons,
    stock, inspection plans, a plan and work orders in several states. Idempotent."""
    report, totals = asyncio.run(_load())
    for kind, (created, found) in report.items():
        typer.echo(f"{kind:<22} created {created:>3}  already there {found:>3}")
    typer.echo(
        "demo plant loaded: " + ", ".join(f"{count} {name}" for name, count in totals.items())
    )
