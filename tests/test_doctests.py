"""Docstring examples in the packages run as tests."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ["mes_common", "core", "db", "gateway", "simulators"]
SKIP = ("db.env", "db.versions")  # Alembic scripts run only inside a migration context


def modules() -> list[str]:
    names = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
            if not info.name.startswith(SKIP):
                names.append(info.name)
    return names


@pytest.mark.parametrize("name", modules())
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_examples_exist() -> None:
    """Guard: the collection finds the modules that carry examples."""
    found = {
        name
        for name in modules()
        if doctest.DocTestFinder().find(importlib.import_module(name))
        and any(t.examples for t in doctest.DocTestFinder().find(importlib.import_module(name)))
    }
    assert {"db.telemetry_ddl", "core.telemetry.query"} <= found
