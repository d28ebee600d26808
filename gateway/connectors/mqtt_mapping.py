"""Pure MQTT mapping: topic filters to routes, JSON payloads to records (no I/O)."""

from __future__ import annotations

import math
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway import quality
from gateway.config.models import MqttSubscription
from gateway.records import Deadband, Record, SignalSpec

_MISSING = object()


class Malformed(ValueError):
    """A payload that cannot be mapped; `reason` is a short label for the metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching ('+' one level, '#' the rest).

    >>> topic_matches("KNU/+/L2/#", "KNU/ASSY/L2/TEST-204/batch")
    True
    >>> topic_matches("KNU/ASSY/L2/+/+", "KNU/ASSY/L2/TEST-204")
    False
    """
    pat = pattern.split("/")
    top = topic.split("/")
    for n, level in enumerate(pat):
        if level == "#":
            return True
        if n >= len(top) or (level != "+" and level != top[n]):
            return False
    return len(pat) == len(top)


def getter(path: str | None) -> Callable[[Any], Any] | None:
    """A function reading a dotted path (list indexes allowed) from parsed JSON.

    >>> getter("a.b.1")({"a": {"b": [5, 6]}})
    6
    >>> getter("a.c")({"a": {}}) is _MISSING
    True
    """
    if path is None:
        return None
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in path.split(".") if p]
    if len(parts) == 1 and isinstance(parts[0], str):  # the common case, kept fast
        name = parts[0]

        def get_one(obj: Any) -> Any:
            return obj.get(name, _MISSING) if type(obj) is dict else _MISSING

        return get_one

    def get(obj: Any) -> Any:
        for part in parts:
            if isinstance(part, int) and isinstance(obj, list):
                if part >= len(obj):
                    return _MISSING
                obj = obj[part]
            elif isinstance(obj, dict):
                obj = obj.get(str(part), _MISSING)
                if obj is _MISSING:
                    return _MISSING
            else:
                return _MISSING
        return obj

    return get


def parse_timestamp(raw: Any) -> datetime:
    """RFC 3339 text or epoch seconds/milliseconds/microseconds -> aware UTC datetime.

    >>> parse_timestamp("2026-11-26T08:00:00.250Z").isoformat()
    '2026-11-26T08:00:00.250000+00:00'
    >>> parse_timestamp(1764144000000).isoformat()
    '2025-11-26T08:00:00+00:00'
    """
    if isinstance(raw, str):
        try:
            ts = datetime.fromisoformat(raw)
        except ValueError:
            raise Malformed("bad_timestamp", f"not RFC 3339: {raw[:40]!r}") from None
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        seconds = float(raw)
        if abs(seconds) > 1e14:
            seconds /= 1e6
        elif abs(seconds) > 1e11:
            seconds /= 1e3
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    raise Malformed("bad_timestamp", f"not a timestamp: {str(raw)[:40]!r}")


def parse_quality(raw: Any) -> int:
    """'good'/'uncertain'/'bad' (or OPC UA names), or a numeric StatusCode -> quality.

    >>> parse_quality("good"), parse_quality("bad"), parse_quality(0x80310000)
    (0, -32768, -32719)
    """
    if isinstance(raw, str):
        found = quality.from_text(raw)
        if found is None:
            raise Malformed("bad_quality", f"unknown quality {raw[:40]!r}")
        return found
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise Malformed("bad_quality", f"unknown quality {str(raw)[:40]!r}")
    if raw > 0xFFFF or raw < -0x8000:
        return quality.from_status_code(raw)
    if raw > 0x7FFF:
        return raw - 0x10000
    return raw


def parse_value(raw: Any) -> float | str | None:
    """JSON value -> stored value (booleans as 0/1, numeric text as a number).

    >>> parse_value(True), parse_value(3), parse_value("2.5"), parse_value("RUN"), parse_value(None)
    (1.0, 3.0, 2.5, 'RUN', None)
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            return raw
    raise Malformed("bad_value", f"value is a {type(raw).__name__}, not a number or text")


@dataclass
class Route:
    """One subscription compiled for mapping."""

    config: MqttSubscription
    value: Callable[[Any], Any]
    timestamp: Callable[[Any], Any] | None
    quality: Callable[[Any], Any] | None
    batch: Callable[[Any], Any] | None
    value_key: str | None = None  # the paths when they are one plain key (the fast path)
    ts_key: str | None = None
    q_key: str | None = None

    @classmethod
    def compile(cls, config: MqttSubscription) -> Route:
        """From a subscription's configuration."""
        value = getter(config.value)
        assert value is not None
        route = cls(config, value, getter(config.timestamp), getter(config.quality),
                    getter(config.batch))  # fmt: skip
        route.value_key = _plain(config.value)
        route.ts_key = _plain(config.timestamp)
        route.q_key = _plain(config.quality)
        return route


