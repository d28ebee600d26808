"""`mes sim ...`: the plant simulators (OPC UA, Modbus TCP, MQTT) and their tooling.

mes sim [--scenario demo] [--seed N] [--speed X] [--only opcua] ...   run the servers
mes sim export-gateway-config --scenario demo [--out FILE]            gateway config v1
mes sim export-register-map --scenario demo [--out FILE]              Modbus map (JSON)
mes sim run-offline --scenario demo --hours 48 --out series.jsonl      no sockets, max speed
mes sim validate FILE                                                 check a scenario
mes sim status | command MACHINE CMD | fault TARGET KIND | clear-faults   control endpoint
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mes_cli.common import config_errors_exit

if TYPE_CHECKING:
    from simulators.scenario import Scenario
    from simulators.settings import SimSettings

app = typer.Typer(
    help="Plant simulators: OPC UA, Modbus TCP and MQTT devices from a scenario.",
    invoke_without_command=True,
)

SCENARIO_HELP = "built-in scenario (demo, scale, ...) or a YAML file (default MES_SIM_SCENARIO)"
PARAM_HELP = "generated-scenario parameter KEY=VALUE, e.g. machines=200 (repeatable)"


def _settings() -> SimSettings:
    from mes_common.settings import load_settings
    from simulators.settings import SimSettings

    return load_settings(SimSettings)


def _params(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--param")
        out[key] = value
    return out


def _scenario(name: str, params: list[str] | None) -> Scenario:
    from simulators.scenario import load_scenario

    return load_scenario(name, _params(params))


def _start_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    from simulators.model.timefmt import parse_iso

    try:
        return parse_iso(text)
    except ValueError as err:
        raise typer.BadParameter(f"{text!r}: {err}", param_hint="--start") from None


def _broker_url(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of `mqtt://host:port` or `mqtts://host:port`."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise typer.BadParameter(f"{url!r}: expected mqtt://HOST:PORT", param_hint="--mqtt-url")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        raise typer.BadParameter(f"{url!r}: the port is required", param_hint="--mqtt-url")
    return parts.hostname, port, parts.scheme in ("mqtts", "ssl")


@app.callback()
@config_errors_exit
def run(
    ctx: typer.Context,
    scenario: str | None = typer.Option(None, help=SCENARIO_HELP),
    param: list[str] | None = typer.Option(None, help=PARAM_HELP),
    seed: int | None = typer.Option(None, help="random seed (default MES_SIM_SEED)"),
    speed: float | None = typer.Option(None, help="simulated seconds per second (MES_SIM_SPEED)"),
    start: str | None = typer.Option(None, help="simulated start time, RFC 3339 (default now)"),
    only: list[str] | None = typer.Option(None, help="serve only these: opcua, modbus, mqtt"),
    opcua_host: str | None = typer.Option(None, help="default MES_SIM_OPCUA_HOST"),
    opcua_port: int | None = typer.Option(None, help="default MES_SIM_OPCUA_PORT"),
    modbus_host: str | None = typer.Option(None, help="default MES_SIM_MODBUS_HOST"),
    modbus_port: int | None = typer.Option(None, help="default MES_SIM_MODBUS_PORT"),
    mqtt_host: str | None = typer.Option(None, help="broker host (default MES_MQTT_HOST)"),
    mqtt_port: int | None = typer.Option(None, help="broker port (default MES_MQTT_PORT)"),
    mqtt_url: str | None = typer.Option(None, help="broker as mqtt://HOST:PORT or mqtts://..."),
    control_host: str | None = typer.Option(None, help="default MES_SIM_CONTROL_HOST"),
    control_port: int | None = typer.Option(None, help="default MES_SIM_CONTROL_PORT"),
    event_log: Path | None = typer.Option(None, help="ground-truth JSONL (MES_SIM_EVENT_LOG)"),
    opcua_security: str | None = typer.Option(
        None, help="none | sign-encrypt | both (default MES_SIM_OPCUA_SECURITY)"
    ),
    pki_dir: Path | None = typer.Option(None, help="certificates (default MES_SIM_PKI_DIR)"),
    fault: list[str] | None = typer.Option(
        None, help="inject TARGET:KIND[:at=S,for=S,skew=S], e.g. modbus:drop:at=30,for=5"
    ),
    no_cycle_events: bool = typer.Option(False, help="leave per-part cycle events out of the log"),
) -> None:
    """Run the simulated plant's servers until interrupted (Ctrl-C / SIGTERM)."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from mes_common.logging import configure_logging
    from simulators.faults import FaultError, parse_fault_spec
    from simulators.runtime import PROTOCOLS, Endpoints, RuntimeOptions
    from simulators.serve import StartError, serve

    s = _settings()
    configure_logging(s.log_level, s.log_format)
    protocols = set(only or PROTOCOLS)
    if unknown := protocols - set(PROTOCOLS):
        raise typer.BadParameter(f"unknown: {', '.join(sorted(unknown))}", param_hint="--only")
    security = opcua_security or s.sim_opcua_security
    if security not in ("none", "sign-encrypt", "both"):
        raise typer.BadParameter(f"{security!r}", param_hint="--opcua-security")
    mqtt_tls = s.mqtt_tls
    if mqtt_url is not None:
        mqtt_host, mqtt_port, mqtt_tls = _broker_url(mqtt_url)
    try:
        faults = tuple(parse_fault_spec(f) for f in fault or [])
    except FaultError as err:
        raise typer.BadParameter(str(err), param_hint="--fault") from None
    options = RuntimeOptions(
        scenario=_scenario(scenario or s.sim_scenario, param),
        seed=s.sim_seed if seed is None else seed,
        speed=s.sim_speed if speed is None else speed,
        endpoints=Endpoints(
            opcua_host=opcua_host or s.sim_opcua_host,
            opcua_port=s.sim_opcua_port if opcua_port is None else opcua_port,
            modbus_host=modbus_host or s.sim_modbus_host,
            modbus_port=s.sim_modbus_port if modbus_port is None else modbus_port,
            mqtt_host=mqtt_host or s.mqtt_host,
            mqtt_port=s.mqtt_port if mqtt_port is None else mqtt_port,
            control_host=control_host or s.sim_control_host,
            control_port=s.sim_control_port if control_port is None else control_port,
            mqtt_tls=mqtt_tls,
            mqtt_username=s.mqtt_username or None,
            mqtt_password=s.mqtt_password,
        ),
        event_log=event_log or s.sim_event_log,
        origin=_start_time(start),
        protocols=frozenset(protocols),
        opcua_security=security,  # type: ignore[arg-type]
        pki_dir=pki_dir or s.sim_pki_dir,
        faults=faults,
        cycle_events=not no_cycle_events,
    )
    try:
        asyncio.run(serve(options))
    except (ValueError, StartError) as err:
        print(f"simulator error: {err}", file=sys.stderr)
        raise typer.Exit(2) from None


