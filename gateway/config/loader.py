"""Read a configuration file: YAML with line numbers, `${VAR}` expansion, environment overrides,
validation whose errors name the key path and the line.

    config error: plant.yaml:42: devices[2].groups[0].tags[3].type: unknown value 'float16' ...
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.config.models import GatewayConfig
from mes_common.settings import ConfigError

Path_ = tuple[str | int, ...]
VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
OVERRIDE_PREFIX = "MES_GATEWAY__"


class ConfigFileError(ConfigError):
    """The configuration file is unreadable or invalid; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Located:
    """Parsed YAML data plus the line of every key path."""

    data: Any
    lines: dict[Path_, int]


def format_path(path: Path_) -> str:
    """`('devices', 2, 'tags', 0, 'type')` -> `devices[2].tags[0].type`.

    >>> format_path(("devices", 2, "groups", 0, "tags", 3, "type"))
    'devices[2].groups[0].tags[3].type'
    >>> format_path(())
    '(top level)'
    """
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_yaml(text: str, source: str) -> Located:
    """Parse one YAML document, recording the line of each key path (1-based)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigFileError([f"config error: {where}: invalid YAML: {problem}"]) from err
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is None:
        return Located(None, lines)
    return Located(_build(loader, node, (), lines, source), lines)


def _build(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path_, lines: dict[Path_, int], source: str
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                line = key_node.start_mark.line + 1
                raise ConfigFileError(
                    [f"config error: {source}:{line}: {format_path(path)}: keys must be scalars"]
                )
            key = str(key)
            if key in out:
                line = key_node.start_mark.line + 1
                raise ConfigFileError(
                    [f"config error: {source}:{line}: {format_path((*path, key))}: duplicate key"]
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, (*path, key), lines, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, n), lines, source) for n, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def expand_vars(value: str, env: Mapping[str, str]) -> str:
    """Replace `${VAR}` (and `${VAR:-default}`) from `env`; `$$` is a literal `$`.

    >>> expand_vars("opc.tcp://${H}:${P}/x", {"H": "h1", "P": "48"})
    'opc.tcp://h1:48/x'
    >>> expand_vars("${MISSING:-dflt} costs $$5", {})
    'dflt costs $5'
    """

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise KeyError(name)

    return VAR.sub(sub, value)


def _expand_all(
    data: Any, path: Path_, env: Mapping[str, str], lines: dict[Path_, int], source: str
) -> Any:
    if isinstance(data, dict):
        return {k: _expand_all(v, (*path, k), env, lines, source) for k, v in data.items()}
    if isinstance(data, list):
        return [_expand_all(v, (*path, n), env, lines, source) for n, v in enumerate(data)]
    if isinstance(data, str) and "$" in data:
        try:
            return expand_vars(data, env)
        except KeyError as err:
            raise ConfigFileError(
                [
                    f"config error: {_where(source, lines, path)}: {format_path(path)}: "
                    f"environment variable {err.args[0]} is not set"
                ]
            ) from None
    return data


def _where(source: str, lines: dict[Path_, int], path: Path_) -> str:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return f"{source}:{lines[path[:n]]}"
    return source


def apply_overrides(data: dict[str, Any], env: Mapping[str, str]) -> list[str]:
    """Apply `MES_GATEWAY__SECTION__KEY=value` variables to mapping keys; returns their names.

    The value is read as a YAML scalar (`500` is a number, `true` a boolean).

    >>> d = {"batch": {"max_rows": 10}}
    >>> apply_overrides(d, {"MES_GATEWAY__BATCH__MAX_ROWS": "500"})
    ['MES_GATEWAY__BATCH__MAX_ROWS']
    >>> d
    {'batch': {'max_rows': 500}}
    """
    applied = []
    for name in sorted(env):
        if not name.startswith(OVERRIDE_PREFIX):
            continue
        keys = [k.lower() for k in name[len(OVERRIDE_PREFIX) :].split("__") if k]
        if not keys:
            continue
        target = data
        for key in keys[:-1]:
            nxt = target.setdefault(key, {})
            if not isinstance(nxt, dict):
                raise ConfigFileError([f"config error: {name}: {key} is not a mapping"])
            target = nxt
        target[keys[-1]] = yaml.safe_load(env[name]) if env[name] else None
        applied.append(name)
    return applied


_MESSAGES = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
}


def _message(item: Mapping[str, Any]) -> str:
    kind = item["type"]
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "literal_error":
        expected = item.get("ctx", {}).get("expected", "")
        return f"unknown value {item['input']!r} (expected {expected})"
    if kind == "union_tag_invalid":
        ctx = item.get("ctx", {})
        return (
            f"unknown {ctx.get('discriminator', 'tag')} {ctx.get('tag')!r} (expected "
            + str(ctx.get("expected_tags", ""))
            + ")"
        )
    if kind == "union_tag_not_found":
        return "required key 'protocol' is missing (opcua, modbus or mqtt)"
    message = str(item["msg"])
    message = message.removeprefix("Value error, ")
    if "input" in item and kind not in {"value_error", "assertion_error"}:
        value = item["input"]
        if not isinstance(value, dict | list):
            message += f" (got {value!r})"
    return message


def _data_path(data: Any, loc: tuple[Any, ...]) -> Path_:
    """Map a pydantic error location to a path in the data (dropping union tags)."""
    path: list[str | int] = []
    node = data
    for n, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int):
            path.append(part)
            node = node[part] if part < len(node) else None
        elif isinstance(node, dict) and isinstance(part, str):
            if part in node:
                path.append(part)
                node = node[part]
            elif n == len(loc) - 1 or part not in ("opcua", "modbus", "mqtt"):
                path.append(part)
                node = None
        elif isinstance(part, str | int) and node is None:
            path.append(part)
    return tuple(path)


def _problems(err: ValidationError, located: Located, source: str) -> list[str]:
    problems = []
    for item in err.errors():
        path = _data_path(located.data, tuple(item["loc"]))
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, "protocol")
        message = _message(item)
        # model-level checks on the whole file name their own path (e.g. duplicate names)
        own = re.match(r"^((?:devices\[\d+\]|gateway)\.\w+): (.*)$", message)
        if own and not path:
            text_path = own.group(1)
            if text_path.startswith("gateway."):
                path = ("gateway", text_path.split(".", 1)[1])
            else:
                idx = int(re.findall(r"\[(\d+)\]", text_path)[0])
                path = ("devices", idx, text_path.rsplit(".", 1)[1])
            message = own.group(2)
        problems.append(
            f"config error: {_where(source, located.lines, path)}: {format_path(path)}: {message}"
        )
    return problems


def _check_cross_references(
    config: GatewayConfig, located: Located, source: str, env: Mapping[str, str]
) -> list[str]:
    """Checks that span devices: unique signal keys, passwords present."""
    problems: list[str] = []
    seen: dict[str, Path_] = {}

    def claim(key: str, path: Path_) -> None:
        if key in seen:
            problems.append(
                f"config error: {_where(source, located.lines, path)}: {format_path(path)}: "
                f"signal {key!r} is already defined at {format_path(seen[key])}"
            )
        else:
            seen[key] = path

    for n, device in enumerate(config.devices):
        if device.protocol == "opcua":
            for t, tag in enumerate(device.tags):
                claim(tag.signal, ("devices", n, "tags", t, "signal"))
        elif device.protocol == "modbus":
            for g, group in enumerate(device.groups):
                for t, mtag in enumerate(group.tags):
                    claim(mtag.signal, ("devices", n, "groups", g, "tags", t, "signal"))
        password_env = getattr(device, "password_env", None)
        if password_env and password_env not in env:
            path: Path_ = ("devices", n, "password_env")
            problems.append(
                f"config error: {_where(source, located.lines, path)}: {format_path(path)}: "
                f"environment variable {password_env} is not set"
            )
    return problems


def load_text(text: str, *, source: str, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Validate configuration text; ConfigFileError lists every problem with path and line."""
    env = os.environ if env is None else env
    located = parse_yaml(text, source)
    if not isinstance(located.data, dict):
        raise ConfigFileError([f"config error: {source}: the file must be a mapping (version: 1)"])
    data = _expand_all(located.data, (), env, located.lines, source)
    applied = apply_overrides(data, env)
    located = Located(data, located.lines)
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as err:
        problems = _problems(err, located, source)
        if applied:
            problems.append(f"config error: overrides in effect: {', '.join(applied)}")
        raise ConfigFileError(problems) from err
    problems = _check_cross_references(config, located, source, env)
    if problems:
        raise ConfigFileError(problems)
    return config


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate the file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigFileError(
            [f"config error: {path}: cannot read the file: {err.strerror or err}"]
        ) from err
    return load_text(text, source=str(path), env=env)
