"""Publishing domain events to the live path: `pg_notify` inside the caller's transaction, so a
WebSocket client sees an event only once the change it describes is committed."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

EVENTS_CHANNEL = "mes_events"
MAX_PAYLOAD = 7900


def encode(topic: str, data: dict[str, Any]) -> str:
    """The NOTIFY payload for an event on `topic`.

    >>> encode("work-orders", {"id": 7, "state": "released"})
    '{"topic":"work-orders","data":{"id":7,"state":"released"}}'
    """
    payload = orjson.dumps({"topic": topic, "data": data}, default=str).decode()
    if len(payload.encode()) > MAX_PAYLOAD:
        raise ValueError(f"live event for {topic!r} is larger than {MAX_PAYLOAD} bytes")
    return payload


async def publish(session: AsyncSession, topic: str, data: dict[str, Any]) -> None:
    """Queue an event for `topic`; it is delivered when the session's transaction commits."""
    await session.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": EVENTS_CHANNEL, "payload": encode(topic, data)},
    )


async def publish_values(
    session: AsyncSession,
    topic: str,
    values: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> int:
    """Publish `{"values": values, **extra}` for `topic`, split into as many events as the
    payload limit needs (each carries some of the values; clients merge them). Returns how many.
    """
    extra = extra or {}
    chunk: dict[str, Any] = {}
    sent = 0
    for key, value in values.items():
        trial = {**chunk, key: value}
        if chunk and len(encode_unchecked(topic, {"values": trial, **extra})) > MAX_PAYLOAD:
            await publish(session, topic, {"values": chunk, **extra})
            sent += 1
            trial = {key: value}
        chunk = trial
    if chunk or not values:
        await publish(session, topic, {"values": chunk, **extra})
        sent += 1
    return sent


def encode_unchecked(topic: str, data: dict[str, Any]) -> bytes:
    """The payload bytes without the size check."""
    return orjson.dumps({"topic": topic, "data": data}, default=str)
