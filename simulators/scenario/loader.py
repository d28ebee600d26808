"""Load a scenario: a built-in name (`demo`, `scale`, ...) or a YAML file; validate it; resolve it.

Errors name the source, the line and the key path, one problem per line:

    scenario error: plant.yaml:14: site.areas[0].lines[0].machines[1].type: Input should be ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mes_common.settings import ConfigError
from simulators.scenario.catalog import STANDARD_NAMES, STANDARD_SIGNALS, TYPES, SignalProfile
from simulators.scenario.catalog import generic_signal as _generic_signal
from simulators.scenario.definitions import (
    ALARM_CODES,
    FailureDef,
    LineDef,
    MachineDef,
    Scenario,
    SignalDef,
)
from simulators.scenario.schema import (
    CODE,
    SIGNAL_NAME,
    FailureModeSpec,
    GenerateSpec,
    MachineSpec,
    ScenarioFile,
    SignalSpec,
    SiteSpec,
)

KeyPath = tuple[str | int, ...]
BUILTIN_PACKAGE = "simulators.scenario.builtin"
MAX_UNIT_ID = 247

DEFAULT_MTBF = {"bearing_wear": 48 * 3600.0, "sudden": 96 * 3600.0}
DEFAULT_SHAPE = {"bearing_wear": 3.0, "sudden": 1.0}
DEFAULT_PRECURSOR = 8 * 3600.0
DEFAULT_LIFE_PARTS = (400, 700)
# default effects at full degradation: (signal, fraction of its running value or absolute)
BEARING_EFFECTS = {"vibration_rms": ("fraction", 3.0), "temperature": ("absolute", 14.0)}
TOOL_EFFECTS = {
    "motor_current": ("fraction", 0.35),
    "force": ("fraction", 0.12),
    "torque": ("fraction", 0.08),
}


class ScenarioError(ConfigError):
    """The scenario is unreadable or invalid; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class DuplicateKey(Exception):
    """A mapping repeats a key (YAML would silently keep the last one)."""

    def __init__(self, path: KeyPath, line: int, first: int) -> None:
        super().__init__(f"duplicate key at {path}")
        self.path, self.line, self.first = path, line, first


@dataclass(frozen=True)
class Located:
    """Parsed YAML plus the line of each key path."""

    data: Any
    lines: dict[KeyPath, int]


def format_path(path: KeyPath) -> str:
    """`("site", "areas", 0, "code")` -> `site.areas[0].code`.

    >>> format_path(("site", "areas", 0, "lines", 1, "code"))
    'site.areas[0].lines[1].code'
    >>> format_path(())
    '(top level)'
    """
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def builtin_names() -> list[str]:
    """Names of the scenarios shipped in the package."""
    folder = resources.files(BUILTIN_PACKAGE)
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def read_source(name_or_path: str) -> tuple[str, str]:
    """(text, source label) of a built-in scenario or a file."""
    if name_or_path in builtin_names():
        text = resources.files(BUILTIN_PACKAGE).joinpath(f"{name_or_path}.yaml").read_text()
        return text, name_or_path
    path = Path(name_or_path)
    if not path.is_file():
        raise ScenarioError(
            [
                f"scenario error: {name_or_path}: no such file and not a built-in scenario "
                f"(built-in: {', '.join(builtin_names())})"
            ]
        )
    return path.read_text(), str(path)


