"""Durations in scenario files: seconds as a number, or a number with a unit (`90s`, `15m`, `6h`).

>>> parse_duration("15m")
900.0
>>> parse_duration(2.5)
2.5
>>> parse_duration_range(["10m", "20m"])
(600.0, 1200.0)
>>> parse_duration_range("1h")
(3600.0, 3600.0)
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|min|m|h|d)?\s*$")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string with a unit; ValueError naming the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30, '90s', '15m', '6h' or '2d'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := PATTERN.match(value)):
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    else:
        raise ValueError(f"{value!r} is not a duration (use 30, '90s', '15m', '6h' or '2d')")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_duration_range(value: Any) -> tuple[float, float]:
    """`[low, high]` (uniformly drawn between) or one duration (fixed)."""
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError("a duration range is [low, high]")
        low, high = parse_duration(value[0]), parse_duration(value[1])
        if low > high:
            raise ValueError(f"range low {low:g}s is above high {high:g}s")
        return (low, high)
    seconds = parse_duration(value)
    return (seconds, seconds)


Seconds = Annotated[float, BeforeValidator(parse_duration)]
SecondsRange = Annotated[tuple[float, float], BeforeValidator(parse_duration_range)]
