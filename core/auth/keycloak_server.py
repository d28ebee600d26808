"""Run Keycloak from its server distribution on the machine's Java (local boot and tests).

The distribution zip is fetched once into MES_KEYCLOAK_CACHE with Maven (Maven Central
coordinates `org.keycloak:keycloak-quarkus-dist:<version>:zip`), unpacked and built once for our
options (PostgreSQL, health and metrics, a single local node). Every server then runs from its
own instance directory, a hard-linked copy of that build with a private `data/` folder, so that
`./init.sh` and concurrent test sessions never share writable state.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

GROUP_ID = "org.keycloak"
ARTIFACT_ID = "keycloak-quarkus-dist"
BUILD_OPTIONS = (
    "--db=postgres",
    "--health-enabled=true",
    "--metrics-enabled=true",
    "--cache=local",
)
"""Build-time options baked into the cached build; start options are given per server."""

MARKER = ".mes-build"


class DistributionError(Exception):
    """The distribution could not be fetched, unpacked or built; the message says how to fix it."""


def zip_name(version: str) -> str:
    """File name of the distribution zip."""
    return f"{ARTIFACT_ID}-{version}.zip"


def build_id(version: str) -> str:
    """Identifies a build: version plus the build options."""
    digest = hashlib.sha256(" ".join(BUILD_OPTIONS).encode()).hexdigest()[:8]
    return f"{version}-{digest}"


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """Exclusive lock on the cache (init.sh and test sessions may prepare it at the same time)."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def fetch_zip(version: str, cache: Path) -> Path:
    """The distribution zip in `cache`, downloaded with Maven the first time."""
    target = cache / zip_name(version)
    if target.is_file():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DistributionError(
            f"{target} is missing and Maven is not installed to fetch it: install Maven "
            f"(apt-get install maven) or put {zip_name(version)} into MES_KEYCLOAK_CACHE={cache}"
        )
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
        result = subprocess.run(
            [
                mvn,
                "--batch-mode",
                "--quiet",
                "--strict-checksums",
                "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
                f"-Dartifact={GROUP_ID}:{ARTIFACT_ID}:{version}:zip",
                f"-DoutputDirectory={tmp}",
            ],
            capture_output=True,
            text=True,
            cwd=tmp,
            timeout=1800,
        )
        fetched = Path(tmp) / zip_name(version)
        if result.returncode != 0 or not fetched.is_file():
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise DistributionError(
                f"Maven could not fetch {GROUP_ID}:{ARTIFACT_ID}:{version}:zip "
                f"(MES_KEYCLOAK_VERSION={version}): {' | '.join(tail)}"
            )
        os.replace(fetched, target)
    return target


def _unpack(archive: Path, dest: Path) -> None:
    """Extract keeping the executable bits zipfile drops."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                path.chmod(mode)


def ensure_distribution(version: str, cache: Path) -> Path:
    """A built distribution for `version` in `cache` (fetched, unpacked and built once)."""
    home = cache / f"keycloak-{build_id(version)}"
    if (home / MARKER).is_file():
        return home
    with _locked(cache):
        if (home / MARKER).is_file():
            return home
        archive = fetch_zip(version, cache)
        work = Path(tempfile.mkdtemp(dir=cache, prefix=".unpack-"))
        try:
            try:
                _unpack(archive, work)
            except zipfile.BadZipFile as err:
                archive.unlink()
                raise DistributionError(f"{archive} is corrupt and was removed; retry") from err
            unpacked = work / f"keycloak-{version}"
            if not (unpacked / "bin" / "kc.sh").is_file():
                raise DistributionError(f"{archive} has no keycloak-{version}/bin/kc.sh")
            result = subprocess.run(
                [str(unpacked / "bin" / "kc.sh"), "build", *BUILD_OPTIONS],
                capture_output=True,
                text=True,
                timeout=900,
            )
            if result.returncode != 0:
                tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-5:])
                raise DistributionError(f"kc.sh build failed (Java 17+ required): {tail}")
            (unpacked / MARKER).write_text(build_id(version) + "\n")
            shutil.rmtree(home, ignore_errors=True)
            os.replace(unpacked, home)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return home


def _link_or_copy(src: str, dst: str) -> object:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def prepare_instance(distribution: Path, instance: Path) -> Path:
    """`instance` as a hard-linked copy of `distribution` with its own `data/` folder."""
    wanted = (distribution / MARKER).read_text()
    if (instance / MARKER).is_file() and (instance / MARKER).read_text() == wanted:
        return instance
    if instance.exists():
        shutil.rmtree(instance)
    instance.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(distribution, instance, copy_function=_link_or_copy, symlinks=True)
    (instance / MARKER).unlink()  # the instance's own file, not a link into the cache
    (instance / MARKER).write_text(wanted)
    return instance


@dataclass(frozen=True, kw_only=True)
class ServerSpec:
    """Everything one Keycloak process needs."""

    instance: Path
    host: str
    port: int
    management_port: int
    public_url: str
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    db_password: str
    admin_user: str
    admin_password: str
    heap_max: str

    def command(self) -> list[str]:
        """`kc.sh start` with our options; secrets are passed in the environment, not here."""
        return [
            str(self.instance / "bin" / "kc.sh"),
            "start",
            "--optimized",
            "--http-enabled=true",
            f"--http-host={self.host}",
            f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
            f"--hostname={self.public_url.rstrip('/')}",
            "--hostname-strict=true",
            f"--db-url=jdbc:postgresql://{self.db_host}:{self.db_port}/{self.db_name}",
            f"--db-username={self.db_user}",
        ]

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Process environment: database password, bootstrap admin, heap."""
        env = dict(os.environ if base is None else base)
        env.update(
            KC_DB_PASSWORD=self.db_password,
            KC_BOOTSTRAP_ADMIN_USERNAME=self.admin_user,
            KC_BOOTSTRAP_ADMIN_PASSWORD=self.admin_password,
            JAVA_OPTS_KC_HEAP=f"-Xms64m -Xmx{self.heap_max}",
        )
        return env

    @property
    def ready_url(self) -> str:
        """Readiness probe on the management port."""
        return f"http://{self.host}:{self.management_port}/health/ready"


def is_ready(ready_url: str) -> bool:
    """True when Keycloak's readiness probe answers UP."""
    try:
        response = httpx.get(ready_url, timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("status") == "UP"
