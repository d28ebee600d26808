"""The live path of one API process: LISTEN connection, hub, readings feed, topics, and the
derivation engine (run only while this process leads). Started by `create_app`'s lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from fastapi import FastAPI

from core.config import ApiSettings
from core.db import Database
from core.live.engine import Engine, mark_hours
from core.live.events import EVENTS_CHANNEL
from core.live.feed import ReadingsFeed, SignalDirectory
from core.live.hub import Hub
from core.live.leader import Leadership
from core.live.listener import Listener
from core.live.settings import LiveSettings
from core.live.topics import STATIC, Topics
from mes_common.settings import load_settings

log = logging.getLogger(__name__)

READINGS_CHANNEL = "mes_live_readings"
"""The gateway's default `live.channel` (docs/ARCHITECTURE.md, "Live path contract")."""


@dataclass
class LiveRuntime:
    """The pieces, reachable as `app.state.live`."""

    settings: LiveSettings
    hub: Hub
    topics: Topics
    engine: Engine
    listener: Listener
    leadership: Leadership | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def leading(self) -> bool:
        """True while this process runs the derivation engine."""
        return self.leadership is not None and self.leadership.is_leader


def build(database: Database, api: ApiSettings, live: LiveSettings, *, engine: bool) -> LiveRuntime:
    """Wire the pieces (nothing runs yet)."""
    hub = Hub(send_timeout=live.live_ws_send_timeout)
    topics = Topics(database.sessions, live)
    for name in STATIC:
        hub.provide(name, topics.snapshot)
    hub.provide("equipment/", topics.snapshot)
    hub.provide("line/", topics.snapshot)
    derivation = Engine(database.sessions, live)
    feed = ReadingsFeed(hub, SignalDirectory(database.sessions), observers=[derivation.observe])

    async def on_event(payload: str) -> None:
        message: dict[str, Any] = orjson.loads(payload)
        hub.publish(message["topic"], message["data"])

    listener = Listener(
        api.conninfo(),
        {READINGS_CHANNEL: feed, EVENTS_CHANNEL: on_event},
        on_reconnect=hub.resnapshot,
    )
    leadership = (
        Leadership(api.conninfo(), derivation.run, retry_s=live.live_leader_retry_s)
        if engine and live.live_engine
        else None
    )
    return LiveRuntime(live, hub, topics, derivation, listener, leadership)


@asynccontextmanager
async def live_runtime(app: FastAPI, api: ApiSettings, *, background: bool) -> AsyncIterator[None]:
    """Run the live path for the app's lifetime; the engine only with background jobs."""
    live = getattr(app.state, "live_settings", None) or load_settings(LiveSettings)
    runtime = build(app.state.db, api, live, engine=background)
    app.state.live = runtime

    async def hook(hours: list[datetime]) -> None:
        await mark_hours(app.state.db.sessions, hours)

    app.state.hour_hooks.append(hook)
    runtime.tasks.append(asyncio.create_task(runtime.listener.run(), name="live-listener"))
    if runtime.leadership is not None:
        runtime.tasks.append(asyncio.create_task(runtime.leadership.run(), name="live-leader"))
    try:
        yield
    finally:
        for task in runtime.tasks:
            task.cancel()
        for task in runtime.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await runtime.hub.close()
        app.state.hour_hooks.remove(hook)
        app.state.live = None
