"""Pure OPC UA helpers: node id strings with namespace URIs, values, quality, key templates."""

from __future__ import annotations

import fnmatch
import re
from datetime import UTC, datetime
from typing import Any

from gateway import quality

_NSU = re.compile(r"^nsu=([^;]+);(.+)$")


def split_namespace_uri(node: str) -> tuple[str | None, str]:
    """`nsu=URI;s=X` -> (URI, 's=X'); other forms -> (None, node).

    >>> split_namespace_uri("nsu=urn:knu-mes:simulator;s=CNC-101.state")
    ('urn:knu-mes:simulator', 's=CNC-101.state')
    >>> split_namespace_uri("ns=2;i=7")
    (None, 'ns=2;i=7')
    """
    match = _NSU.match(node.strip())
    if match:
        return match.group(1), match.group(2)
    return None, node.strip()


def with_index(node: str, namespaces: list[str]) -> str:
    """A node id string whose namespace URI is replaced by its index on this server.

    >>> with_index("nsu=urn:x;s=A.b", ["http://opcfoundation.org/UA/", "urn:y", "urn:x"])
    'ns=2;s=A.b'
    >>> with_index("nsu=urn:missing;s=A", ["urn:x"])
    Traceback (most recent call last):
    ...
    KeyError: 'urn:missing'
    """
    uri, rest = split_namespace_uri(node)
    if uri is None:
        return rest
    try:
        index = namespaces.index(uri)
    except ValueError:
        raise KeyError(uri) from None
    return f"ns={index};{rest}"


def to_value(value: Any) -> tuple[float | str | None, int | None]:
    """A Variant's value as stored (number, text or None) and, when it cannot be stored, the
    quality to use instead.

    >>> to_value(True), to_value(7), to_value(2.5), to_value("run")
    ((1.0, None), (7.0, None), (2.5, None), ('run', None))
    >>> to_value([1, 2])
    (None, -32652)
    """
    if value is None:
        return None, None
    if isinstance(value, bool):
        return (1.0 if value else 0.0), None
    if isinstance(value, int | float):
        return float(value), None
    if isinstance(value, str):
        return value, None
    text = getattr(value, "Text", None)  # LocalizedText
    if isinstance(text, str):
        return text, None
    if isinstance(value, datetime):
        return value.timestamp(), None
    return None, quality.BAD_TYPE_MISMATCH


def to_utc(ts: datetime | None) -> datetime | None:
    """Timezone-aware UTC (OPC UA 'no timestamp' -> None).

    >>> to_utc(datetime(1601, 1, 1)) is None
    True
    >>> to_utc(datetime(2026, 1, 1, 12)).isoformat()
    '2026-01-01T12:00:00+00:00'
    """
    if ts is None or ts.year <= 1601:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def browse_key(template: str, *, name: str, path: str, equipment: str, device: str) -> str:
    """A signal key from a browse template.

    >>> browse_key("{equipment}.{name}", name="state", path="state", equipment="CNC-101",
    ...            device="cnc")
    'CNC-101.state'
    """
    return template.format(name=name, path=path, equipment=equipment, device=device)


def matches(pattern: str, name: str) -> bool:
    """Glob on a browse name (case-sensitive).

    >>> matches("*_count", "good_count"), matches("temp*", "state")
    (True, False)
    """
    return fnmatch.fnmatchcase(name, pattern)
