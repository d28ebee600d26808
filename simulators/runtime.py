"""The live simulator: the plant advanced in step with the wall clock (times `speed`), its
samples served over OPC UA, Modbus TCP and MQTT, its events logged, and the control endpoint.

The model only ever sees simulated time: each tick advances the plant to
`(wall - wall_at_start) * speed`, so jitter in the ticks changes when values are published,
never which values there are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from simulators.control import ControlServer, HttpError
from simulators.faults import Fault, FaultBook, FaultError, FaultSpec
from simulators.model.events import Event, EventLog
from simulators.model.plant import CommandError, Plant
from simulators.model.timefmt import iso_ms, to_ms
from simulators.runinfo import run_start_event
from simulators.scenario.definitions import Scenario

log = logging.getLogger(__name__)
Protocol = Literal["opcua", "modbus", "mqtt"]
PROTOCOLS: tuple[Protocol, ...] = ("opcua", "modbus", "mqtt")
MAX_SPEED = 10000.0


@dataclass(frozen=True)
class Endpoints:
    """Where each server listens (port 0: any free port) and where the broker is."""

    opcua_host: str
    opcua_port: int
    modbus_host: str
    modbus_port: int
    mqtt_host: str
    mqtt_port: int
    control_host: str
    control_port: int
    mqtt_tls: bool = False
    mqtt_username: str | None = None
    mqtt_password: str | None = None


@dataclass(frozen=True)
class RuntimeOptions:
    """Everything a live run needs."""

    scenario: Scenario
    seed: int
    speed: float
    endpoints: Endpoints
    event_log: Path | None
    origin: datetime | None = None  # default: the scenario's start, else now
    protocols: frozenset[str] = frozenset(PROTOCOLS)
    opcua_security: Literal["none", "sign-encrypt", "both"] = "none"
    pki_dir: Path | None = None
    faults: tuple[FaultSpec, ...] = ()
    cycle_events: bool = True
    tick_s: float = 0.05


@dataclass
class Counters:
    """Load of the tick loop."""

    ticks: int = 0
    busy_s: float = 0.0
    started: float = field(default_factory=time.monotonic)
    last_tick_s: float = 0.0
    max_tick_s: float = 0.0
    samples: int = 0
    values: int = 0


class SimulatorRuntime:
    """One live run (see module doc); also the target of the control endpoint."""

    def __init__(self, options: RuntimeOptions) -> None:
        if not 0 < options.speed <= MAX_SPEED:
            raise ValueError(f"speed must be > 0 and <= {MAX_SPEED:g}")
        self.options = options
        self.scenario = options.scenario
        start = options.origin or self.scenario.start or datetime.now(UTC).replace(microsecond=0)
        self.origin = start.astimezone(UTC)
        self.origin_s = self.origin.timestamp()
        self.plant = Plant(self.scenario, options.seed, cycle_events=options.cycle_events)
        self.faultbook = FaultBook(self.scenario)
        self.faultbook.listeners.append(self._log_fault)
        self.event_log = EventLog(options.event_log, self.origin_s)
        self.speed = options.speed
        self.ready = False
        self.counters = Counters()
        self._names = [[g.names for g in m.groups] for m in self.plant.machines]
        self._by_protocol = {p: self.scenario.by_protocol(p) for p in PROTOCOLS}
        self._wall0 = 0.0
        self._sim0 = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self.opcua: Any = None
        self.modbus: Any = None
        self.mqtt: Any = None
        ep = options.endpoints
        self.control = ControlServer(self, ep.control_host, ep.control_port)

    # --- lifecycle -----------------------------------------------------------------------------

    def _serves(self, protocol: Protocol) -> bool:
        return protocol in self.options.protocols and bool(self.scenario.by_protocol(protocol))

    async def start(self) -> None:
        """Control endpoint first (`ready: false` meanwhile), then the servers, then the clock."""
        await self.control.start()
        ep = self.options.endpoints
        starting = []
        if self._serves("opcua"):
            from simulators.protocols.opcua import OpcuaServer
            from simulators.protocols.pki import ensure_pki

            pki = None
            if self.options.opcua_security != "none":
                if self.options.pki_dir is None:
                    raise ValueError("OPC UA security needs a certificate directory (pki_dir)")
                pki = ensure_pki(
                    self.options.pki_dir, ep.opcua_host, self.scenario.opcua.application_uri
                )
            self.opcua = OpcuaServer(
                self.scenario,
                self.faultbook,
                self._command,
                ep.opcua_host,
                ep.opcua_port,
                self.origin_s,
                security=self.options.opcua_security,
                pki=pki,
            )
            starting.append(self.opcua.start())
        if self._serves("modbus"):
            from simulators.protocols.modbus import ModbusServer

            self.modbus = ModbusServer(
                self.scenario, self.faultbook, self._command, ep.modbus_host, ep.modbus_port
            )
            starting.append(self.modbus.start())
        if self._serves("mqtt"):
            from simulators.protocols.mqtt import MqttConnection, MqttPublisher

            conn = MqttConnection(
                ep.mqtt_host, ep.mqtt_port, ep.mqtt_tls, ep.mqtt_username, ep.mqtt_password
            )
            self.mqtt = MqttPublisher(self.scenario, self.faultbook, conn, self.origin_s)
            starting.append(self.mqtt.start())
        await asyncio.gather(*starting)
        if self.options.origin is None and self.scenario.start is None:
            await self._align_origin()  # simulated time starts now, on a whole second
        self.event_log.write(
            [
                run_start_event(
                    self.scenario,
                    self.options.seed,
                    origin=self.origin,
                    mode="live",
                    speed=self.speed,
                )
            ]
        )
        for spec in self.options.faults:
            self.faultbook.add(spec)
        loop = asyncio.get_running_loop()
        self._wall0, self._sim0 = loop.time(), 0.0
        await self._tick()  # the values at t=0 are on the wire before `ready`
        self.ready = True
        self._task = loop.create_task(self._run())
        log.info("simulator ready", extra={"status": self.status()})

    async def _align_origin(self) -> None:
        """Wait for the next whole second and make it t=0 (samples land on whole seconds)."""
        now = time.time()
        await asyncio.sleep(math.ceil(now) - now)
        self.origin = datetime.fromtimestamp(math.ceil(now), UTC)
        self.origin_s = self.origin.timestamp()
        self.event_log.origin_s = self.origin_s
        for server in (self.opcua, self.mqtt):
            if server is not None:
                server.origin_s = self.origin_s

    async def wait(self) -> None:
        """Until `stop()`."""
        await self._stopped.wait()

    async def stop(self) -> None:
        """Stop the clock and the servers; the event log ends with `run_end`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for server in (self.mqtt, self.modbus, self.opcua):
            if server is not None:
                await server.stop()
        await self.control.stop()
        self.event_log.write([Event(self.plant.now, "run_end", None, {"reason": "stopped"})])
        self.event_log.close()
        self.ready = False
        self._stopped.set()

    # --- the clock -----------------------------------------------------------------------------

    def sim_time(self) -> float:
        """Simulated seconds the wall clock asks for now."""
        return self._sim0 + (asyncio.get_running_loop().time() - self._wall0) * self.speed

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        tick = self.options.tick_s
        while True:
            began = loop.time()
            await self._tick()
            spent = loop.time() - began
            await asyncio.sleep(max(0.0, tick - spent))

    async def _tick(self) -> None:
        began = time.monotonic()
        self.faultbook.tick()
        samples = self.plant.advance(self.sim_time())
        self.event_log.write(self.plant.drain_events())
        names = self._names
        if self.modbus is not None:
            for m in self._by_protocol["modbus"]:
                machine = self.plant.machines[m.index]
                self.modbus.sync_controls(m, machine.setpoint, machine.enabled)
            self.modbus.publish(samples, names)
        if self.mqtt is not None:
            self.mqtt.publish(samples, names)
        if self.opcua is not None:
            for m in self._by_protocol["opcua"]:
                machine = self.plant.machines[m.index]
                await self.opcua.sync_controls(m, machine.setpoint, machine.enabled)
            await self.opcua.publish(samples, names)
        self.event_log.write(self.plant.drain_events())  # commands run while publishing
        self.event_log.flush()
        c = self.counters
        spent = time.monotonic() - began
        c.ticks += 1
        c.busy_s += spent
        c.last_tick_s = spent
        c.max_tick_s = max(c.max_tick_s, spent)
        c.samples += len(samples)
        c.values += sum(len(s.values) for s in samples)

    # --- commands and faults -----------------------------------------------------------------

    def _command(
        self, code: str, command: str, value: float | None = None, *, source: str, **params: Any
    ) -> dict[str, Any]:
        return self.plant.command(code, command, value, source=source, **params)

    def _log_fault(self, fault: Fault, active: bool) -> None:
        self.plant.engine.emit(
            self.plant.now,
            "fault",
            None,
            id=fault.id,
            target=fault.target,
            kind=fault.kind,
            action="start" if active else "end",
            machines=list(fault.machines),
            params=fault.params,
        )

    # --- the control endpoint ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Run facts, servers and load."""
        c = self.counters
        elapsed = max(1e-9, time.monotonic() - c.started)
        servers: dict[str, Any] = {"control": {"port": self.control.port}}
        if self.opcua is not None:
            servers["opcua"] = {
                "endpoint": self.opcua.endpoint,
                "port": self.opcua.port,
                "listening": self.opcua.proxy.listening,
                "connections": self.opcua.proxy.connections,
                "values_published": self.opcua.values_published,
                "namespace": self.scenario.opcua.namespace,
                "security": self.opcua.security,
            }
        if self.modbus is not None:
            servers["modbus"] = {
                "port": self.modbus.port,
                "listening": self.modbus.proxy.listening,
                "connections": self.modbus.proxy.connections,
                "requests": self.modbus.requests,
                "values_published": self.modbus.values_published,
            }
        if self.mqtt is not None:
            servers["mqtt"] = {
                "broker": f"{self.mqtt.conn.host}:{self.mqtt.conn.port}",
                "devices": len(self.mqtt.devices),
                "connected": self.mqtt.connected,
                "values_published": self.mqtt.values_published,
            }
        now = self.plant.now
        return {
            "ready": self.ready,
            "scenario": self.scenario.name,
            "seed": self.options.seed,
            "speed": self.speed,
            "origin": iso_ms(round(self.origin_s * 1000)),
            "sim_t": round(now, 3),
            "sim_ts": iso_ms(to_ms(self.origin_s, now)),
            "event_log": str(self.options.event_log) if self.options.event_log else None,
            "events_logged": self.event_log.seq,
            "servers": servers,
            "faults": self.faultbook.describe(),
            "load": {
                "ticks": c.ticks,
                "busy_s": round(c.busy_s, 4),
                "busy_ratio": round(c.busy_s / elapsed, 4),
                "last_tick_s": round(c.last_tick_s, 4),
                "max_tick_s": round(c.max_tick_s, 4),
                "samples": c.samples,
                "values": c.values,
            },
        }

    def machines(self) -> list[dict[str, Any]]:
        """Every machine's snapshot."""
        return [m.snapshot() for m in self.plant.machines]

    def machine(self, code: str) -> dict[str, Any]:
        """One machine's snapshot; 404 when unknown."""
        if code not in self.plant.by_code:
            raise HttpError(404, f"unknown machine {code!r}")
        return self.plant.by_code[code].snapshot()

    def command(self, code: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run a machine command from the endpoint."""
        if code not in self.plant.by_code:
            raise HttpError(404, f"unknown machine {code!r}")
        command = body.get("command")
        if not isinstance(command, str):
            raise HttpError(
                400, "command is required (start, stop, reset, setpoint, fail, maintain)", "command"
            )
        value = body.get("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise HttpError(400, "value must be a number", "value")
        params = {k: v for k, v in body.items() if k not in ("command", "value")}
        unknown = set(params) - {"mode", "response", "duration", "alarm_code"}
        if unknown:
            raise HttpError(400, f"unknown keys: {', '.join(sorted(unknown))}", sorted(unknown)[0])
        try:
            return self._command(code, command, value, source="control", **params)
        except CommandError as err:
            raise HttpError(400, str(err), "value" if command == "setpoint" else "command") from err
        finally:  # accepted or refused, the command is in the log when the answer arrives
            self.event_log.write(self.plant.drain_events())
            self.event_log.flush()

    def faults(self) -> list[dict[str, Any]]:
        """Active and pending faults."""
        return self.faultbook.describe()

    def add_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        """Inject a fault: {"target", "kind", "at"?, "for"?, "skew_s"?}."""
        unknown = set(body) - {"target", "kind", "at", "for", "skew_s"}
        if unknown:
            raise HttpError(400, f"unknown keys: {', '.join(sorted(unknown))}", sorted(unknown)[0])
        for key in ("target", "kind"):
            if not isinstance(body.get(key), str):
                raise HttpError(400, f"{key} is required", key)
        numbers: dict[str, float | None] = {}
        for key in ("at", "for", "skew_s"):
            raw = body.get(key)
            if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | float)):
                raise HttpError(400, f"{key} must be a number of seconds", key)
            numbers[key] = None if raw is None else float(raw)
        spec = FaultSpec(
            body["target"],
            body["kind"],
            numbers["at"] or 0.0,
            numbers["for"],
            {"skew_s": numbers["skew_s"]} if numbers["skew_s"] is not None else {},
        )
        try:
            fault = self.faultbook.add(spec)
        except FaultError as err:
            raise HttpError(400, str(err), err.field) from err
        self.event_log.write(self.plant.drain_events())
        self.event_log.flush()
        return fault.describe(self.faultbook.clock())

    def clear_fault(self, fault_id: int) -> dict[str, Any]:
        """End one fault; 404 when unknown."""
        try:
            fault = self.faultbook.clear(fault_id)
        except KeyError:
            raise HttpError(404, f"no fault {fault_id}") from None
        self.event_log.write(self.plant.drain_events())
        return fault.describe(self.faultbook.clock())

    def clear_faults(self) -> list[dict[str, Any]]:
        """End every fault."""
        now = self.faultbook.clock()
        cleared = [f.describe(now) for f in self.faultbook.clear_all()]
        self.event_log.write(self.plant.drain_events())
        return cleared

    def set_speed(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change the speed from now on."""
        speed = body.get("speed")
        if (
            isinstance(speed, bool)
            or not isinstance(speed, int | float)
            or not 0 < speed <= MAX_SPEED
        ):
            raise HttpError(400, f"speed must be a number > 0 and <= {MAX_SPEED:g}", "speed")
        self._sim0 = self.sim_time()
        self._wall0 = asyncio.get_running_loop().time()
        self.speed = float(speed)
        self.plant.engine.emit(
            self.plant.now,
            "command",
            None,
            command="speed",
            value=self.speed,
            source="control",
            accepted=True,
        )
        return {"speed": self.speed}
