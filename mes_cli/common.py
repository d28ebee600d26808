"""Helpers shared by the subcommands: configuration errors become one line and exit code 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

from mes_common.settings import ConfigError

P = ParamSpec("P")
T = TypeVar("T")

CONFIG_EXIT = 2


def config_errors_exit(func: Callable[P, T]) -> Callable[P, T]:
    """Print ConfigError messages (one line per setting) to stderr and exit 2."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except ConfigError as err:
            print(str(err), file=sys.stderr)
            raise typer.Exit(CONFIG_EXIT) from None

    return wrapper
