"""`mes gateway`: run the edge gateway."""

from __future__ import annotations

from pathlib import Path

import typer

from mes_cli.common import config_errors_exit


@config_errors_exit
def run(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="configuration file (default MES_GATEWAY_CONFIG)"
    ),
    check: bool = typer.Option(False, "--check", help="validate the file and exit"),
) -> None:
    """Run the edge gateway (OPC UA, Modbus TCP, MQTT -> database). SIGHUP reloads the file."""
    import asyncio

    from gateway.config import load_config
    from gateway.runtime import serve
    from gateway.settings import GatewaySettings
    from mes_common.logging import configure_logging
    from mes_common.settings import load_settings

    settings = load_settings(GatewaySettings)
    path = config or settings.gateway_config
    loaded = load_config(path)
    if check:
        typer.echo(
            f"{path}: ok (gateway {loaded.gateway.id}, {len(loaded.devices)} devices, "
            f"{loaded.gateway.workers} worker{'s' if loaded.gateway.workers > 1 else ''})"
        )
        return
    configure_logging(settings.log_level, settings.log_format)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is optional
        pass
    if loaded.gateway.workers > 1:
        from gateway.supervisor import supervise

        asyncio.run(supervise(path, loaded, settings))
    else:
        asyncio.run(serve(path, settings))
