"""OPC UA server (asyncua): `Objects/<site>/<line>/<machine>/<signal>` with DataTypes,
EngineeringUnits and EURange, source timestamps in simulated time and status codes; writable
command nodes under `<machine>/Commands`; security None and/or Basic256Sha256.

Node ids are strings in the namespace `urn:knu-mes:simulator`: `s=<machine>.<signal>` for
signals, `s=<machine>.cmd.<command>` for commands. The address space is created with one
AddNodes call (thousands of variables in seconds); values are written straight into the
address space so monitored items (subscriptions) see every change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any, Literal, cast

from asyncua import ua
from asyncua.server.address_space import NodeData
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaStatusCodeError

from simulators.faults import Fault, FaultBook
from simulators.model.plant import CommandError, Sample
from simulators.model.timefmt import to_datetime, to_ms
from simulators.protocols.pki import Pki
from simulators.protocols.proxy import FaultProxy
from simulators.scenario.definitions import MachineDef, Scenario, SignalDef

log = logging.getLogger(__name__)
CommandFn = Callable[..., dict[str, Any]]
Security = Literal["none", "sign-encrypt", "both"]
UNITS_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"
UNECE = {  # UN/CEFACT Recommendation 20 common codes
    "rpm": "RPM",
    "degC": "CEL",
    "mm/s": "C16",
    "A": "AMP",
    "bar": "BAR",
    "l/min": "L2",
    "kN": "B47",
    "Nm": "NU",
    "deg": "DD",
    "ml/min": "41",
    "s": "SEC",
    "pcs": "C62",
    "%": "P1",
}
VARIANT = {
    "uint16": ua.VariantType.UInt16,
    "uint32": ua.VariantType.UInt32,
    "float32": ua.VariantType.Float,
}
DATATYPE = {
    "uint16": ObjectIds.UInt16,
    "uint32": ObjectIds.UInt32,
    "float32": ObjectIds.Float,
}
STATE_NAMES = ["idle", "setup", "running", "blocked", "starved", "down", "maintenance"]
COMMANDS = (("start", "Boolean"), ("stop", "Boolean"), ("reset", "Boolean"), ("setpoint", "Float"))
GOOD = ua.StatusCode(cast(ua.UInt32, StatusCodes.Good))
BAD_SENSOR = ua.StatusCode(cast(ua.UInt32, StatusCodes.BadSensorFailure))
BAD_NO_COMMUNICATION = ua.StatusCode(cast(ua.UInt32, StatusCodes.BadNoCommunication))
YIELD_EVERY = 500  # writes between yields to the event loop


class SharedDataValue(ua.DataValue):
    """A DataValue the server may share instead of copying.

    asyncua deep-copies every value it hands to a monitored item to protect mutable contents;
    ours are built fresh for each write and never changed, so the copy (most of the cost of a
    write with subscribers) is skipped.
    """

    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedDataValue:
        return self


def node_id(text: str, ns: int) -> ua.NodeId:
    """A string node id in namespace `ns`."""
    return ua.NodeId(cast(ua.String, text), cast(ua.Int16, ns))


def std(object_id: int) -> ua.NodeId:
    """A node id of the standard namespace."""
    return ua.NodeId(cast(ua.Int32, object_id))


def stamp(moment: datetime) -> ua.DateTime:
    """A datetime as asyncua's DateTime type (the same object)."""
    return cast(ua.DateTime, moment)


def unit_id(code: str) -> int:
    """OPC UA UnitId of a UN/CEFACT code (its ASCII bytes, big-endian).

    >>> unit_id("CEL")
    4408652
    """
    value = 0
    for char in code:
        value = (value << 8) | ord(char)
    return value


def eu_information(unit: str) -> ua.EUInformation:
    """EngineeringUnits of `unit`."""
    code = UNECE.get(unit)
    return ua.EUInformation(
        NamespaceUri=UNITS_NAMESPACE,
        UnitId=unit_id(code) if code else -1,
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(unit),
    )