@app.command("export-gateway-config")
@config_errors_exit
def export_gateway_config(
    scenario: str | None = typer.Option(None, help=SCENARIO_HELP),
    param: list[str] | None = typer.Option(None, help=PARAM_HELP),
    out: Path | None = typer.Option(None, help="write here instead of standard output"),
    gateway_id: str = typer.Option("edge-1", help="gateway.id"),
    opcua_security: str | None = typer.Option(None, help="none | sign-encrypt | both"),
    group_by: str = typer.Option("machine", help="one OPC UA device per machine or per line"),
) -> None:
    """Write the gateway configuration (format v1) that reads the simulated plant."""
    from simulators.gateway_config import ExportOptions, dump_gateway_config

    s = _settings()
    if group_by not in ("machine", "line"):
        raise typer.BadParameter(f"{group_by!r}: machine or line", param_hint="--group-by")
    security = opcua_security or s.sim_opcua_security
    options = ExportOptions(gateway_id=gateway_id, opcua_security=security, group_by=group_by)  # type: ignore[arg-type]
    _write(out, dump_gateway_config(_scenario(scenario or s.sim_scenario, param), options))


@app.command("export-register-map")
@config_errors_exit
def export_register_map(
    scenario: str | None = typer.Option(None, help=SCENARIO_HELP),
    param: list[str] | None = typer.Option(None, help=PARAM_HELP),
    out: Path | None = typer.Option(None, help="write here instead of standard output"),
) -> None:
    """Write the Modbus register map of every unit as JSON."""
    from simulators.protocols.registermap import register_map_export

    s = _settings()
    text = json.dumps(register_map_export(_scenario(scenario or s.sim_scenario, param)), indent=2)
    _write(out, text + "\n")


