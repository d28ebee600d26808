"""Dependency rules: gateway and core never import each other, simulators import neither,
and the command line loads a subcommand's stack only when that subcommand runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: " in result.stdout and " broken" in result.stdout
    assert "0 broken" in result.stdout


def _modules_loaded_by(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split(".")[0] for line in out.split()}


def test_command_line_loads_no_heavy_stack_up_front() -> None:
    loaded = _modules_loaded_by("import mes_cli.main")
    assert not loaded & {"fastapi", "river", "sqlalchemy", "asyncua", "pymodbus", "core"}


def test_gateway_package_loads_no_web_or_ml_stack() -> None:
    loaded = _modules_loaded_by("import gateway")
    assert not loaded & {"fastapi", "starlette", "river", "sqlalchemy", "core"}
