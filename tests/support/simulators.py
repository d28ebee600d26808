"""The plant simulators as a test fixture: `mes sim` in a subprocess on free ports.

A subprocess (not the test's event loop) so the simulator has its own interpreter, like real
equipment, and can be killed or restarted; it is driven through its control endpoint, which
also exercises that endpoint.

    with running_simulators(broker, scenario="demo", seed=7, speed=10) as sim:
        sim.opcua_url, sim.modbus_port, sim.broker.port, sim.event_log
        config = sim.gateway_config()           # docs/gateway-config.md, ${MES_...} references
        env = sim.env                           # the MES_* values those references resolve to
        sim.command("CNC-101", "stop")          # machine commands (start, stop, reset, ...)
        fault = sim.fault("opcua", "restart", duration=3)   # wire faults (see simulators.faults)
        sim.wait_for_event(lambda e: e["type"] == "failure", timeout=60)
        await sim.acommand(...) / await sim.afault(...)     # the same from async tests

Faults: `drop`, `stall`, `restart` on the servers `opcua`/`modbus`/`mqtt`; `offline`, `freeze`,
`malformed`, `out_of_range`, `bad_quality`, `skew` (skew_s=...) on machines; see
`simulators.faults` for which applies where.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.mosquitto import Broker
from tests.support.net import LOOPBACK, free_port, wait_until

MES = str(Path(sys.executable).parent / "mes")
START_TIMEOUT = 120.0  # asyncua builds its standard address space at start (seconds on 2 cores)


class ControlError(RuntimeError):
    """The control endpoint refused a request (status and message)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        error = body.get("error", {})
        super().__init__(f"{status}: {error.get('message')}")
        self.status = status
        self.field = error.get("field")
        self.body = body