@app.command("run-offline")
@config_errors_exit
def run_offline(
    out: Path = typer.Option(..., help="series JSONL (.gz to compress)"),
    scenario: str | None = typer.Option(None, help=SCENARIO_HELP),
    param: list[str] | None = typer.Option(None, help=PARAM_HELP),
    seed: int | None = typer.Option(None, help="random seed (default MES_SIM_SEED)"),
    hours: float = typer.Option(24.0, help="simulated hours"),
    events: Path | None = typer.Option(None, help="event log (default <out>.events.jsonl)"),
    every: float | None = typer.Option(None, help="keep only samples every N seconds"),
    start: str = typer.Option("2026-01-05T06:00:00Z", help="simulated start time, RFC 3339"),
    no_cycle_events: bool = typer.Option(False, help="leave per-part cycle events out"),
) -> None:
    """Simulate as fast as possible without sockets; write the series and the events."""
    from simulators.offline import run_offline as offline

    s = _settings()
    if hours <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--hours")
    if every is not None and every <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--every")
    origin = _start_time(start)
    assert origin is not None
    events_path = events or out.with_name(out.name.split(".")[0] + ".events.jsonl")
    summary = offline(
        _scenario(scenario or s.sim_scenario, param),
        s.sim_seed if seed is None else seed,
        duration_s=hours * 3600.0,
        origin=origin,
        series_path=out,
        events_path=events_path,
        every_s=every,
        cycle_events=not no_cycle_events,
    )
    typer.echo(
        f"simulated {summary.simulated_s / 3600:g} h: {summary.sample_lines} sample lines "
        f"({summary.values} values) -> {out}; {summary.events} events -> {events_path}"
    )


@app.command()
@config_errors_exit
def validate(
    scenario: str = typer.Argument(..., help=SCENARIO_HELP),
    param: list[str] | None = typer.Option(None, help=PARAM_HELP),
) -> None:
    """Check a scenario; print a summary, or every problem with its key path and line."""
    sc = _scenario(scenario, param)
    protocols = {p: len(sc.by_protocol(p)) for p in ("opcua", "modbus", "mqtt")}  # type: ignore[arg-type]
    typer.echo(
        f"{sc.name}: {len(sc.machines)} machines on {len(sc.lines)} lines, "
        f"{sc.signal_count} signals; " + ", ".join(f"{k} {v}" for k, v in protocols.items())
    )


# --- the control endpoint's client ---------------------------------------------------------------


def _control(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    s = _settings()
    url = f"http://{s.sim_control_host}:{s.sim_control_port}{path}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        detail = json.loads(err.read() or b"{}").get("error", {}).get("message", err.reason)
        print(f"simulator refused: {detail}", file=sys.stderr)
        raise typer.Exit(1) from None
    except OSError as err:
        print(f"cannot reach the simulator control endpoint at {url}: {err}", file=sys.stderr)
        raise typer.Exit(2) from None


@app.command()
@config_errors_exit
def status() -> None:
    """Show the running simulator's status (MES_SIM_CONTROL_PORT)."""
    typer.echo(json.dumps(_control("GET", "/status"), indent=2))


@app.command()
@config_errors_exit
def command(
    machine: str = typer.Argument(..., help="machine code, e.g. CNC-101"),
    name: str = typer.Argument(..., help="start | stop | reset | setpoint | fail | maintain"),
    value: float | None = typer.Option(None, help="setpoint in %"),
    mode: str | None = typer.Option(None, help="fail: failure mode"),
    response: float | None = typer.Option(None, help="fail: seconds down before repair"),
    duration: float | None = typer.Option(None, help="fail/maintain: repair seconds"),
) -> None:
    """Command a machine of the running simulator."""
    body: dict[str, Any] = {"command": name}
    for key, item in (
        ("value", value),
        ("mode", mode),
        ("response", response),
        ("duration", duration),
    ):
        if item is not None:
            body[key] = item
    result = _control("POST", f"/machines/{machine}/command", body)
    typer.echo(f"{machine}: {result['state']} ({result['reason']})")


@app.command()
@config_errors_exit
def fault(
    target: str = typer.Argument(..., help="opcua | modbus | mqtt | a machine code"),
    kind: str = typer.Argument(..., help="drop, stall, restart, offline, freeze, malformed, ..."),
    at: float = typer.Option(0.0, "--at", help="start after this many seconds"),
    duration: float | None = typer.Option(None, "--for", help="end after this many seconds"),
    skew: float | None = typer.Option(None, help="skew: clock offset in seconds"),
) -> None:
    """Inject a fault into the running simulator."""
    body: dict[str, Any] = {"target": target, "kind": kind, "at": at}
    if duration is not None:
        body["for"] = duration
    if skew is not None:
        body["skew_s"] = skew
    result = _control("POST", "/faults", body)
    typer.echo(
        f"fault {result['id']}: {target} {kind} ({'active' if result['active'] else 'pending'})"
    )


@app.command("clear-faults")
@config_errors_exit
def clear_faults(
    fault_id: int | None = typer.Argument(None, help="one fault; all when omitted"),
) -> None:
    """End injected faults."""
    path = f"/faults/{fault_id}" if fault_id is not None else "/faults"
    result = _control("DELETE", path)
    cleared = result if isinstance(result, list) else [result]
    typer.echo(f"cleared {len(cleared)} fault(s)")


def _write(out: Path | None, text: str) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        typer.echo(f"wrote {out}", err=True)
