"""Payloads of the live path: after a batch commits, the latest value of each signal it touched
is sent with `pg_notify` (docs/ARCHITECTURE.md, "Live path contract")."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import orjson

from gateway.sinks.codec import _US, EPOCH

MAX_PAYLOAD = 7900  # NOTIFY payloads must stay below 8000 bytes
VERSION = 1

Latest = tuple[int, datetime, float | str | None, int]  # signal id, ts, value, quality


def payloads(gateway: str, latest: Iterable[Latest], *, limit: int = MAX_PAYLOAD) -> list[str]:
    """JSON payloads `{"v":1,"gw":...,"r":[[signal_id, ts_us, value, quality], ...]}`, each at
    most `limit` bytes, together carrying every entry once.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> payloads("edge-1", [(7, t, 1.5, 0)])
    ['{"v":1,"gw":"edge-1","r":[[7,1767225600000000,1.5,0]]}']
    >>> parts = payloads("g", [(n, t, float(n), 0) for n in range(2000)], limit=1000)
    >>> all(len(p) <= 1000 for p in parts), sum(p.count("],[") + 1 for p in parts)
    (True, 2000)
    """
    head = orjson.dumps({"v": VERSION, "gw": gateway, "r": []})[:-2]  # ..."r":[
    out: list[str] = []
    chunk: list[bytes] = []
    size = len(head) + 2
    for signal_id, ts, value, quality in latest:
        item = orjson.dumps([signal_id, (ts - EPOCH) // _US, value, quality])
        if chunk and size + len(item) + 1 > limit:
            out.append((head + b",".join(chunk) + b"]}").decode())
            chunk, size = [], len(head) + 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        out.append((head + b",".join(chunk) + b"]}").decode())
    return out