def _plain(path: str | None) -> str | None:
    """`path` when it is a single non-numeric key."""
    if path is None or "." in path or path.isdigit() or not path:
        return None
    return path


def keyer(template: str, topic: str, levels: list[str]) -> Callable[[dict[str, Any]], str]:
    """A function of a payload element's fields giving the signal key, with the topic levels
    already filled in (built once per topic).

    >>> keyer("{3}.{signal}", "KNU/A/L2/TEST-204/batch", "KNU/A/L2/TEST-204/batch".split("/"))(
    ...     {"signal": "p"})
    'TEST-204.p'
    >>> keyer("{1}-{0}", "a/b", ["a", "b"])({})
    'b-a'
    """
    parts: list[str] = []
    for literal, name, spec, conv in string.Formatter().parse(template):
        parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        if name.isdigit() or name == "topic":
            if int(name) >= len(levels) if name.isdigit() else False:
                raise Malformed("bad_signal", f"topic has no level {name}")
            text = levels[int(name)] if name.isdigit() else topic
            parts.append(format(text, spec or "").replace("{", "{{").replace("}", "}}"))
        else:
            parts.append("{" + name + ("!" + conv if conv else "") + (":" + spec if spec else "")
                         + "}")  # fmt: skip
    partial = "".join(parts)
    fields = [f for _, f, _, _ in string.Formatter().parse(partial) if f is not None]
    if not fields:
        constant = partial.replace("{{", "{").replace("}}", "}")
        return lambda element: constant
    if len(fields) == 1 and partial.count("{") - 2 * partial.count("{{") == 1:
        head, _, rest = partial.partition("{" + fields[0] + "}")
        if "{" not in rest.replace("{{", "") and ":" not in fields[0]:
            head = head.replace("{{", "{").replace("}}", "}")
            tail = rest.replace("{{", "{").replace("}}", "}")
            name = fields[0]

            def one(element: dict[str, Any]) -> str:
                value = element.get(name, _MISSING)
                if value is _MISSING:
                    raise Malformed("bad_signal", f"signal template needs {name!r}")
                return f"{head}{value}{tail}"

            one.parts = (head, name, tail)  # type: ignore[attr-defined]
            return one

    def general(element: dict[str, Any]) -> str:
        try:
            return partial.format(**element)
        except (IndexError, KeyError) as err:
            raise Malformed("bad_signal", f"signal template needs {err}") from None

    return general


