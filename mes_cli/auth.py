"""`mes auth ...`: the route x role matrix, the local Keycloak server and realm provisioning."""

from __future__ import annotations

import os
import sys

import typer

from mes_cli.common import config_errors_exit

app = typer.Typer(help="Authentication and role-based access.", no_args_is_help=True)


@app.command()
@config_errors_exit
def matrix(markdown: bool = typer.Option(False, help="print as a Markdown table")) -> None:
    """Print every route with the permission it declares and the roles allowed."""
    from core.auth.matrix import render_matrix

    typer.echo(render_matrix(markdown=markdown))


@app.command()
@config_errors_exit
def keycloak(
    prepare: bool = typer.Option(
        False, "--prepare", help="only fetch, unpack and build the distribution, then exit"
    ),
) -> None:
    """Run the local Keycloak in the foreground (fetched once into MES_KEYCLOAK_CACHE)."""
    from core.auth.keycloak_server import (
        DistributionError,
        ServerSpec,
        ensure_distribution,
        prepare_instance,
    )
    from core.auth.settings import KeycloakServerSettings
    from mes_common.settings import load_settings

    s = load_settings(KeycloakServerSettings)
    try:
        distribution = ensure_distribution(s.keycloak_version, s.keycloak_cache)
        instance = prepare_instance(distribution, s.home / "keycloak")
    except DistributionError as err:
        print(f"keycloak: {err}", file=sys.stderr)
        raise typer.Exit(1) from None
    if prepare:
        typer.echo(str(instance))
        return
    spec = ServerSpec(
        instance=instance,
        host=s.keycloak_host,
        port=s.keycloak_port,
        management_port=s.keycloak_management_port,
        public_url=s.keycloak_url,
        db_host=s.db_host,
        db_port=s.db_port,
        db_name=s.keycloak_db_name,
        db_user=s.keycloak_db_name,
        db_password=s.keycloak_db_password.get_secret_value(),
        admin_user=s.keycloak_admin_user,
        admin_password=s.keycloak_admin_password.get_secret_value(),
        heap_max=s.keycloak_heap_max,
    )
    command = spec.command()
    os.execve(command[0], command, spec.environment())


@app.command()
@config_errors_exit
def provision(
    with_test_client: bool = typer.Option(
        False, help="also create the password-grant client of the test suite"
    ),
    demo_users: bool = typer.Option(True, help="create the demo users (one per role)"),
) -> None:
    """Create or update the realm, its roles, clients and demo users (idempotent)."""
    from core.auth.provision import ProvisioningError
    from core.auth.provision import provision as apply_realm
    from core.auth.settings import RealmSettings
    from mes_common.settings import load_settings

    settings = load_settings(RealmSettings)
    try:
        report = apply_realm(settings, include_test_client=with_test_client, demo_users=demo_users)
    except ProvisioningError as err:
        print(f"provisioning failed: {err}", file=sys.stderr)
        raise typer.Exit(1) from None
    typer.echo(report.summary())
