"""The Keycloak distribution: fetched once, built once, private instances, no secrets in argv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.auth.keycloak_server import (
    MARKER,
    DistributionError,
    ServerSpec,
    ensure_distribution,
    fetch_zip,
    prepare_instance,
    zip_name,
)
from core.auth.settings import KeycloakServerSettings
from mes_common.settings import load_settings


@pytest.fixture(scope="module")
def distribution() -> Path:
    """The built distribution in MES_KEYCLOAK_CACHE (the Keycloak fixture uses the same)."""
    settings = load_settings(KeycloakServerSettings)
    return ensure_distribution(settings.keycloak_version, settings.keycloak_cache)


def test_distribution_is_built_once_and_reused(distribution: Path) -> None:
    settings = load_settings(KeycloakServerSettings)
    assert (distribution / MARKER).is_file()
    assert os.access(distribution / "bin" / "kc.sh", os.X_OK)
    marker_mtime = (distribution / MARKER).stat().st_mtime_ns
    again = ensure_distribution(settings.keycloak_version, settings.keycloak_cache)
    assert again == distribution
    assert (distribution / MARKER).stat().st_mtime_ns == marker_mtime


def test_instance_shares_files_but_not_data(distribution: Path, tmp_path: Path) -> None:
    instance = prepare_instance(distribution, tmp_path / "kc")
    run = instance / "lib" / "quarkus-run.jar"
    assert run.stat().st_ino == (distribution / "lib" / "quarkus-run.jar").stat().st_ino
    (instance / "data").mkdir(exist_ok=True)
    (instance / "data" / "scratch").write_text("instance state")
    assert not (distribution / "data" / "scratch").exists()
    assert prepare_instance(distribution, instance) == instance
    assert (instance / "data" / "scratch").exists()  # reused, not re-created


def test_instance_of_another_build_is_replaced(distribution: Path, tmp_path: Path) -> None:
    instance = prepare_instance(distribution, tmp_path / "kc")
    built = (distribution / MARKER).read_text()
    (instance / MARKER).write_text("older-build\n")
    assert (distribution / MARKER).read_text() == built  # the marker is not a shared link
    (instance / "stale").write_text("x")
    prepare_instance(distribution, instance)
    assert (instance / MARKER).read_text() == (distribution / MARKER).read_text()
    assert not (instance / "stale").exists()


def test_missing_zip_without_maven_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DistributionError) as err:
        fetch_zip("26.7.3", tmp_path)
    message = str(err.value)
    assert "apt-get install maven" in message
    assert f"MES_KEYCLOAK_CACHE={tmp_path}" in message
    assert zip_name("26.7.3") in message


def test_corrupt_zip_is_removed(tmp_path: Path) -> None:
    (tmp_path / zip_name("0.0.1")).write_bytes(b"not a zip")
    with pytest.raises(DistributionError, match="corrupt"):
        ensure_distribution("0.0.1", tmp_path)
    assert not (tmp_path / zip_name("0.0.1")).exists()


def test_command_line_holds_no_secret(tmp_path: Path) -> None:
    spec = ServerSpec(
        instance=tmp_path,
        host="127.0.0.1",
        port=18080,
        management_port=18090,
        public_url="http://localhost:18080/",
        db_host="127.0.0.1",
        db_port=15432,
        db_name="keycloak",
        db_user="keycloak",
        db_password="db-secret-value",
        admin_user="admin",
        admin_password="admin-secret-value",
        heap_max="512m",
    )
    argv = " ".join(spec.command())
    assert "secret-value" not in argv
    assert "--hostname=http://localhost:18080 " in argv + " "
    assert "--http-management-port=18090" in argv
    assert "--db-url=jdbc:postgresql://127.0.0.1:15432/keycloak" in argv
    env = spec.environment({})
    assert env["KC_DB_PASSWORD"] == "db-secret-value"
    assert env["KC_BOOTSTRAP_ADMIN_PASSWORD"] == "admin-secret-value"
    assert env["JAVA_OPTS_KC_HEAP"].endswith("-Xmx512m")
    assert spec.ready_url == "http://127.0.0.1:18090/health/ready"
