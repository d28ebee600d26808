"""The production part of the OpenAPI description is a product: every operation summarised and
described with error responses, every schema it uses has an example, paths are kebab-case."""

from __future__ import annotations

from fastapi import FastAPI

from tests.support.openapi import operation_problems, operations, schemas_without_example

TAGS = {"bom", "equipment", "routings", "calendar", "downtime", "plans", "work-orders", "reports"}


def test_every_production_operation_is_documented(app: FastAPI) -> None:
    spec = app.openapi()
    assert len(operations(spec, TAGS)) >= 80
    assert operation_problems(spec, TAGS) == []


def test_every_schema_used_by_production_operations_has_an_example(app: FastAPI) -> None:
    assert schemas_without_example(app.openapi(), TAGS) == []
