"""OPC UA (asyncua): subscriptions with monitored items (or polling), explicit node ids or browse
patterns, Basic256Sha256 and user/password, status codes into quality, source timestamps kept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import Subscription
from asyncua.crypto import security_policies
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaError
from cryptography import x509

from gateway import quality
from gateway.config.models import DeadbandConfig, OpcuaBrowse, OpcuaDevice
from gateway.connectors.base import (
    Connector,
    ConnectorContext,
    DeviceRefused,
    Emit,
    LinkLost,
    PollGroup,
)
from gateway.connectors.opcua_convert import browse_key, matches, to_utc, to_value, with_index
from gateway.records import Record, SignalSpec, utcnow

log = logging.getLogger("gateway.opcua")

CHUNK = 1000  # monitored items / read ids per request
LINK_ERRORS = (OSError, asyncio.TimeoutError, ConnectionError, UaError)
REFUSED = (
    ua.uaerrors.BadUserAccessDenied,
    ua.uaerrors.BadIdentityTokenRejected,
    ua.uaerrors.BadIdentityTokenInvalid,
    ua.uaerrors.BadSecurityPolicyRejected,
    ua.uaerrors.BadCertificateInvalid,
    ua.uaerrors.BadCertificateUntrusted,
)
NO_SUBSCRIPTIONS = (
    ua.uaerrors.BadServiceUnsupported,
    ua.uaerrors.BadTooManySubscriptions,
    ua.uaerrors.BadNoSubscription,
)


@dataclass(frozen=True)
class Item:
    """A resolved variable to read."""

    key: str
    node: ua.NodeId
    deadband: DeadbandConfig | None


class _Feed(Subscription):
    """A subscription that hands each publish response's items straight to the connector
    (no task or event object per notification)."""

    def __init__(self, session: Any, params: ua.CreateSubscriptionParameters, sink: Any) -> None:
        super().__init__(session, params, handler=None, queue_maxsize=1)
        self._sink = sink

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self.last_publish_at = time.monotonic()
        message = publish_result.NotificationMessage
        if message.NotificationData is None:
            return
        self.last_sequence_number = int(message.SequenceNumber)
        for notification in message.NotificationData:
            if isinstance(notification, ua.DataChangeNotification):
                self._sink.on_items(notification.MonitoredItems)
            elif isinstance(notification, ua.StatusChangeNotification):
                self._sink.on_status(notification.Status)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class OpcuaConnector(Connector):
    """One OPC UA server (optionally several client connections sharing its monitored items)."""

    protocol: ClassVar[str] = "opcua"

    def __init__(self, device: OpcuaDevice, context: ConnectorContext) -> None:
        self.device = device
        self.context = context
        self.equipment = device.equipment or device.name
        self._clients: list[Client] = []
        self._items: list[Item] = []
        self._keys: list[str] = []  # client handle - 1 -> signal key
        self._specs: dict[str, SignalSpec] = {}
        self._emit: Emit | None = None
        self._lost: asyncio.Future[BaseException] | None = None
        self._feeds: list[_Feed] = []
        self._reported: set[str] = set()
        for tag in device.tags:
            meta = context.signal_meta(tag.signal)
            deadband = tag.deadband or device.deadband
            self._specs[tag.signal] = SignalSpec(
                key=tag.signal,
                equipment_code=tag.equipment or self.equipment,
                name=tag.signal.rsplit(".", 1)[-1],
                unit=tag.unit if tag.unit is not None else meta.get("unit"),
                data_type=tag.data_type or meta.get("data_type") or "float",
                protocol="opcua",
                source=tag.node,
                description=tag.description or meta.get("description"),
                deadband=deadband.spec() if deadband else None,
                report_by_exception=device.mode == "poll" or deadband is not None,
            )

    @property
    def endpoint(self) -> str:
        return _redact(self.device.endpoint)

    def signals(self) -> list[SignalSpec]:
        return list(self._specs.values())

    # --- connection ----------------------------------------------------------------------------

    async def _client(self) -> Client:
        device = self.device
        client = Client(device.endpoint, timeout=device.timeout_ms / 1000, watchdog_intervall=1.0)
        client.session_timeout = 600_000  # what servers commonly grant (10 min)
        client.name = client.description = f"KNU MES gateway {self.context.gateway_id}"
        security = device.security
        if security is not None and security.policy == "Basic256Sha256":
            assert security.certificate is not None and security.private_key is not None
            uri = _certificate_uri(security.certificate.read_bytes())
            if uri:
                client.application_uri = uri
            mode = (
                ua.MessageSecurityMode.Sign
                if security.mode == "Sign"
                else ua.MessageSecurityMode.SignAndEncrypt
            )
            await client.set_security(
                security_policies.SecurityPolicyBasic256Sha256,
                certificate=str(security.certificate),
                private_key=str(security.private_key),
                server_certificate=(
                    str(security.server_certificate) if security.server_certificate else None
                ),
                mode=mode,
            )
        if device.username:
            client.set_user(device.username)
            if device.password_env:
                client.set_password(os.environ.get(device.password_env, ""))
        return client

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        try:
            for _ in range(self.device.connections):
                client = await self._client()
                client.connection_lost_callback = self._connection_lost
                try:
                    await client.connect()
                except BaseException:
                    client.disconnect_socket()
                    raise
                self._clients.append(client)
            await self._resolve(self._clients[0])
        except REFUSED as err:
            raise DeviceRefused(f"{self.endpoint} refused the session: {err}") from err
        except LINK_ERRORS as err:
            raise LinkLost(f"cannot connect to {self.endpoint}: {_reason(err)}") from err

    async def _connection_lost(self, exc: Exception) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(exc)

    async def close(self) -> None:
        clients, self._clients = self._clients, []
        self._feeds = []
        for client in clients:
            client.connection_lost_callback = None
            try:
                await asyncio.wait_for(client.disconnect(), 2)
            except (*LINK_ERRORS, asyncio.CancelledError):
                client.disconnect_socket()

    # --- node resolution -----------------------------------------------------------------------

    async def _resolve(self, client: Client) -> None:
        namespaces: list[str] = await client.get_namespace_array()
        items: list[Item] = []
        for tag in self.device.tags:
            try:
                node_id = ua.NodeId.from_string(with_index(tag.node, namespaces))
            except KeyError as err:
                raise DeviceRefused(
                    f"{tag.signal}: namespace {err.args[0]!r} is not on {self.endpoint}"
                ) from None
            except (ValueError, UaError) as err:
                raise DeviceRefused(f"{tag.signal}: bad node id {tag.node!r}: {err}") from None
            items.append(Item(tag.signal, node_id, tag.deadband or self.device.deadband))
        discovered: list[SignalSpec] = []
        for rule in self.device.browse:
            for key, node_id, path in await self._browse(client, rule):
                if key in {i.key for i in items}:
                    continue  # an explicit tag (or an earlier rule) wins over a discovery
                meta = self.context.signal_meta(key)
                band = rule.deadband or self.device.deadband
                spec = SignalSpec(
                    key=key,
                    equipment_code=self.equipment,
                    name=path.rsplit(".", 1)[-1],
                    unit=rule.unit if rule.unit is not None else meta.get("unit"),
                    data_type=meta.get("data_type") or "float",
                    protocol="opcua",
                    source=node_id.to_string(),
                    description=meta.get("description"),
                    deadband=band.spec() if band else None,
                    report_by_exception=self.device.mode == "poll" or band is not None,
                )
                self._specs[key] = spec
                discovered.append(spec)
                items.append(Item(key, node_id, rule.deadband or self.device.deadband))
        if discovered:
            self.context.declare(discovered)
        self._items = items
        self._keys = [item.key for item in items]

    async def _browse(self, client: Client, rule: OpcuaBrowse) -> list[tuple[str, ua.NodeId, str]]:
        node = client.nodes.objects
        parts = [p for p in rule.root.strip("/").split("/") if p]
        if parts and parts[0] == "Objects":
            parts = parts[1:]
        for part in parts:
            children = await node.get_children_descriptions()
            found = next((c for c in children if c.BrowseName.Name == part), None)
            if found is None:
                raise DeviceRefused(f"browse root {rule.root!r}: no {part!r} on {self.endpoint}")
            node = client.get_node(found.NodeId)
        out: list[tuple[str, ua.NodeId, str]] = []

        async def walk(parent: Any, prefix: str) -> None:
            for child in await parent.get_children_descriptions():
                name = child.BrowseName.Name
                path = f"{prefix}.{name}" if prefix else name
                if child.NodeClass == ua.NodeClass.Variable and matches(rule.pattern, name):
                    key = browse_key(
                        rule.signal,
                        name=name,
                        path=path,
                        equipment=self.equipment,
                        device=self.device.name,
                    )
                    out.append((key, child.NodeId, path))
                elif child.NodeClass == ua.NodeClass.Object and rule.recursive:
                    await walk(client.get_node(child.NodeId), path)

        await walk(node, "")
        return out

    # --- polling -------------------------------------------------------------------------------

    def poll_groups(self) -> list[PollGroup]:
        if self.device.mode == "poll":
            return [PollGroup(index=0, interval_s=self.device.publishing_interval_ms / 1000)]
        return []

    async def poll(self, group: PollGroup) -> list[Record]:
        client = self._clients[0] if self._clients else None
        if client is None:
            raise LinkLost(f"not connected to {self.endpoint}")
        out: list[Record] = []
        for start in range(0, len(self._items), CHUNK):
            chunk = self._items[start : start + CHUNK]
            try:
                values = await client.uaclient.read_attributes(
                    [item.node for item in chunk], AttributeIds.Value
                )
            except LINK_ERRORS as err:
                raise LinkLost(f"{self.endpoint}: {_reason(err)}") from err
            now = utcnow()
            for item, dv in zip(chunk, values, strict=True):
                out.append(self._record(item.key, dv, now))
        return out

    # --- subscriptions -------------------------------------------------------------------------

    async def stream(self, emit: Emit) -> None:
        self._emit = emit
        try:
            for shard, client in enumerate(self._clients):
                items = list(enumerate(self._items))[shard :: len(self._clients)]
                feed = await self._subscribe(client, items)
                self._feeds.append(feed)
        except NO_SUBSCRIPTIONS as err:
            log.warning(
                "server refuses subscriptions; polling instead",
                extra={"device": self.device.name, "error": str(err)},
            )
            await self._poll_instead(emit)
            return
        except LINK_ERRORS as err:
            raise LinkLost(f"{self.endpoint}: subscribe failed: {_reason(err)}") from err
        await self._watch()

    async def _subscribe(self, client: Client, items: list[tuple[int, Item]]) -> _Feed:
        device = self.device
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = device.publishing_interval_ms
        params.RequestedLifetimeCount = 10000
        params.RequestedMaxKeepAliveCount = client.get_keepalive_count(
            device.publishing_interval_ms
        )
        params.MaxNotificationsPerPublish = 0
        params.PublishingEnabled = True
        params.Priority = 0
        feed = _Feed(client.uaclient.session, params, self)
        await feed.init()
        sampling = (
            device.sampling_interval_ms
            if device.sampling_interval_ms is not None
            else device.publishing_interval_ms
        )
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            requests = [self._request(n, item, sampling) for n, item in chunk]
            results = await feed.create_monitored_items(requests)
            retry = []
            for (n, item), result in zip(chunk, results, strict=True):
                if not isinstance(result, ua.StatusCode):
                    continue
                if item.deadband is not None and result.value in _FILTER_REFUSED:
                    retry.append((n, item))  # e.g. percent deadband without EURange
                else:
                    self._item_refused(item.key, result)
            if retry:
                plain = [self._request(n, item, sampling, with_filter=False) for n, item in retry]
                for (_, item), result in zip(
                    retry, await feed.create_monitored_items(plain), strict=True
                ):
                    if isinstance(result, ua.StatusCode):
                        self._item_refused(item.key, result)
        return feed

    def _request(
        self, n: int, item: Item, sampling: int, *, with_filter: bool = True
    ) -> ua.MonitoredItemCreateRequest:
        rv = ua.ReadValueId()
        rv.NodeId = item.node
        rv.AttributeId = AttributeIds.Value
        params = ua.MonitoringParameters()
        params.ClientHandle = n + 1
        params.SamplingInterval = sampling
        params.QueueSize = self.device.queue_size
        params.DiscardOldest = True
        if with_filter and item.deadband is not None:
            mfilter = ua.DataChangeFilter()
            mfilter.Trigger = ua.DataChangeTrigger.StatusValue
            mfilter.DeadbandType = 1 if item.deadband.type == "absolute" else 2
            mfilter.DeadbandValue = item.deadband.value
            params.Filter = mfilter
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = rv
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = params
        return request

    def _item_refused(self, key: str, status: ua.StatusCode) -> None:
        if key not in self._reported:
            self._reported.add(key)
            log.error(
                "server refused a monitored item; the signal is Bad",
                extra={"device": self.device.name, "signal": key, "status": status.name},
            )
        if self._emit is not None:
            q = quality.from_status_code(status.value) or quality.BAD
            self._emit([Record(key, None, utcnow(), None, q)])

    def on_items(self, items: Sequence[ua.MonitoredItemNotification]) -> None:
        """Records from one publish response (called by the feed)."""
        now = utcnow()
        keys = self._keys
        record = self._record
        out = [record(keys[item.ClientHandle - 1], item.Value, now) for item in items]
        if out and self._emit is not None:
            self._emit(out)

    def on_status(self, status: ua.StatusCode) -> None:
        """The server reports the subscription's status (e.g. BadTimeout: it is gone)."""
        if not status.is_good() and self._lost is not None and not self._lost.done():
            self._lost.set_result(LinkLost(f"subscription status {status.name}"))

    def _record(self, key: str, dv: ua.DataValue | None, now: Any) -> Record:
        if dv is None:
            return Record(key, None, now, None, quality.BAD)
        variant = dv.Value
        value, mismatch = to_value(variant.Value if variant is not None else None)
        status = dv.StatusCode
        q = (
            mismatch
            if mismatch is not None
            else quality.from_status_code(status.value if status is not None else 0)
        )
        source = dv.SourceTimestamp or dv.ServerTimestamp
        return Record(key, to_utc(source), now, value, q)

    async def _watch(self) -> None:
        assert self._lost is not None
        keepalive = (
            max(
                (f.parameters.RequestedPublishingInterval * f.parameters.RequestedMaxKeepAliveCount)
                / 1000
                for f in self._feeds
            )
            if self._feeds
            else 10.0
        )
        stale_after = max(10.0, 3 * keepalive)
        while True:
            done, _ = await asyncio.wait({self._lost}, timeout=1.0)
            if done:
                exc = self._lost.result()
                raise LinkLost(f"{self.endpoint}: {_reason(exc)}")
            now = time.monotonic()
            for feed in self._feeds:
                if feed.last_publish_at is not None and now - feed.last_publish_at > stale_after:
                    raise LinkLost(f"{self.endpoint}: no publish response for {stale_after:.0f}s")

    async def _poll_instead(self, emit: Emit) -> None:
        group = PollGroup(index=0, interval_s=self.device.publishing_interval_ms / 1000)
        while True:
            emit(await self.poll(group))
            assert self._lost is not None
            with contextlib.suppress(asyncio.TimeoutError):
                exc = await asyncio.wait_for(asyncio.shield(self._lost), group.interval_s)
                raise LinkLost(f"{self.endpoint}: {_reason(exc)}")


_FILTER_REFUSED = {
    StatusCodes.BadFilterNotAllowed,
    StatusCodes.BadMonitoredItemFilterUnsupported,
    StatusCodes.BadMonitoredItemFilterInvalid,
    StatusCodes.BadDeadbandFilterInvalid,
}


def _reason(err: BaseException) -> str:
    return str(err) or type(err).__name__


def _certificate_uri(data: bytes) -> str | None:
    """The application URI in a certificate's subject alternative names (DER or PEM)."""
    try:
        cert = (
            x509.load_pem_x509_certificate(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(data)
        )
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None
