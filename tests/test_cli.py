"""The `mes` command: bad settings give one clear line naming the variable and exit != 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.databases import TestDb
from tests.support.net import free_port

MES = str(Path(sys.executable).parent / "mes")


def run_mes(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MES, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_malformed_port_names_the_variable() -> None:
    result = run_mes("api", env={"MES_API_PORT": "abc"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("configuration error: MES_API_PORT='abc'")


def test_missing_setting_names_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MES_DB_HOST"}
    result = subprocess.run(
        [MES, "db", "current"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: MES_DB_HOST is not set (source env.sh or export it)"
    )


def test_unreachable_database_names_the_settings() -> None:
    port = str(free_port())
    result = run_mes("api", env={"MES_DB_PORT": port, "MES_DB_HOST": "127.0.0.1"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot reach the database" in lines[0]
    assert f"MES_DB_PORT={port}" in lines[0] and "MES_DB_HOST=127.0.0.1" in lines[0]


def test_db_upgrade_is_idempotent_from_the_command_line(empty_db: TestDb) -> None:
    first = run_mes("db", "upgrade", env=empty_db.env)
    assert first.returncode == 0, first.stderr
    second = run_mes("db", "upgrade", env=empty_db.env)
    assert second.returncode == 0, second.stderr
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]
    current = run_mes("db", "current", env=empty_db.env)
    assert "up to date" in current.stdout
    maintain = run_mes("db", "maintain", env=empty_db.env)
    assert maintain.returncode == 0, maintain.stderr
    assert "backend=" in maintain.stdout


def test_auth_matrix_lists_every_route() -> None:
    result = run_mes("auth", "matrix")
    assert result.returncode == 0, result.stderr
    assert "/api/v1/audit" in result.stdout
    assert "UNDECLARED" not in result.stdout
