"""MQTT (paho-mqtt 2): QoS 1 with a persistent session and manual acknowledgement, run on the
asyncio loop through paho's socket callbacks (no network thread).

A message is acknowledged only when the batch holding its data is committed or spooled (fsync),
so a gateway killed at any moment loses nothing the broker considers delivered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from gateway.config.models import MqttDevice, MqttTls
from gateway.connectors.base import Connector, ConnectorContext, DeviceRefused, Emit, LinkLost
from gateway.connectors.mqtt_mapping import Malformed, Mapper
from gateway.records import SignalSpec, utcnow

log = logging.getLogger("gateway.mqtt")

CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0  # for the broker to confirm the queued acknowledgements, and the DISCONNECT
GOODBYE_FILTER = "$mes-gateway/goodbye"  # never subscribed: unsubscribed for the broker's answer
LOG_FIRST = 5  # malformed payloads logged per reason before sampling
LOG_EVERY = 1000
REFUSED_CODES = {134, 135, 138, 140}  # bad credentials, not authorised, banned, bad auth method
CALLBACKS = (  # the paho callbacks set on a client, all bound to its event loop
    "on_connect",
    "on_disconnect",
    "on_subscribe",
    "on_unsubscribe",
    "on_message",
    "on_socket_open",
    "on_socket_close",
    "on_socket_register_write",
    "on_socket_unregister_write",
)


class MqttConnector(Connector):
    """One broker connection carrying the device's subscriptions."""

    protocol: ClassVar[str] = "mqtt"

    def __init__(
        self, device: MqttDevice, context: ConnectorContext, *, subscribe: bool = True
    ) -> None:
        self.device = device
        self.context = context
        self.subscribe = subscribe  # False: resume the session only (draining a retired one)
        self.session_present: bool | None = None  # from the last CONNACK
        self.client_id = device.client_id or f"mes-gateway-{context.gateway_id}-{device.name}"
        self.mapper = Mapper(
            device.subscriptions, equipment=device.equipment, meta=context.signal_meta
        )
        self.malformed: Counter[str] = Counter()
        self.ignored = 0
        self.received = 0
        self.duplicates = 0  # copies delivered for overlapping filters (skipped)
        self._client: mqtt.Client | None = None
        self._generation = 0
        self._emit: Emit | None = None
        self._connack: asyncio.Future[ReasonCode] | None = None
        self._subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._unsubacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._lost: asyncio.Future[str] | None = None
        self._misc: asyncio.Task[None] | None = None
        self._sock: Any = None
        self._closing = False  # a close is saying goodbye
        # messages redelivered right after CONNACK arrive before `stream` starts: held until then
        self._early: list[tuple[list[Any], Any]] = []

    @property
    def endpoint(self) -> str:
        scheme = "mqtts" if self.device.tls else "mqtt"
        return f"{scheme}://{self.device.host}:{self.device.port}"

    def signals(self) -> list[SignalSpec]:
        return list(self.mapper.known.values())

    def filter(self, topic: str) -> str:
        """What is subscribed for `topic`: a shared subscription when the device has a share
        group (the broker gives each message to one member of the group)."""
        group = self.device.share_group
        return f"$share/{group}/{topic}" if group else topic

    # --- connection ----------------------------------------------------------------------------

    def _new_client(self, loop: asyncio.AbstractEventLoop) -> mqtt.Client:
        device = self.device
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
            reconnect_on_failure=False,
        )
        client.max_inflight_messages_set(65535)
        client.max_queued_messages_set(0)
        if device.tls:
            tls = device.tls if isinstance(device.tls, MqttTls) else MqttTls()
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            client.tls_insecure_set(tls.insecure)
        if device.username:
            password = os.environ.get(device.password_env) if device.password_env else None
            client.username_pw_set(device.username, password)
        generation = self._generation

        def threadsafe(func: Any) -> Any:
            def call(*args: Any) -> None:
                loop.call_soon_threadsafe(func, generation, *args)

            return call

        client.on_connect = threadsafe(self._on_connect)
        client.on_disconnect = threadsafe(self._on_disconnect)
        client.on_subscribe = threadsafe(self._on_subscribe)
        client.on_unsubscribe = threadsafe(self._on_unsubscribe)
        client.on_socket_open = threadsafe(self._on_socket_open)
        client.on_socket_close = threadsafe(self._on_socket_close)
        client.on_socket_register_write = threadsafe(self._on_register_write)
        client.on_socket_unregister_write = threadsafe(self._on_unregister_write)
        client.on_message = self._on_message  # always called from loop_read on the loop thread
        return client

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        self._generation += 1
        self._connack = loop.create_future()
        self._subacks = {}
        self._unsubacks = {}
        self.session_present = None
        self._lost = loop.create_future()
        client = self._client = self._new_client(loop)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.device.session_expiry_s
        props.ReceiveMaximum = 65535
        try:
            await asyncio.to_thread(
                client.connect,
                self.device.host,
                self.device.port,
                self.device.keepalive_s,
                clean_start=False,
                properties=props,
            )
            code = await asyncio.wait_for(asyncio.shield(self._connack), CONNECT_TIMEOUT)
        except (OSError, ssl.SSLError, TimeoutError) as err:
            raise LinkLost(
                f"cannot connect to {self.endpoint}: {err or type(err).__name__}"
            ) from err
        if code.is_failure:
            message = f"{self.endpoint} refused the connection: {code}"
            if code.value in REFUSED_CODES:
                raise DeviceRefused(message)
            raise LinkLost(message)
        self._misc = asyncio.create_task(self._misc_loop(client), name=f"{self.device.name}-misc")
        if not self.subscribe:
            return
        # One SUBSCRIBE per filter, each with its own subscription identifier: a broker delivers
        # a message once per matching filter, and the identifier tells which copy is whose.
        for n, sub in enumerate(self.device.subscriptions):
            props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
            props.SubscriptionIdentifier = n + 1
            rc, mid = client.subscribe(
                self.filter(sub.topic), options=SubscribeOptions(qos=sub.qos), properties=props
            )
            if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
                raise LinkLost(f"{self.endpoint}: subscribe failed ({mqtt.error_string(rc)})")
            waiter = self._subacks.setdefault(mid, loop.create_future())
            try:
                codes = await asyncio.wait_for(asyncio.shield(waiter), CONNECT_TIMEOUT)
            except TimeoutError as err:
                raise LinkLost(f"{self.endpoint}: no SUBACK") from err
            if not codes or codes[0].is_failure:
                raise DeviceRefused(
                    f"{self.endpoint} refused the subscription {sub.topic!r}: "
                    f"{codes[0] if codes else 'no reason code'}"
                )

    async def unsubscribe(self, filters: Sequence[str]) -> None:
        """UNSUBSCRIBE `filters` and wait for the UNSUBACK (a filter the session does not have is
        no error); LinkLost when the link fails meanwhile."""
        client = self._client
        if client is None or not filters:
            return
        rc, mid = client.unsubscribe(list(filters))
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise LinkLost(f"{self.endpoint}: unsubscribe failed ({mqtt.error_string(rc)})")
        waiter = self._unsubacks.setdefault(mid, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), CONNECT_TIMEOUT)
        except (TimeoutError, OSError) as err:
            raise LinkLost(f"{self.endpoint}: no UNSUBACK ({err or type(err).__name__})") from err

    async def discard(self) -> None:
        """DISCONNECT with session expiry 0, so the broker deletes the session (what is queued
        for it included), and wait until the packet is written; LinkLost when it cannot be."""
        client, lost = self._client, self._lost
        if client is None or lost is None:
            raise LinkLost(f"{self.endpoint}: not connected")
        props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 0
        rc = client.disconnect(properties=props)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise LinkLost(f"{self.endpoint}: disconnect failed ({mqtt.error_string(rc)})")
        try:  # paho reports the disconnection once the DISCONNECT packet is on the wire
            await asyncio.wait_for(asyncio.shield(lost), CONNECT_TIMEOUT)
        except TimeoutError as err:
            raise LinkLost(f"{self.endpoint}: DISCONNECT not sent") from err

    async def close(self) -> None:
        """Say goodbye when still connected (what is queued, acknowledgements of committed
        messages included, then a DISCONNECT), and release the client: callbacks detached and
        socket closed, so nothing of it reaches the event loop afterwards."""
        client = self._client
        try:
            if client is not None and not self._closing:
                self._closing = True
                await self._goodbye(client)
        finally:
            if self._client is client:  # not released meanwhile by a close that cut this short
                self._release()

    async def _goodbye(self, client: mqtt.Client) -> None:
        lost, sock = self._lost, self._sock
        if sock is None or lost is None or lost.done() or not client.is_connected():
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                # The broker handles a connection's packets in order: its answer to an UNSUBSCRIBE
                # sent after the queued acknowledgements tells they were processed. Reading
                # resumes meanwhile (messages read now are dropped unacknowledged, redelivered to
                # the next session) to reach the answer, and so that the socket is not closed
                # with data unread: that resets the connection, and the broker may drop what it
                # had not read yet, acknowledgements included.
                asyncio.get_running_loop().add_reader(sock, self._readable, client)
                await self.unsubscribe([GOODBYE_FILTER])
                if client.disconnect() == mqtt.MQTT_ERR_SUCCESS:
                    # written once paho reports it (paho then closes its socket)
                    await asyncio.shield(lost)
        except (TimeoutError, LinkLost) as err:  # what was not acknowledged is redelivered
            log.warning(
                "MQTT connection closed without a complete goodbye",
                extra={"device": self.device.name, "endpoint": self.endpoint, "error": str(err)},
            )

    def _release(self) -> None:
        client, self._client = self._client, None
        self._closing = False
        self._generation += 1  # acknowledgements of the old session are dropped (redelivered)
        self._early = []
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        self._forget_socket()
        if client is None:
            return
        # paho calls the socket callbacks again when it closes its socket, at the latest from
        # Client.__del__, which may run after the event loop is closed: detach them first
        for callback in CALLBACKS:
            setattr(client, callback, None)
        sock = client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    async def _misc_loop(self, client: mqtt.Client) -> None:
        while True:  # keepalive pings; ends when paho reports the link gone
            if client.loop_misc() != mqtt.MQTT_ERR_SUCCESS:
                return
            await asyncio.sleep(1.0)

    # --- paho callbacks (on the loop thread) ---------------------------------------------------

    def _on_socket_open(self, generation: int, client: mqtt.Client, _ud: Any, sock: Any) -> None:
        if generation != self._generation:
            return
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock, self._readable, client)

    def _on_socket_close(self, generation: int, client: mqtt.Client, _ud: Any, sock: Any) -> None:
        if sock is self._sock:
            self._forget_socket()

    def _forget_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            loop = asyncio.get_running_loop()
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(sock)
                loop.remove_writer(sock)

    def _on_register_write(self, generation: int, client: mqtt.Client, _ud: Any, sock: Any) -> None:
        if generation == self._generation and sock is self._sock:
            asyncio.get_running_loop().add_writer(sock, client.loop_write)

    def _on_unregister_write(
        self, generation: int, client: mqtt.Client, _ud: Any, sock: Any
    ) -> None:
        if sock is self._sock:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_writer(sock)

    def _readable(self, client: mqtt.Client) -> None:
        # back-pressure: the broker keeps the messages meanwhile (not when saying goodbye)
        if self.context.busy() and not self._closing:
            loop = asyncio.get_running_loop()
            sock = self._sock
            if sock is not None:
                loop.remove_reader(sock)
                loop.call_later(0.02, self._resume, client, sock)
            return
        for _ in range(32):  # drain what is buffered, a bounded amount per wake-up
            before = self.received
            if client.loop_read() != mqtt.MQTT_ERR_SUCCESS or self.received == before:
                break

    def _resume(self, client: mqtt.Client, sock: Any) -> None:
        if sock is self._sock and self._client is client:
            asyncio.get_running_loop().add_reader(sock, self._readable, client)

    def _on_connect(
        self, generation: int, _c: Any, _ud: Any, flags: Any, code: ReasonCode, _p: Any
    ) -> None:
        if generation == self._generation and self._connack and not self._connack.done():
            self.session_present = bool(flags.session_present)
            self._connack.set_result(code)

    def _on_subscribe(
        self, generation: int, _c: Any, _ud: Any, mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        if generation != self._generation:
            return
        waiter = self._subacks.setdefault(mid, asyncio.get_running_loop().create_future())
        if not waiter.done():
            waiter.set_result(codes)

    def _on_unsubscribe(
        self, generation: int, _c: Any, _ud: Any, mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        if generation != self._generation:
            return
        waiter = self._unsubacks.setdefault(mid, asyncio.get_running_loop().create_future())
        if not waiter.done():
            waiter.set_result(codes)

    def _on_disconnect(
        self, generation: int, _c: Any, _ud: Any, _flags: Any, code: ReasonCode, _p: Any
    ) -> None:
        if generation != self._generation:
            return
        reason = f"disconnected: {code}"
        if self._connack and not self._connack.done():
            self._connack.set_exception(OSError(reason))
        for waiter in [*self._subacks.values(), *self._unsubacks.values()]:
            if not waiter.done():
                waiter.set_exception(OSError(reason))
        if self._lost and not self._lost.done():
            self._lost.set_result(reason)

    def _on_message(self, client: mqtt.Client, _ud: Any, message: mqtt.MQTTMessage) -> None:
        if self._closing:  # not acknowledged: the broker redelivers it to the next session
            return
        self.received += 1
        generation = self._generation
        ack = None
        if message.qos > 0:
            mid, qos = message.mid, message.qos

            def ack() -> None:
                if generation == self._generation and self._client is client:
                    client.ack(mid, qos)

        topic = message.topic
        ids = getattr(message.properties, "SubscriptionIdentifier", None)
        if ids:
            route = self.mapper.route_index(topic)
            if route is None or route + 1 not in ids:  # another filter's copy of this message
                self.duplicates += 1
                if self._emit is not None:
                    self._emit([], ack)
                else:
                    self._early.append(([], ack))
                return
        try:
            records, new = self.mapper.map(topic, bytes(message.payload), utcnow())
        except Malformed as err:
            self._malformed(topic, err, bytes(message.payload))
            records, new = [], []
        if new:
            self.context.declare(new)
        if not records and self.mapper.route(topic) is None:
            self.ignored += 1
        if self._emit is not None:
            self._emit(records, ack)
        else:
            self._early.append((records, ack))

    def _malformed(self, topic: str, err: Malformed, payload: bytes) -> None:
        self.malformed[err.reason] += 1
        count = self.malformed[err.reason]
        if count <= LOG_FIRST or count % LOG_EVERY == 0:
            log.warning(
                "malformed MQTT payload skipped",
                extra={
                    "device": self.device.name,
                    "topic": topic,
                    "reason": err.reason,
                    "detail": err.detail,
                    "payload": payload[:200].decode("utf-8", errors="replace"),
                    "count": count,
                },
            )

    # --- streaming -----------------------------------------------------------------------------

    async def stream(self, emit: Emit) -> None:
        self._emit = emit
        early, self._early = self._early, []
        for records, ack in early:
            emit(records, ack)
        assert self._lost is not None
        try:
            reason = await asyncio.shield(self._lost)  # the future outlives a cancelled stream
        finally:
            self._emit = None
        raise LinkLost(f"{self.endpoint}: {reason}")
