"""`mes api`: serve the FastAPI MES with uvicorn."""

from __future__ import annotations

import typer

from mes_cli.common import config_errors_exit


@config_errors_exit
def serve(
    host: str | None = typer.Option(None, help="bind address (default MES_API_HOST)"),
    port: int | None = typer.Option(None, help="port (default MES_API_PORT)"),
    workers: int | None = typer.Option(None, help="processes (default MES_API_WORKERS)"),
) -> None:
    """Serve the API (checks settings and the database first)."""
    import uvicorn

    from core.config import ApiSettings
    from mes_common.database import check_reachable
    from mes_common.logging import configure_logging
    from mes_common.settings import load_settings

    settings = load_settings(ApiSettings)
    configure_logging(settings.log_level, settings.log_format)
    check_reachable(settings)
    uvicorn.run(
        "core.app:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        workers=workers or settings.api_workers,
        log_config=None,
        proxy_headers=True,
        access_log=False,
    )
