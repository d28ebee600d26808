"""Property-based API fuzzing with schemathesis: generated requests (valid and invalid) for each
operation, sent through the in-process client; no 5xx, and responses match the OpenAPI schema."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.app import create_app
from tests.support.api import TEST_HEADER, AsRoles

FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
"""Hypothesis settings of the API fuzz tests (a real database per test, so no deadline)."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@cache
def openapi() -> dict[str, Any]:
    """The API description (the app is built, not started: no database is touched)."""
    spec: dict[str, Any] = create_app(background=False).openapi()
    return spec


def operations(prefix: str) -> list[tuple[str, str]]:
    """(method, path) of every operation under `prefix`."""
    return [
        (method.upper(), path)
        for path, item in openapi()["paths"].items()
        if path.startswith(prefix)
        for method in item
    ]


@cache
def schema() -> schemathesis.BaseSchema:
    """The schemathesis view of the API description."""
    return schemathesis.openapi.from_dict(openapi())


def operation(method: str, path: str) -> schemathesis.APIOperation[Any, Any, Any, Any]:
    """One operation of the schema."""
    return schema()[path][method]


async def send_and_check(client: httpx.AsyncClient, case: schemathesis.Case[Any]) -> httpx.Response:
    """Send a generated case through `client` (as its caller) and check the response."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url).rstrip("/"))
    headers = {**kwargs.get("headers", {}), TEST_HEADER: client.headers[TEST_HEADER]}
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        body["content"] = data if isinstance(data, bytes | str) else str(data)
    response = await client.request(
        kwargs["method"], kwargs["url"], headers=headers, params=kwargs.get("params"), **body
    )
    case.validate_response(response, checks=CHECKS)
    return response


async def fuzz_as_admin(
    as_roles: AsRoles, method: str, path: str, mode: GenerationMode, data: st.DataObject
) -> None:
    """Draw one generated request for the operation and send and check it as an admin."""
    case = data.draw(operation(method, path).as_strategy(generation_mode=mode))
    async with as_roles("admin") as client:
        await send_and_check(client, case)
