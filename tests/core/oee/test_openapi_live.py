"""The live-MES part of the OpenAPI description (equipment states, production counts, OEE) is
a product: every operation summarised and described with error responses, every schema it uses
has an example, paths are kebab-case."""

from __future__ import annotations

from fastapi import FastAPI

from tests.support.openapi import operation_problems, operations, schemas_without_example

TAGS = {"equipment-states", "production", "oee"}


def test_every_live_operation_is_documented(app: FastAPI) -> None:
    spec = app.openapi()
    assert len(operations(spec, TAGS)) >= 20
    assert operation_problems(spec, TAGS) == []


def test_every_schema_used_by_live_operations_has_an_example(app: FastAPI) -> None:
    assert schemas_without_example(app.openapi(), TAGS) == []
