"""`mes auth matrix` lists every route with its roles, without any database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.auth.principal import Role
from tests.support.net import free_port

MES = str(Path(sys.executable).parent / "mes")


def _matrix(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MES, "auth", "matrix", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_matrix_needs_no_database_settings_or_server() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MES_DB_")}
    result = _matrix(env=env)
    assert result.returncode == 0, result.stderr
    assert "/api/v1/auth/me" in result.stdout and "WS" in result.stdout
    unreachable = {**os.environ, "MES_DB_PORT": str(free_port())}
    again = _matrix(env=unreachable)
    assert again.returncode == 0, again.stderr
    assert again.stdout == result.stdout


def test_markdown_matrix_has_a_column_per_role_and_a_row_per_route() -> None:
    result = _matrix("--markdown", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "| method | path | permission | " + " | ".join(r.value for r in Role) + " |"
    rows = [line for line in lines[2:] if line.startswith("| ")]
    assert any("| WS | /ws | dashboard:view |" in row for row in rows)
    assert all(row.count("|") == len(Role) + 4 for row in rows)
    assert "UNDECLARED" not in result.stdout


def test_matrix_names_a_malformed_setting() -> None:
    result = _matrix(env={**os.environ, "MES_JWT_LEEWAY_SECONDS": "soon"})
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: MES_JWT_LEEWAY_SECONDS='soon'")


def test_rbac_doc_shows_the_current_matrix() -> None:
    result = _matrix("--markdown", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    doc = Path(__file__).resolve().parents[3] / "docs" / "RBAC.md"
    table = [line for line in doc.read_text().splitlines() if line.startswith("|")]
    generated = result.stdout.strip().splitlines()
    table = table[table.index(generated[0]) :]
    assert table == generated, "docs/RBAC.md is stale: regenerate with `mes auth matrix --markdown`"
