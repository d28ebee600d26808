"""Draining the MQTT session of a retired gateway process (a worker the configuration no longer
runs, or the single process before workers).

The broker keeps such a session until it expires, and while it is a member of a share group it
keeps getting its share of the messages: queued for nobody, lost at expiry. The drainer resumes it
(its client id, clean start off) without subscribing, and feeds what the broker delivers (its
queue and unacknowledged in-flight messages) through the normal pipeline, acknowledged after
commit or spool as always. Once this run's own session of the device has subscribed (before that,
a message could find no subscriber at all), it UNSUBSCRIBEs the retired filters so nothing new is
routed to the session; once every message is acknowledged and none came for `quiet_s`, it
disconnects with session expiry 0 and the broker deletes the session. Interrupted at any point,
the session is still there (its expiry untouched) and the next start drains it again; replays are
idempotent (unique (signal_id, ts))."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.backoff import Backoff
from gateway.connectors.base import ConnectorContext, Emit, LinkLost
from gateway.connectors.mqtt import MqttConnector
from gateway.pipeline import Ack, Pipeline
from gateway.records import Record
from gateway.sessions import RetiredSession

log = logging.getLogger("gateway.drain")

QUIET_S = 2.0
CHECK_S = 0.1

State = Literal["draining", "retrying", "done"]


@dataclass
class _Attempt:
    """One connection's bookkeeping: acknowledgements of an earlier connection do not count."""

    outstanding: int = 0
    last_activity: float = field(default_factory=time.monotonic)


class SessionDrainer:
    """Drains one retired session, retrying (with backoff) until the broker has deleted it."""

    def __init__(
        self,
        session: RetiredSession,
        *,
        context: ConnectorContext,
        pipeline: Pipeline,
        done: Callable[[RetiredSession], None],
        replaced: Callable[[], bool],
        quiet_s: float = QUIET_S,
    ) -> None:
        self.session = session
        self.replaced = replaced  # this run's session of the device has subscribed
        self.context = context
        self.pipeline = pipeline
        self.done = done
        self.quiet_s = quiet_s
        backoff = session.device.backoff
        self.backoff = Backoff(initial=backoff.initial_ms / 1000, maximum=backoff.max_ms / 1000)
        self.state: State = "draining"
        self.messages = 0  # delivered to the drainer (all attempts)
        self.attempts = 0
        self.session_found = False  # the broker still had the session
        self.last_error: str | None = None
        self._attempt = _Attempt()

    def status(self) -> dict[str, Any]:
        """What /healthz shows of this drain."""
        return {
            "device": self.session.device.name,
            "retired": self.session.run_id,
            "state": self.state,
            "session_found": self.session_found,
            "messages": self.messages,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }

    async def run(self) -> None:
        """Drain until the session is gone (cancelled on shutdown: the session stays)."""
        device = self.session.device
        log.info(
            "draining the MQTT session of a retired gateway process",
            extra={"device": device.name, "client_id": self.session.client_id,
                   "retired": self.session.run_id},
        )  # fmt: skip
        while True:
            self.attempts += 1
            connector = MqttConnector(device, self.context, subscribe=False)
            try:
                await self._drain(connector)
                break
            except LinkLost as err:
                first = self.state != "retrying"
                self.state, self.last_error = "retrying", str(err) or type(err).__name__
                log.log(
                    logging.WARNING if first else logging.DEBUG,
                    "draining a retired MQTT session failed; retrying",
                    extra={"device": device.name, "client_id": self.session.client_id,
                           "error": self.last_error},
                )  # fmt: skip
            finally:
                await connector.close()
            await asyncio.sleep(self.backoff.next())
        self.state = "done"
        log.info(
            "retired MQTT session drained and deleted at the broker",
            extra={"device": device.name, "client_id": self.session.client_id,
                   "messages": self.messages, "session_found": self.session_found},
        )  # fmt: skip
        self.done(self.session)

    async def _drain(self, connector: MqttConnector) -> None:
        self._attempt = attempt = _Attempt()
        await connector.connect()
        if connector.session_present:
            self.session_found = True
            self.state = "draining"
            stream = asyncio.create_task(
                connector.stream(self._emitter(attempt)), name=f"drain-{self.session.client_id}"
            )
            try:
                while not self.replaced():
                    await _tick(stream)
                await connector.unsubscribe(self.session.filters)
                await self._quiet(attempt, stream)
                await connector.discard()
            finally:
                stream.cancel()
                with contextlib.suppress(asyncio.CancelledError, LinkLost):
                    await stream
        else:  # nothing to drain (deleted already, or expired): delete the empty one just made
            await connector.discard()

    def _emitter(self, attempt: _Attempt) -> Emit:
        def emit(records: Sequence[Record], ack: Ack | None = None) -> None:
            self.messages += 1
            attempt.last_activity = time.monotonic()
            counted: Ack | None = None
            if ack is not None:
                attempt.outstanding += 1

                def counted() -> None:
                    attempt.outstanding -= 1
                    attempt.last_activity = time.monotonic()
                    ack()

            self.pipeline.submit(self.session.device.name, records, counted)

        return emit

    async def _quiet(self, attempt: _Attempt, stream: asyncio.Task[None]) -> None:
        """Return once every delivered message is acknowledged and none came for `quiet_s`
        while the gateway was able to read (back-pressure pauses reading, it is not quiet)."""
        while True:
            await _tick(stream)
            now = time.monotonic()
            if attempt.outstanding or self.context.busy():
                attempt.last_activity = now
            elif now - attempt.last_activity >= self.quiet_s:
                return


async def _tick(stream: asyncio.Task[None]) -> None:
    """Wait a moment; LinkLost when the link dropped meanwhile."""
    await asyncio.wait({stream}, timeout=CHECK_S)
    if stream.done():
        stream.result()  # raises the LinkLost that ended it
        raise LinkLost("the broker closed the link")