def parse_yaml(text: str, source: str) -> Located:
    """Parse one YAML document, recording the (1-based) line of every key path."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        data = None if node is None else _build(loader, node, (), lines)
    except DuplicateKey as dup:
        raise ScenarioError(
            [
                f"scenario error: {source}:{dup.line}: {format_path(dup.path)}: "
                f"duplicate key (first on line {dup.first})"
            ]
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err)
        raise ScenarioError([f"scenario error: {where}: invalid YAML: {problem}"]) from err
    finally:
        loader.dispose()
    return Located(data, lines)


def _build(
    loader: yaml.SafeLoader, node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int]
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            child = (*path, str(key))
            line = key_node.start_mark.line + 1
            if key in out:
                raise DuplicateKey(child, line, lines[child])
            lines[child] = line
            out[key] = _build(loader, value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), lines) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def line_of(path: KeyPath, lines: Mapping[KeyPath, int]) -> int | None:
    """Line of `path`, or of its nearest ancestor present in the file."""
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None


def _problem(source: str, lines: Mapping[KeyPath, int], path: KeyPath, message: str) -> str:
    line = line_of(path, lines)
    where = f"{source}:{line}" if line is not None else source
    return f"scenario error: {where}: {format_path(path)}: {message}"


def _describe(item: Mapping[str, Any]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = str(item["msg"])
    if kind in ("literal_error", "string_pattern_mismatch", "enum"):
        return f"{message} (got {item['input']!r})"
    return message.removeprefix("Value error, ")


def validation_problems(
    err: ValidationError, source: str, lines: Mapping[KeyPath, int], prefix: KeyPath = ()
) -> list[str]:
    """One line per pydantic error, naming the key path and its line."""
    problems = []
    for item in err.errors():
        path = (*prefix, *(p for p in item["loc"] if isinstance(p, str | int)))
        problems.append(_problem(source, lines, path, _describe(item)))
    return problems


def apply_params(data: Any, params: Mapping[str, str], source: str) -> Any:
    """Set `generate.<key>` from `--param key=value` (values parsed as YAML scalars)."""
    if not params:
        return data
    if not isinstance(data, dict) or not isinstance(data.get("generate"), dict):
        raise ScenarioError(
            [f"scenario error: {source}: parameters apply only to generated scenarios (generate:)"]
        )
    generate = dict(data["generate"])
    for key, raw in params.items():
        if key not in GenerateSpec.model_fields:
            known = ", ".join(GenerateSpec.model_fields)
            raise ScenarioError([f"scenario error: parameter {key!r}: unknown (known: {known})"])
        generate[key] = yaml.safe_load(raw) if isinstance(raw, str) else raw
    return {**data, "generate": generate}


def load_scenario(name_or_path: str, params: Mapping[str, str] | None = None) -> Scenario:
    """Load, validate and resolve a scenario; ScenarioError with every problem found."""
    text, source = read_source(name_or_path)
    return load_scenario_text(text, source, params)


def load_scenario_text(
    text: str, source: str = "<scenario>", params: Mapping[str, str] | None = None
) -> Scenario:
    """Like `load_scenario`, from YAML text."""
    located = parse_yaml(text, source)
    data = apply_params(located.data, params or {}, source)
    if not isinstance(data, dict):
        raise ScenarioError([f"scenario error: {source}: the file must be a mapping of keys"])
    try:
        spec = ScenarioFile.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(validation_problems(err, source, located.lines)) from err
    if (spec.site is None) == (spec.generate is None):
        raise ScenarioError(
            [_problem(source, located.lines, (), "give exactly one of 'site' or 'generate'")]
        )
    site = spec.site if spec.site is not None else generate_site(spec.generate)  # type: ignore[arg-type]
    problems = check_plant(site, spec.sample_period)
    if problems:
        raise ScenarioError([_problem(source, located.lines, p, m) for p, m in problems])
    return resolve(spec, site, source, dict(params or {}))


# --- generated plants (scale) -------------------------------------------------------------------


def generate_site(gen: GenerateSpec) -> SiteSpec:
    """The plant of a `generate:` block: machines spread over lines, signals per machine."""
    protocols = ["opcua", "modbus", "mqtt"] if gen.protocol == "mixed" else [gen.protocol]
    modbus = sum(1 for i in range(gen.machines) if protocols[i % len(protocols)] == "modbus")
    if modbus > MAX_UNIT_ID:
        raise ScenarioError(
            [
                f"scenario error: generate.machines: {modbus} Modbus machines, at most "
                f"{MAX_UNIT_ID} (one unit id each on one server)"
            ]
        )
    lines: list[dict[str, Any]] = [
        {"code": f"S{n + 1:02d}", "machines": []} for n in range(gen.lines)
    ]
    unit_ids = 0
    for i in range(gen.machines):
        protocol = protocols[i % len(protocols)]
        machine: dict[str, Any] = {
            "code": f"M{i + 1:05d}",
            "type": "generic",
            "protocol": protocol,
            "ideal_cycle": gen.ideal_cycle,
            "setup": 60,
            "extra_signals": gen.signals - len(STANDARD_SIGNALS),
            "sample_phase": round(i / gen.machines, 6),  # spread the load over the period
        }
        if protocol == "modbus":
            unit_ids += 1
            machine["unit_id"] = unit_ids
        if gen.failures:
            machine["failure_modes"] = [{"mode": "sudden", "mtbf": "24h"}]
            machine["repair"] = {"response": ["2m", "5m"], "duration": ["5m", "15m"]}
        lines[i % gen.lines]["machines"].append(machine)
    lines = [line for line in lines if line["machines"]]
    area = {"code": "SCALE", "name": "Generated", "lines": lines}
    try:
        return SiteSpec.model_validate({"code": "KNU", "name": "Generated plant", "areas": [area]})
    except ValidationError as err:
        raise ScenarioError(validation_problems(err, "generate", {}, ("generate",))) from err


# --- cross-checks ---------------------------------------------------------------------------------


def _machines_with_paths(site: SiteSpec) -> list[tuple[KeyPath, MachineSpec, str, str]]:
    out = []
    for a, area in enumerate(site.areas):
        for li, line in enumerate(area.lines):
            for m, machine in enumerate(line.machines):
                path: KeyPath = ("site", "areas", a, "lines", li, "machines", m)
                out.append((path, machine, area.code, line.code))
    return out


def check_plant(site: SiteSpec, sample_period: float) -> list[tuple[KeyPath, str]]:
    """Problems that span keys: duplicates, unit ids, feeds, signal names, failure modes."""
    problems: list[tuple[KeyPath, str]] = []
    machines = _machines_with_paths(site)
    seen_codes: dict[str, KeyPath] = {}
    seen_units: dict[int, str] = {}
    line_of_machine = {spec.code: (area, line) for _, spec, area, line in machines}
    for a, area in enumerate(site.areas):
        for li, line in enumerate(area.lines):
            for other in area.lines[:li]:
                if other.code == line.code:
                    problems.append(
                        (("site", "areas", a, "lines", li, "code"), f"duplicate line {line.code!r}")
                    )
    line_codes = [line.code for area in site.areas for line in area.lines]
    if len(set(line_codes)) != len(line_codes):
        dupes = sorted({c for c in line_codes if line_codes.count(c) > 1})
        problems.append((("site", "areas"), f"line codes must be unique in the site: {dupes}"))
    for path, spec, _, _ in machines:
        if spec.code in seen_codes:
            problems.append(((*path, "code"), f"duplicate machine code {spec.code!r}"))
        seen_codes.setdefault(spec.code, path)
        if spec.protocol == "modbus":
            if spec.unit_id is None:
                problems.append(((*path, "unit_id"), "required for protocol modbus"))
            elif spec.unit_id in seen_units:
                problems.append(
                    (
                        (*path, "unit_id"),
                        f"unit id {spec.unit_id} is taken by {seen_units[spec.unit_id]}",
                    )
                )
            else:
                seen_units[spec.unit_id] = spec.code
        elif spec.unit_id is not None:
            problems.append(((*path, "unit_id"), "applies only to protocol modbus"))
        if spec.feeds is not None:
            if spec.feeds not in line_of_machine:
                problems.append(((*path, "feeds"), f"unknown machine {spec.feeds!r}"))
            elif spec.feeds == spec.code:
                problems.append(((*path, "feeds"), "a machine cannot feed itself"))
            elif line_of_machine[spec.feeds] != line_of_machine[spec.code]:
                problems.append(((*path, "feeds"), f"{spec.feeds} is on another line"))
        problems.extend(_check_signals(path, spec))
        problems.extend(_check_failures(path, spec))
        if spec.sample_period is not None and spec.sample_period < 0.01:
            problems.append(((*path, "sample_period"), "must be at least 10 ms"))
    problems.extend(_check_feed_cycles(machines))
    if sample_period < 0.01:
        problems.append((("sample_period",), "must be at least 10 ms"))
    fed = {spec.feeds for _, spec, _, _ in machines if spec.feeds}
    for path, spec, _, _ in machines:
        if spec.buffer is not None:
            if spec.code not in fed:
                problems.append(((*path, "buffer"), "no machine feeds this one (see feeds)"))
            elif spec.buffer.initial > spec.buffer.capacity:
                problems.append(((*path, "buffer", "initial"), "exceeds the buffer capacity"))
    return problems


def _check_signals(path: KeyPath, spec: MachineSpec) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    known = {p.name for p in TYPES[spec.type]}
    for name, sig in spec.signals.items():
        where = (*path, "signals", name)
        if name in STANDARD_NAMES:
            problems.append((where, "standard signals cannot be overridden"))
        elif not _is_signal_name(name):
            problems.append((where, f"signal names match {SIGNAL_NAME}"))
        elif name not in known:
            missing = [k for k in ("unit", "low", "high", "running") if getattr(sig, k) is None]
            if missing:
                problems.append(
                    (where, f"not a {spec.type} signal; a new signal needs {', '.join(missing)}")
                )
        low = sig.low if sig.low is not None else None
        if low is not None and sig.high is not None and low >= sig.high:
            problems.append(((*where, "high"), "must be above low"))
    return problems


def _is_signal_name(name: str) -> bool:
    import re

    return re.fullmatch(SIGNAL_NAME, name) is not None


def _check_failures(path: KeyPath, spec: MachineSpec) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    names = {p.name for p in TYPES[spec.type]} | set(spec.signals)
    for f, mode in enumerate(spec.failure_modes):
        where = (*path, "failure_modes", f)
        for signal in mode.effects or {}:
            if signal not in names:
                problems.append(((*where, "effects", signal), f"{spec.code} has no such signal"))
        if mode.mode == "tool_wear":
            if mode.life_parts is not None and not 1 <= mode.life_parts[0] <= mode.life_parts[1]:
                problems.append(
                    ((*where, "life_parts"), "expected [low, high] with 1 <= low <= high")
                )
            if mode.mtbf is not None or mode.precursor is not None:
                problems.append((where, "tool_wear uses life_parts, not mtbf/precursor"))
        elif mode.life_parts is not None:
            problems.append(((*where, "life_parts"), f"applies only to tool_wear, not {mode.mode}"))
        if mode.mode == "sudden" and mode.precursor is not None:
            problems.append(((*where, "precursor"), "sudden failures have no precursor"))
        if sorted(mode.schedule) != list(mode.schedule):
            problems.append(((*where, "schedule"), "times must be in increasing order"))
    return problems


def _check_feed_cycles(
    machines: list[tuple[KeyPath, MachineSpec, str, str]],
) -> list[tuple[KeyPath, str]]:
    feeds = {spec.code: spec.feeds for _, spec, _, _ in machines}
    for path, spec, _, _ in machines:
        seen = {spec.code}
        nxt = spec.feeds
        while nxt is not None and nxt in feeds:
            if nxt in seen:
                return [((*path, "feeds"), f"material flow loops back to {nxt}")]
            seen.add(nxt)
            nxt = feeds[nxt]
    return []


# --- resolution -----------------------------------------------------------------------------------


def _profile(base: SignalProfile | None, name: str, spec: SignalSpec | None) -> SignalProfile:
    if base is None:
        assert spec is not None and spec.unit is not None and spec.running is not None
        assert spec.low is not None and spec.high is not None
        base = SignalProfile(
            name,
            spec.unit,
            spec.low,
            spec.high,
            spec.low,
            spec.low,
            spec.running,
            abs(spec.running) * 0.01,
            2.0,
        )
    if spec is None:
        return base
    changes = {
        k: v
        for k, v in {
            "unit": spec.unit,
            "low": spec.low,
            "high": spec.high,
            "off": spec.off,
            "idle": spec.idle,
            "running": spec.running,
            "noise": spec.noise,
            "tau_s": spec.tau,
            "load_exp": spec.load_exp,
            "modbus_scale": spec.modbus_scale,
            "description": spec.description,
        }.items()
        if v is not None
    }
    return SignalProfile(**{**base.__dict__, **changes})


def resolve_signals(spec: MachineSpec, period: float) -> tuple[SignalDef, ...]:
    """Standard signals, then the type's process signals, then new and extra ones."""
    out = [
        SignalDef(
            f"{spec.code}.{s.name}",
            s.name,
            s.data_type,
            s.unit,
            s.low,
            s.high,
            s.description,
            period,
        )
        for s in STANDARD_SIGNALS
    ]
    profiles = list(TYPES[spec.type])
    known = {p.name for p in profiles}
    profiles += [
        _profile(None, name, sig) for name, sig in spec.signals.items() if name not in known
    ]
    profiles += [_generic_signal(i + 1) for i in range(spec.extra_signals)]
    for base in profiles:
        override = spec.signals.get(base.name) if base.name in known else None
        profile = _profile(base, base.name, override) if override else base
        sig_spec = spec.signals.get(base.name)
        rate = sig_spec.rate_hz if sig_spec is not None else None
        out.append(
            SignalDef(
                key=f"{spec.code}.{profile.name}",
                name=profile.name,
                data_type="float32",
                unit=profile.unit or None,
                low=profile.low,
                high=profile.high,
                description=profile.description or profile.name,
                period=1.0 / rate if rate else period,
                profile=profile,
                batch=bool(sig_spec and sig_spec.batch),
                modbus_scale=profile.modbus_scale,
            )
        )
    return tuple(out)


