"""Checks that a part of the OpenAPI description is a product: every operation summarised and
described with its error responses, kebab-case paths, and an example for every schema it uses."""

from __future__ import annotations

import re
from collections.abc import Set
from typing import Any

Operation = tuple[str, str, dict[str, Any]]

# shared envelopes and FastAPI's own validation schemas, documented where they are defined
FOREIGN = re.compile(
    r"^(Page_|ErrorBody|ErrorInfo|ErrorDetail|HTTPValidationError|ValidationError)"
)


def operations(spec: dict[str, Any], tags: Set[str]) -> list[Operation]:
    """(path, method, operation) of every operation carrying one of `tags`."""
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if set(op.get("tags", [])) & tags
    ]


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def operation_problems(spec: dict[str, Any], tags: Set[str]) -> list[str]:
    """What is missing or malformed in the operations carrying one of `tags`, one line each."""
    problems: list[str] = []
    for path, method, op in operations(spec, tags):
        where = f"{method.upper()} {path}"
        if not (op.get("summary") and op.get("description")):
            problems.append(f"{where}: no summary or no description")
        if not re.fullmatch(r"[a-z_]+", op["operationId"]):
            problems.append(f"{where}: operation id {op['operationId']!r} is not snake_case")
        if not path.startswith("/api/v1/"):
            problems.append(f"{where}: not under /api/v1/")
        for segment in path.split("/")[1:]:
            if not re.fullmatch(r"[a-z0-9-]+|\{[a-z_]+\}", segment):
                problems.append(f"{where}: path segment {segment!r} is not kebab-case")
        codes = set(op["responses"])
        # 422 only where there is input to reject (parameters or a body)
        takes_input = bool(op.get("parameters") or op.get("requestBody"))
        missing = {"401", "403", *(["422"] if takes_input else [])} - codes
        if missing:
            problems.append(f"{where}: no {sorted(missing)} responses")
        if "{" in path and "404" not in codes:
            problems.append(f"{where}: no 404 response")
    return problems


def schemas_without_example(spec: dict[str, Any], tags: Set[str]) -> list[str]:
    """Schemas reachable from the operations carrying one of `tags` with neither an example of
    their own nor one on every property (enums and FOREIGN ones aside), sorted."""
    schemas = spec["components"]["schemas"]
    pending = set().union(*(_refs(op) for _, _, op in operations(spec, tags)))
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending |= _refs(schemas[name])
    missing = []
    for name in sorted(seen):
        schema = schemas[name]
        if FOREIGN.match(name) or "enum" in schema:
            continue
        props = schema.get("properties", {})
        if not (schema.get("examples") or schema.get("example")) and not all(
            "examples" in p or "example" in p for p in props.values()
        ):
            missing.append(name)
    return missing