@dataclass
class SimProcess:
    """A `mes sim` process; see the module doc."""

    broker: Broker
    scenario: str = "demo"
    seed: int = 42
    speed: float = 10.0
    params: dict[str, str] = field(default_factory=dict)
    protocols: tuple[str, ...] = ()
    opcua_security: str = "none"
    extra_args: tuple[str, ...] = ()
    start_time: str | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mes-sim-")))
    host: str = LOOPBACK
    opcua_port: int = field(default_factory=free_port)
    modbus_port: int = field(default_factory=free_port)
    control_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # --- where things are --------------------------------------------------------------------

    @property
    def opcua_url(self) -> str:
        """Endpoint URL of the OPC UA server."""
        return f"opc.tcp://{self.host}:{self.opcua_port}/knu-mes/"

    @property
    def control_url(self) -> str:
        """Base URL of the control endpoint."""
        return f"http://{self.host}:{self.control_port}"

    @property
    def event_log(self) -> Path:
        """The ground-truth event log (JSONL)."""
        return self.workdir / "events.jsonl"

    @property
    def pki_dir(self) -> Path:
        """Generated OPC UA certificates (server-*, client-*)."""
        return self.workdir / "pki"

    @property
    def log_file(self) -> Path:
        """The simulator's own log."""
        return self.workdir / "sim.log"

    @property
    def env(self) -> dict[str, str]:
        """MES_* settings of this instance (ports for the gateway config's ${...} references)."""
        return {
            "MES_SIM_OPCUA_HOST": self.host,
            "MES_SIM_OPCUA_PORT": str(self.opcua_port),
            "MES_SIM_MODBUS_HOST": self.host,
            "MES_SIM_MODBUS_PORT": str(self.modbus_port),
            "MES_SIM_CONTROL_HOST": self.host,
            "MES_SIM_CONTROL_PORT": str(self.control_port),
            "MES_SIM_EVENT_LOG": str(self.event_log),
            "MES_SIM_PKI_DIR": str(self.pki_dir),
            "MES_SIM_OPCUA_SECURITY": self.opcua_security,
            "MES_MQTT_HOST": self.broker.host,
            "MES_MQTT_PORT": str(self.broker.port),
        }

    # --- lifecycle ---------------------------------------------------------------------------

    def command_line(self) -> list[str]:
        """The `mes sim` invocation."""
        args = [MES, "sim", "--scenario", self.scenario, "--seed", str(self.seed),
                "--speed", str(self.speed)]  # fmt: skip
        for key, value in self.params.items():
            args += ["--param", f"{key}={value}"]
        for protocol in self.protocols:
            args += ["--only", protocol]
        if self.start_time:
            args += ["--start", self.start_time]
        return [*args, *self.extra_args]

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start and wait until every server is up (the control endpoint says ready)."""
        if self.process is not None and self.process.poll() is None:
            return
        env = {**os.environ, **self.env, "MES_LOG_FORMAT": "text"}
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            self.command_line(), env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_until(self._ready, timeout=timeout, what=f"simulators ({self.log_file})")

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            tail = self.log_file.read_text()[-3000:]
            raise RuntimeError(f"mes sim exited with {self.process.returncode}:\n{tail}")
        try:
            return bool(self.status().get("ready"))
        except (OSError, ControlError):
            return False

    def stop(self) -> None:
        """Stop gracefully (MQTT devices publish offline, the log gets run_end)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """Stop abruptly (no offline status: the broker sends the last wills)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    # --- the control endpoint (synchronous) ----------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.control_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise ControlError(err.code, json.loads(err.read() or b"{}")) from None

    def status(self) -> dict[str, Any]:
        """GET /status."""
        return dict(self._call("GET", "/status"))

    def machine(self, code: str) -> dict[str, Any]:
        """GET /machines/{code}: state, counters, latest values."""
        return dict(self._call("GET", f"/machines/{code}"))

    def command(
        self, code: str, command: str, value: float | None = None, **params: Any
    ) -> dict[str, Any]:
        """POST /machines/{code}/command (start, stop, reset, setpoint, fail, maintain)."""
        body: dict[str, Any] = {"command": command, **params}
        if value is not None:
            body["value"] = value
        return dict(self._call("POST", f"/machines/{code}/command", body))

    def fault(
        self, target: str, kind: str, *, at: float = 0.0, duration: float | None = None,
        skew_s: float | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """POST /faults; `duration` None keeps it until cleared."""
        body: dict[str, Any] = {"target": target, "kind": kind, "at": at}
        if duration is not None:
            body["for"] = duration
        if skew_s is not None:
            body["skew_s"] = skew_s
        return dict(self._call("POST", "/faults", body))

    def clear_fault(self, fault_id: int) -> dict[str, Any]:
        """DELETE /faults/{id}."""
        return dict(self._call("DELETE", f"/faults/{fault_id}"))

    def clear_faults(self) -> list[dict[str, Any]]:
        """DELETE /faults."""
        return list(self._call("DELETE", "/faults"))

    def set_speed(self, speed: float) -> dict[str, Any]:
        """PUT /speed."""
        return dict(self._call("PUT", "/speed", {"speed": speed}))

    # --- the same for async tests --------------------------------------------------------------

    async def astatus(self) -> dict[str, Any]:
        """`status` without blocking the event loop."""
        return await asyncio.to_thread(self.status)

    async def acommand(
        self, code: str, command: str, value: float | None = None, **params: Any
    ) -> dict[str, Any]:
        """`command` without blocking the event loop."""
        return await asyncio.to_thread(self.command, code, command, value, **params)

    async def afault(self, target: str, kind: str, **kwargs: Any) -> dict[str, Any]:
        """`fault` without blocking the event loop."""
        return await asyncio.to_thread(self.fault, target, kind, **kwargs)

    async def aclear_faults(self) -> list[dict[str, Any]]:
        """`clear_faults` without blocking the event loop."""
        return await asyncio.to_thread(self.clear_faults)

    # --- ground truth --------------------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """The event log so far."""
        if not self.event_log.exists():
            return []
        lines = self.event_log.read_bytes().split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def wait_for_event(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60.0
    ) -> dict[str, Any]:
        """The first logged event matching `predicate` (polls the log)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if predicate(event):
                    return event
            time.sleep(0.1)
        raise TimeoutError(f"no matching event in {self.event_log} after {timeout:.0f}s")

    async def await_event(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = 60.0
    ) -> dict[str, Any]:
        """`wait_for_event` for async tests."""
        return await asyncio.to_thread(self.wait_for_event, predicate, within)

    # --- configuration for clients -------------------------------------------------------------

    def gateway_config(self, **options: Any) -> dict[str, Any]:
        """`mes sim export-gateway-config` for this scenario (${MES_...} references kept)."""
        from simulators.gateway_config import ExportOptions, gateway_config
        from simulators.scenario import load_scenario

        opts = ExportOptions(opcua_security=self.opcua_security, **options)  # type: ignore[arg-type]
        return gateway_config(load_scenario(self.scenario, self.params), opts)

    def write_gateway_config(self, path: Path | None = None, **options: Any) -> Path:
        """Write the gateway config; load it with `env` in the environment."""
        target = path or self.workdir / "gateway.yaml"
        target.write_text(yaml.safe_dump(self.gateway_config(**options), sort_keys=False))
        return target

    def register_map(self) -> dict[str, Any]:
        """`mes sim export-register-map` for this scenario."""
        from simulators.protocols.registermap import register_map_export
        from simulators.scenario import load_scenario

        return register_map_export(load_scenario(self.scenario, self.params))


@contextmanager
def running_simulators(broker: Broker, **options: Any) -> Iterator[SimProcess]:
    """A started `SimProcess` (options as its fields), stopped and cleaned up afterwards."""
    sim = SimProcess(broker=broker, **options)
    try:
        sim.start()
        yield sim
    finally:
        sim.stop()
        shutil.rmtree(sim.workdir, ignore_errors=True)