def _default_effects(kind: str, signals: tuple[SignalDef, ...]) -> tuple[tuple[str, float], ...]:
    table = {"bearing_wear": BEARING_EFFECTS, "tool_wear": TOOL_EFFECTS}.get(kind, {})
    out = []
    for sig in signals:
        if sig.profile is not None and sig.name in table:
            how, amount = table[sig.name]
            out.append((sig.name, amount * sig.profile.running if how == "fraction" else amount))
    return tuple(out)


def resolve_failure(
    index: int, spec: FailureModeSpec, signals: tuple[SignalDef, ...]
) -> FailureDef:
    """A failure mode with defaults applied."""
    alarm, warning = ALARM_CODES[spec.mode]
    mtbf = spec.mtbf if spec.mtbf is not None else DEFAULT_MTBF.get(spec.mode, math.inf)
    effects = (
        tuple(spec.effects.items())
        if spec.effects is not None
        else _default_effects(spec.mode, signals)
    )
    return FailureDef(
        kind=spec.mode,
        index=index,
        mtbf=mtbf,
        shape=spec.shape if spec.shape is not None else DEFAULT_SHAPE.get(spec.mode, 1.0),
        precursor=spec.precursor if spec.precursor is not None else DEFAULT_PRECURSOR,
        life_parts=spec.life_parts if spec.life_parts is not None else DEFAULT_LIFE_PARTS,
        onset=spec.onset,
        scrap_gain=spec.scrap_gain,
        effects=effects,
        warning_at=spec.warning_at if spec.mode != "sudden" else None,
        alarm_code=spec.alarm_code or alarm,
        warning_code=spec.warning_code or warning,
        schedule=tuple(spec.schedule),
    )


