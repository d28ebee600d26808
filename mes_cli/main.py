"""Entry point of the `mes` command."""

from __future__ import annotations

import typer

from mes_cli import api, auth, db, demo, gateway, sim

app = typer.Typer(
    name="mes",
    help="KNU MES: API, edge gateway, simulators and tooling.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("api", help="Serve the MES API.")(api.serve)
app.command("gateway", help="Run the edge gateway.")(gateway.run)
app.add_typer(db.app, name="db")
app.add_typer(auth.app, name="auth")
app.add_typer(sim.app, name="sim")
app.add_typer(demo.app, name="demo")

if __name__ == "__main__":
    app()
