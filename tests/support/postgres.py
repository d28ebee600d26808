"""A private PostgreSQL cluster for the tests (initdb + postgres on a free port, fsync off)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.support.net import LOOPBACK, free_port, port_open, wait_until

SUPERUSER = "mes_test"


def pg_bindir() -> Path:
    """Directory with initdb/postgres (Debian layout or PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")


# PostgreSQL refuses to run as root: run it as the `postgres` account then.
SERVICE_USER = "postgres" if os.geteuid() == 0 else None


@dataclass
class PgCluster:
    """A running (or stopped) private cluster."""

    datadir: Path
    port: int
    password: str
    host: str = LOOPBACK
    user: str = SUPERUSER
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string as the superuser."""
        return (
            f"host={self.host} port={self.port} dbname={dbname} user={self.user} "
            f"password={self.password} connect_timeout=5"
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        if self.process and self.process.poll() is None:
            return
        log = open(self.datadir.parent / "postgres.log", "ab")  # noqa: SIM115 - owned by Popen
        self.process = subprocess.Popen(
            [
                str(pg_bindir() / "postgres"),
                "-D",
                str(self.datadir),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={self.host}",
                "-c",
                f"unix_socket_directories={self.datadir}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=256MB",
                # a client frozen mid-authentication (a leaked task of a test whose event loop
                # no longer runs) would otherwise hold every later DROP DATABASE ... WITH (FORCE)
                # for the default 60 s: the drop waits for every backend to absorb a barrier
                "-c",
                "authentication_timeout=5s",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            user=SERVICE_USER,
            group=SERVICE_USER,
        )
        wait_until(self._accepts, timeout=60, what=f"PostgreSQL on port {self.port}")

    def _accepts(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise RuntimeError(f"postgres exited; see {self.datadir.parent / 'postgres.log'}")
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server (`mode` as pg_ctl: smart, fast, immediate)."""
        if self.process is None or self.process.poll() is not None:
            return
        signal_for = {"smart": 15, "fast": 2, "immediate": 3}
        self.process.send_signal(signal_for[mode])
        self.process.wait(timeout=60)
        wait_until(lambda: not port_open(self.port), timeout=30, what="PostgreSQL to stop")


def create_cluster(base: Path | None = None) -> PgCluster:
    """initdb a new cluster in a temporary directory (not started)."""
    root = Path(tempfile.mkdtemp(prefix="mes-pg-", dir=base))
    password = secrets.token_hex(12)
    datadir = root / "data"
    pwfile = root / "pw"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    subprocess.run(
        [
            str(pg_bindir() / "initdb"),
            "-D",
            str(datadir),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        cwd=root,
        user=SERVICE_USER,
        group=SERVICE_USER,
    )
    pwfile.unlink()
    return PgCluster(datadir=datadir, port=free_port(), password=password)


@contextmanager
def private_cluster() -> Iterator[PgCluster]:
    """A started private cluster, removed afterwards."""
    cluster = create_cluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop(mode="immediate")
        shutil.rmtree(cluster.datadir.parent, ignore_errors=True)
