"""Property-based run over the production part of the OpenAPI description (schemathesis):
on the demo plant, generated requests to every production operation get no 5xx, and every
response matches its documented status codes, content types and schemas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import ignored_auth, positive_data_acceptance
from schemathesis.core.result import Ok

from core.app import create_app
from core.auth.deps import current_principal
from core.auth.principal import Principal, Role
from tests.support.api import api_settings
from tests.support.databases import TestDb

TAGS = {"bom", "equipment", "routings", "calendar", "downtime", "plans", "work-orders", "reports"}
EXAMPLES = 12
ADMIN = Principal(subject="fuzz", username="fuzz", roles=frozenset(Role))
MES = str(Path(sys.executable).parent / "mes")


def explore(operation: Any, problems: dict[str, str]) -> None:
    """Run generated cases against one operation, collecting the first failure."""
    name = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        try:
            case.call_and_validate(excluded_checks=[ignored_auth, positive_data_acceptance])
        except BaseException as failure:  # noqa: BLE001 - collected and reported below
            problems.setdefault(name, str(failure)[:2000])

    check()


@pytest.mark.slow
def test_production_operations_never_fail_and_match_their_schema(db: TestDb) -> None:
    loaded = subprocess.run(
        [MES, "demo", "load"],
        env={**os.environ, **db.env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    app = create_app(api_settings(db), background=False)

    async def admin() -> Principal:
        return ADMIN

    app.dependency_overrides[current_principal] = admin
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    problems: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if not set(operation.tags or []) & TAGS:
            continue
        operations += 1
        explore(operation, problems)
    assert operations >= 80
    assert problems == {}