def resolve(spec: ScenarioFile, site: SiteSpec, source: str, params: dict[str, str]) -> Scenario:
    """Definitions for the model and the servers, in plant order."""
    upstream: dict[str, list[str]] = {}
    for _, machine, _, _ in _machines_with_paths(site):
        if machine.feeds:
            upstream.setdefault(machine.feeds, []).append(machine.code)
    machines: list[MachineDef] = []
    lines: list[LineDef] = []
    word_order = spec.modbus.word_order
    for area in site.areas:
        for line in area.lines:
            lines.append(LineDef(line.code, line.name or line.code, area.code))
            for m in line.machines:
                period = m.sample_period or spec.sample_period
                signals = resolve_signals(m, period)
                fed_by = tuple(upstream.get(m.code, ()))
                buffer = m.buffer
                machines.append(
                    MachineDef(
                        index=len(machines),
                        code=m.code,
                        name=m.name or m.code,
                        type=m.type,
                        protocol=m.protocol,
                        unit_id=m.unit_id,
                        product=m.product,
                        site=site.code,
                        area=area.code,
                        line=line.code,
                        ideal_cycle=m.ideal_cycle,
                        setup=m.setup,
                        scrap_rate=m.scrap_rate,
                        cycle_jitter=m.cycle_jitter,
                        feeds=m.feeds,
                        buffer_capacity=(buffer.capacity if buffer else 10) if fed_by else 0,
                        buffer_initial=(buffer.initial if buffer else 5) if fed_by else 0,
                        upstream=fed_by,
                        initial_state=m.initial_state,
                        setpoint=m.setpoint,
                        signals=signals,
                        failures=tuple(
                            resolve_failure(i, f, signals) for i, f in enumerate(m.failure_modes)
                        ),
                        repair_response=m.repair.response,
                        repair_duration=m.repair.duration,
                        maintenance_every=m.maintenance.every if m.maintenance else None,
                        maintenance_duration=m.maintenance.duration if m.maintenance else 0.0,
                        maintenance_first=m.maintenance.first if m.maintenance else None,
                        modbus_layout=m.modbus.layout,
                        word_order=m.modbus.word_order or word_order,
                        initial_good=m.counters.good,
                        initial_scrap=m.counters.scrap,
                        sample_phase=m.sample_phase,
                    )
                )
    return Scenario(
        name=spec.name,
        description=spec.description or "",
        source=source,
        start=spec.start,
        sample_period=spec.sample_period,
        site_code=site.code,
        site_name=site.name or site.code,
        areas=tuple((a.code, a.name or a.code) for a in site.areas),
        lines=tuple(lines),
        machines=tuple(machines),
        opcua=spec.opcua,
        mqtt=spec.mqtt,
        params=params,
    )


__all__ = ["CODE", "ScenarioError", "builtin_names", "load_scenario", "load_scenario_text"]