class Mapper:
    """Topic + payload -> records, and declarations for signals seen the first time."""

    def __init__(
        self,
        subscriptions: list[MqttSubscription],
        *,
        equipment: str | None,
        meta: Callable[[str], dict[str, str | None]],
    ) -> None:
        self.routes = [Route.compile(s) for s in subscriptions]
        self.equipment = equipment
        self.meta = meta
        self.known: dict[str, SignalSpec] = {}
        self._cache: dict[str, Route | None] = {}
        self._keyers: dict[str, Callable[[dict[str, Any]], str]] = {}

    def route_index(self, topic: str) -> int | None:
        """Position of the subscription that maps `topic` (None: excluded or unmatched)."""
        route = self.route(topic)
        return None if route is None else self.routes.index(route)

    def route(self, topic: str) -> Route | None:
        """The first subscription whose filter matches `topic` and whose excludes do not."""
        found = self._cache.get(topic, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        route = None
        for candidate in self.routes:
            if topic_matches(candidate.config.topic, topic) and not any(
                topic_matches(ex, topic) for ex in candidate.config.exclude
            ):
                route = candidate
                break
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[topic] = route
        return route

    def map(
        self, topic: str, payload: bytes, now: datetime
    ) -> tuple[list[Record], list[SignalSpec]]:
        """Records from one message; Malformed when the payload does not fit its route.

        >>> from gateway.config.models import MqttSubscription as S
        >>> m = Mapper([S(topic="KNU/+/+/+/batch", signal="{3}.{signal}", equipment="{3}",
        ...               value="value", timestamp="ts", batch="values")], equipment=None,
        ...            meta=lambda k: {})
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> rs, new = m.map("KNU/A/L2/TEST-204/batch", b'{"ts":"2026-01-01T00:00:01Z",'
        ...     b'"values":[{"signal":"p","value":1.5},{"signal":"q","value":2,'
        ...     b'"ts":"2026-01-01T00:00:02Z"}]}', t)
        >>> [(r.signal, r.ts.second, r.value) for r in rs], [s.equipment_code for s in new]
        ([('TEST-204.p', 1, 1.5), ('TEST-204.q', 2, 2.0)], ['TEST-204', 'TEST-204'])
        """
        route = self.route(topic)
        if route is None:  # excluded (e.g. status topics): nothing to store
            return [], []
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as err:
            raise Malformed("invalid_json", str(err)[:80]) from None
        levels = topic.split("/")
        if route.batch is None:
            elements = [doc]
        else:
            elements = route.batch(doc)
            if not isinstance(elements, list):
                raise Malformed("not_an_array", f"{route.config.batch!r} is not an array")
        message_ts = route.timestamp(doc) if route.timestamp is not None else _MISSING
        message_q = route.quality(doc) if route.quality is not None else _MISSING
        config = route.config
        key_of = self._keyers.get(topic)
        if key_of is None:
            if len(self._keyers) > 100_000:
                self._keyers.clear()
            key_of = self._keyers[topic] = keyer(config.signal, topic, levels)
        get_value, get_ts, get_q = route.value, route.timestamp, route.quality
        parts: tuple[str, str, str] | None = getattr(key_of, "parts", None)
        vk, tk, qk = route.value_key, route.ts_key, route.q_key
        known = self.known
        times: dict[str, datetime] = {}
        records: list[Record] = []
        new: list[SignalSpec] = []
        append = records.append
        for element in elements:
            if type(element) is not dict:
                if route.batch is not None:
                    raise Malformed("bad_element", "batch elements must be objects")
                element = {}  # a scalar payload: only topic levels and defaults apply
            if parts is not None:
                field = element.get(parts[1], _MISSING)
                if field is _MISSING:
                    raise Malformed("bad_signal", f"signal template needs {parts[1]!r}")
                key = f"{parts[0]}{field}{parts[2]}"
            else:
                key = key_of(element)
            raw = element.get(vk, _MISSING) if vk is not None else get_value(element)
            if raw is _MISSING:
                raise Malformed("missing_value", f"no {config.value!r} in the payload")
            kind = type(raw)
            value = float(raw) if kind is float or kind is int else parse_value(raw)
            if tk is not None:
                ts_raw = element.get(tk, _MISSING)
            else:
                ts_raw = get_ts(element) if get_ts is not None else _MISSING
            if ts_raw is _MISSING:
                ts_raw = message_ts
            source_ts: datetime | None
            if ts_raw is _MISSING or ts_raw is None:
                source_ts = None
            elif type(ts_raw) is str:  # elements of a batch often share one timestamp
                source_ts = times.get(ts_raw)
                if source_ts is None:
                    source_ts = times[ts_raw] = parse_timestamp(ts_raw)
            else:
                source_ts = parse_timestamp(ts_raw)
            if qk is not None:
                q_raw = element.get(qk, _MISSING)
            else:
                q_raw = get_q(element) if get_q is not None else _MISSING
            if q_raw is _MISSING:
                q_raw = message_q
            q = quality.GOOD if q_raw is _MISSING or q_raw is None else parse_quality(q_raw)
            append(Record(key, source_ts, now, value, q))
            if key not in known:
                new.append(self._declare(key, topic, levels, element, route))
        return records, new

    def _declare(
        self, key: str, topic: str, levels: list[str], fields: dict[str, Any], route: Route
    ) -> SignalSpec:
        config = route.config
        equipment = self.equipment
        if config.equipment:
            try:
                equipment = config.equipment.format(*levels, topic=topic, **fields)
            except (IndexError, KeyError):
                equipment = self.equipment
        meta = self.meta(key)
        spec = SignalSpec(
            key=key,
            equipment_code=equipment,
            name=key.rsplit(".", 1)[-1],
            unit=config.unit if config.unit is not None else meta.get("unit"),
            data_type=config.data_type or meta.get("data_type") or "float",
            protocol="mqtt",
            source=topic,
            description=meta.get("description"),
            deadband=Deadband(kind=config.deadband.type, value=config.deadband.value)
            if config.deadband
            else None,
            report_by_exception=config.deadband is not None,
        )
        self.known[key] = spec
        return spec