class _Nodes:
    """Builds the AddNodes items of the address space."""

    def __init__(self, ns: int) -> None:
        self.ns = ns
        self.items: list[ua.AddNodesItem] = []

    def nid(self, text: str) -> ua.NodeId:
        return node_id(text, self.ns)

    def obj(self, nid: ua.NodeId, name: str, parent: ua.NodeId, folder: bool, ref: int) -> None:
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = nid
        item.BrowseName = ua.QualifiedName(name, self.ns)
        item.NodeClass = ua.NodeClass.Object
        item.ParentNodeId = parent
        item.ReferenceTypeId = std(ref)
        item.TypeDefinition = std(ObjectIds.FolderType if folder else ObjectIds.BaseObjectType)
        attrs = ua.ObjectAttributes()
        attrs.DisplayName = ua.LocalizedText(name)
        attrs.Description = ua.LocalizedText(name)
        item.NodeAttributes = attrs
        self.items.append(item)

    def var(
        self,
        nid: ua.NodeId,
        name: str,
        parent: ua.NodeId,
        value: ua.Variant,
        datatype: int,
        typedef: int,
        *,
        writable: bool = False,
        sampling_ms: float = 0.0,
        description: str = "",
        prop: bool = False,
    ) -> None:
        item = ua.AddNodesItem()
        item.RequestedNewNodeId = nid
        item.BrowseName = ua.QualifiedName(name, 0 if prop else self.ns)
        item.NodeClass = ua.NodeClass.Variable
        item.ParentNodeId = parent
        item.ReferenceTypeId = std(ObjectIds.HasProperty if prop else ObjectIds.HasComponent)
        item.TypeDefinition = std(typedef)
        attrs = ua.VariableAttributes()
        attrs.DisplayName = ua.LocalizedText(name)
        attrs.Description = ua.LocalizedText(description or name)
        attrs.DataType = std(datatype)
        attrs.Value = value
        if isinstance(value.Value, list):
            attrs.ValueRank = ua.ValueRank.OneDimension
            attrs.ArrayDimensions = [len(value.Value)]
        else:
            attrs.ValueRank = ua.ValueRank.Scalar
        access = ua.AccessLevel.CurrentRead.mask
        if writable:
            access |= ua.AccessLevel.CurrentWrite.mask
        attrs.AccessLevel = access
        attrs.UserAccessLevel = access
        attrs.MinimumSamplingInterval = sampling_ms
        item.NodeAttributes = attrs
        self.items.append(item)


