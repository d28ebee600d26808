"""The live-MES part of the OpenAPI description (equipment states, production counts, OEE) is
a product: every operation summarised and described with error responses, every schema it uses
has an example, paths are kebab-case."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

TAGS = {"equipment-states", "production", "oee"}
FOREIGN = re.compile(
    r"^(Page_|ErrorBody|ErrorInfo|ErrorDetail|HTTPValidationError|ValidationError)"
)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if set(op.get("tags", [])) & TAGS
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


def test_every_live_operation_is_documented(app: FastAPI) -> None:
    spec = app.openapi()
    operations = _operations(spec)
    assert len(operations) >= 20
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary") and op.get("description"), where
        assert re.fullmatch(r"[a-z_]+", op["operationId"]), where
        assert path.startswith("/api/v1/"), where
        for segment in path.split("/")[1:]:
            assert re.fullmatch(r"[a-z0-9-]+|\{[a-z_]+\}", segment), where
        codes = set(op["responses"])
        assert {"401", "403", "422"} <= codes, where
        if "{" in path:
            assert "404" in codes, where


def test_every_schema_used_by_live_operations_has_an_example(app: FastAPI) -> None:
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    pending = set().union(*(_refs(op) for _, _, op in _operations(spec)))
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
    assert missing == []
