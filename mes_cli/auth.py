"""`mes auth ...`: the route x role matrix."""

from __future__ import annotations

import typer

app = typer.Typer(help="Authentication and role-based access.", no_args_is_help=True)


@app.command()
def matrix(markdown: bool = typer.Option(False, help="print as a Markdown table")) -> None:
    """Print every route with the permission it declares and the roles allowed."""
    from core.auth.matrix import render_matrix

    typer.echo(render_matrix(markdown=markdown))