class OpcuaServer:
    """The plant's OPC UA server, behind a fault proxy."""

    def __init__(
        self,
        scenario: Scenario,
        faults: FaultBook,
        command: CommandFn,
        host: str,
        port: int,
        origin_s: float,
        *,
        security: Security = "none",
        pki: Pki | None = None,
    ) -> None:
        if security != "none" and pki is None:
            raise ValueError("OPC UA security needs certificates (pki)")
        self.scenario = scenario
        self.faults = faults
        self.command = command
        self.host = host
        self.origin_s = origin_s
        self.security: Security = security
        self.pki = pki
        self.machines = {m.index: m for m in scenario.by_protocol("opcua")}
        self.ns = 0
        self._server: Server | None = None
        self._backend_port = 0
        self.proxy = FaultProxy("opcua", host, port, lambda: (self.host, self._backend_port))
        self._node_ids: dict[int, dict[str, ua.NodeId]] = {}
        self._last: dict[ua.NodeId, ua.DataValue] = {}
        self._controls: dict[int, tuple[float, bool]] = {}
        self.values_published = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        faults.listeners.append(self._on_fault)

    @property
    def port(self) -> int:
        """The public port."""
        return self.proxy.port

    @property
    def endpoint(self) -> str:
        """The endpoint URL clients use."""
        return f"opc.tcp://{self.host}:{self.port}{self.scenario.opcua.path}"

    async def start(self) -> None:
        """Listen on the public port, then build and start the server behind it."""
        await self.proxy.start()
        await self._start_backend()

    async def stop(self) -> None:
        """Stop listening and stop the server."""
        await self.proxy.stop()
        await self._stop_backend()

    # --- building ----------------------------------------------------------------------------

    async def _start_backend(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.socket_address = (self.host, 0)
        server.set_server_name("KNU MES plant simulator")
        await server.set_application_uri(self.scenario.opcua.application_uri)
        policies = {
            "none": [ua.SecurityPolicyType.NoSecurity],
            "sign-encrypt": [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt],
            "both": [
                ua.SecurityPolicyType.NoSecurity,
                ua.SecurityPolicyType.Basic256Sha256_Sign,
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            ],
        }[self.security]
        server.set_security_policy(policies)
        if self.pki is not None and self.security != "none":
            await server.load_certificate(str(self.pki.server_cert))
            await server.load_private_key(str(self.pki.server_key))
        self.ns = await server.register_namespace(self.scenario.opcua.namespace)
        nodes = self._build(_Nodes(self.ns))
        results = await server.iserver.isession.add_nodes(nodes.items)
        bad = [
            (i.RequestedNewNodeId, r.StatusCode)
            for i, r in zip(nodes.items, results, strict=True)
            if not r.StatusCode.is_good()
        ]
        if bad:
            raise RuntimeError(f"OPC UA address space: {len(bad)} nodes refused, first {bad[0]}")
        for m in self.machines.values():
            for name, _ in COMMANDS:
                server.set_attribute_value_setter(
                    node_id(f"{m.code}.cmd.{name}", self.ns), self._command_setter(m, name)
                )
        for nid, dv in self._last.items():
            await server.write_attribute_value(nid, dv)
        await server.start()
        assert server.bserver is not None
        self._server = server
        self._backend_port = server.bserver.port
        log.info("OPC UA server at %s (%d nodes)", self.endpoint, len(nodes.items))

    async def _stop_backend(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    def _build(self, nodes: _Nodes) -> _Nodes:
        sc = self.scenario
        objects = std(ObjectIds.ObjectsFolder)
        site = nodes.nid(sc.site_code)
        nodes.obj(site, sc.site_code, objects, True, ObjectIds.Organizes)
        lines_with_opcua = {m.line for m in self.machines.values()}
        for line in sc.lines:
            if line.code in lines_with_opcua:
                nodes.obj(
                    nodes.nid(f"{sc.site_code}/{line.code}"),
                    line.code,
                    site,
                    True,
                    ObjectIds.Organizes,
                )
        for m in self.machines.values():
            self._build_machine(nodes, m)
        return nodes

    def _build_machine(self, nodes: _Nodes, m: MachineDef) -> None:
        machine = nodes.nid(m.code)
        nodes.obj(machine, m.code, nodes.nid(f"{m.site}/{m.line}"), False, ObjectIds.Organizes)
        ids: dict[str, ua.NodeId] = {}
        for sig in m.signals:
            nid = nodes.nid(sig.key)
            ids[sig.name] = nid
            self._build_signal(nodes, nid, machine, sig)
        self._node_ids[m.index] = ids
        commands = nodes.nid(f"{m.code}.Commands")
        nodes.obj(commands, "Commands", machine, False, ObjectIds.HasComponent)
        for name, kind in COMMANDS:
            nid = nodes.nid(f"{m.code}.cmd.{name}")
            if kind == "Boolean":
                nodes.var(
                    nid,
                    name,
                    commands,
                    ua.Variant(False, ua.VariantType.Boolean),
                    ObjectIds.Boolean,
                    ObjectIds.BaseDataVariableType,
                    writable=True,
                    description=f"write true to {name}" + (" counters" if name == "reset" else ""),
                )
            else:
                nodes.var(
                    nid,
                    name,
                    commands,
                    ua.Variant(float(m.setpoint), ua.VariantType.Float),
                    ObjectIds.Float,
                    ObjectIds.AnalogItemType,
                    writable=True,
                    description="speed setpoint, % of nominal",
                )
                self._properties(nodes, nid, "%", 10.0, 120.0)

    def _build_signal(
        self, nodes: _Nodes, nid: ua.NodeId, parent: ua.NodeId, sig: SignalDef
    ) -> None:
        zero: float | int = 0.0 if sig.data_type == "float32" else 0
        value = ua.Variant(zero, VARIANT[sig.data_type])
        sampling = sig.period * 1000.0
        if sig.name == "state":
            typedef = ObjectIds.MultiStateDiscreteType
        elif sig.data_type == "float32":
            typedef = ObjectIds.AnalogItemType
        else:
            typedef = ObjectIds.BaseDataVariableType
        nodes.var(
            nid,
            sig.name,
            parent,
            value,
            DATATYPE[sig.data_type],
            typedef,
            sampling_ms=sampling,
            description=sig.description,
        )
        if sig.name == "state":
            names = [ua.LocalizedText(n) for n in STATE_NAMES]
            nodes.var(
                node_id(f"{sig.key}.EnumStrings", nodes.ns),
                "EnumStrings",
                nid,
                ua.Variant(names, ua.VariantType.LocalizedText),
                ObjectIds.LocalizedText,
                ObjectIds.PropertyType,
                prop=True,
            )
        if sig.data_type == "float32":
            self._properties(nodes, nid, sig.unit, sig.low, sig.high)
        elif sig.unit:
            self._properties(nodes, nid, sig.unit, None, None)

    @staticmethod
    def _properties(
        nodes: _Nodes, nid: ua.NodeId, unit: str | None, low: float | None, high: float | None
    ) -> None:
        key = str(nid.Identifier)
        if low is not None and high is not None:
            nodes.var(
                node_id(f"{key}.EURange", nodes.ns),
                "EURange",
                nid,
                ua.Variant(ua.Range(low, high)),
                ObjectIds.Range,
                ObjectIds.PropertyType,
                prop=True,
            )
        if unit:
            nodes.var(
                node_id(f"{key}.EngineeringUnits", nodes.ns),
                "EngineeringUnits",
                nid,
                ua.Variant(eu_information(unit)),
                ObjectIds.EUInformation,
                ObjectIds.PropertyType,
                prop=True,
            )

    # --- commands ----------------------------------------------------------------------------

    def _command_setter(
        self, m: MachineDef, name: str
    ) -> Callable[[NodeData, AttributeIds, ua.DataValue], None]:
        def setter(node: NodeData, attr: AttributeIds, dv: ua.DataValue) -> None:
            value = dv.Value.Value if dv.Value is not None else None
            stored = dv
            if name == "setpoint":
                current, _ = self._controls.get(m.index, (m.setpoint, True))
                if value is not None and float(value) != current:
                    self._run(m, "setpoint", float(value))
            elif value is True:
                self._run(m, name, None)
                stored = ua.DataValue(
                    ua.Variant(False, ua.VariantType.Boolean),
                    StatusCode=GOOD,
                    SourceTimestamp=dv.SourceTimestamp,
                    ServerTimestamp=dv.ServerTimestamp,
                )
            node.attributes[attr].value = stored

        return setter

    def _run(self, m: MachineDef, command: str, value: float | None) -> None:
        try:
            self.command(m.code, command, value, source="opcua")
        except CommandError as err:
            raise UaStatusCodeError(StatusCodes.BadOutOfRange) from err  # type: ignore[no-untyped-call]
        if command == "setpoint" and value is not None:
            _, run = self._controls.get(m.index, (m.setpoint, True))
            self._controls[m.index] = (value, run)

    async def sync_controls(self, machine: MachineDef, setpoint: float, run: bool) -> None:
        """Show the machine's current setpoint on its setpoint node."""
        if self._controls.get(machine.index) == (setpoint, run) or self._server is None:
            return
        self._controls[machine.index] = (setpoint, run)
        dv = ua.DataValue(ua.Variant(float(setpoint), ua.VariantType.Float), StatusCode=GOOD)
        await self._server.write_attribute_value(
            node_id(f"{machine.code}.cmd.setpoint", self.ns), dv
        )

    # --- values ------------------------------------------------------------------------------

    async def publish(self, samples: Iterable[Sample], names: list[list[list[str]]]) -> None:
        """Write new samples into the address space."""
        server = self._server
        if server is None:
            return
        aspace = server.iserver.aspace
        value_attr = AttributeIds.Value
        now = datetime.now(UTC)
        written = 0
        for s in samples:
            m = self.machines.get(s.machine)
            if m is None:
                continue
            faults = self.faults.on_machine(m.code)
            if "offline" in faults or "freeze" in faults:
                continue
            skew_ms = round(faults["skew"].params["skew_s"] * 1000) if "skew" in faults else 0
            ts = to_datetime(to_ms(self.origin_s, s.t) + skew_ms)
            ids = self._node_ids[m.index]
            odd = "out_of_range" in faults or "bad_quality" in faults
            for name, value in zip(names[s.machine][s.group], s.values, strict=True):
                sig_type = "float32" if isinstance(value, float) else None
                status = GOOD
                if odd and name not in _STANDARD:
                    if "out_of_range" in faults:
                        sig = m.signal(name)
                        value = sig.high + (sig.high - sig.low)
                    if "bad_quality" in faults:
                        status = BAD_SENSOR
                vtype = ua.VariantType.Float if sig_type else _INT_TYPES[name]
                dv = SharedDataValue(
                    ua.Variant(value, vtype),
                    StatusCode=status,
                    SourceTimestamp=stamp(ts),
                    ServerTimestamp=stamp(now),
                )
                nid = ids[name]
                self._last[nid] = dv
                await aspace.write_attribute_value(nid, value_attr, dv)
                written += 1
                if written % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
        self.values_published += written

    async def _lifecycle(self, *, up: bool) -> None:
        async with self._lock:
            if up:
                await self.start()
            else:
                await self.stop()

    async def _mark(self, code: str, status: ua.StatusCode) -> None:
        server = self._server
        m = next((m for m in self.machines.values() if m.code == code), None)
        if server is None or m is None:
            return
        now = datetime.now(UTC)
        for nid in self._node_ids[m.index].values():
            dv = SharedDataValue(
                ua.Variant(None),
                StatusCode=status,
                SourceTimestamp=stamp(now),
                ServerTimestamp=stamp(now),
            )
            self._last[nid] = dv
            await server.write_attribute_value(nid, dv)

    # --- faults ------------------------------------------------------------------------------

    def _on_fault(self, fault: Fault, active: bool) -> None:
        if fault.target == "opcua":
            if fault.kind == "drop" and active:
                self.proxy.drop()
            elif fault.kind == "stall":
                self.proxy.stall(active)
            elif fault.kind == "restart":
                self._background(self._lifecycle(up=not active))
        elif fault.kind == "offline" and fault.protocol == "opcua" and active:
            for code in fault.machines:
                self._background(self._mark(code, BAD_NO_COMMUNICATION))

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


_STANDARD = frozenset({"state", "good_count", "scrap_count", "alarm_code", "cycle_time"})
_INT_TYPES = {
    "state": ua.VariantType.UInt16,
    "alarm_code": ua.VariantType.UInt16,
    "good_count": ua.VariantType.UInt32,
    "scrap_count": ua.VariantType.UInt32,
}
