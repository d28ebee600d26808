"""`python -m gateway.worker`: one worker process of a gateway run with `gateway.workers` > 1
(started by the supervisor in `mes gateway`, not by hand)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.config import load_config
from gateway.runtime import serve
from gateway.settings import GatewaySettings
from gateway.workers import Slot
from mes_common.logging import configure_logging
from mes_common.settings import ConfigError, load_settings


def main(argv: list[str] | None = None) -> int:
    """Run worker `--index` of `--count` on `--config`; 2 on a configuration error."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    if not 0 <= args.index < args.count:
        parser.error("--index must be between 0 and --count - 1")
    try:
        settings = load_settings(GatewaySettings)
        load_config(args.config)
    except ConfigError as err:  # ConfigFileError included
        print(str(err), file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is optional
        pass
    asyncio.run(serve(args.config, settings, Slot(args.index, args.count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
