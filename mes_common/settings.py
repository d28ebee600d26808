"""Settings classes read `MES_*` environment variables; errors name the variable."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MES_"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable or config key."""


class MesSettings(BaseSettings):
    """Base of every settings class: `MES_` prefix, immutable, unknown variables ignored.

    Defaults live in env.sh, not here: a field without a default that env.sh does not provide
    fails at start with the variable's name.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)


S = TypeVar("S", bound=BaseSettings)


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return f"{ENV_PREFIX}{field.upper()}"


def describe_errors(err: ValidationError) -> list[str]:
    """One line per bad setting, naming the variable, its value and the reason."""
    lines = []
    for item in err.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        name = env_name(field)
        if item["type"] == "missing":
            lines.append(f"configuration error: {name} is not set (source env.sh or export it)")
        else:
            lines.append(f"configuration error: {name}={item['input']!r}: {item['msg']}")
    return lines


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build `cls` from the environment, raising ConfigError with one line per bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as err:
        raise ConfigError("\n".join(describe_errors(err))) from err
