"""Simulated time <-> RFC 3339 UTC timestamps with millisecond precision.

>>> iso_ms(1767592800000 + 1250)
'2026-01-05T06:00:01.250Z'
>>> to_ms(1767592800.0, 0.1 * 3)
1767592800300
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(origin_s: float, t: float) -> int:
    """Unix milliseconds of simulated time `t` seconds after `origin_s` (Unix seconds)."""
    return round((origin_s + t) * 1000)


def iso_ms(unix_ms: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    moment = EPOCH + timedelta(milliseconds=unix_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{unix_ms % 1000:03d}Z"


def to_datetime(unix_ms: int) -> datetime:
    """Aware UTC datetime of Unix milliseconds."""
    return EPOCH + timedelta(milliseconds=unix_ms)


def parse_iso(text: str) -> datetime:
    """Aware datetime from an RFC 3339 timestamp (`Z` or an offset)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(UTC)
