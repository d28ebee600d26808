"""`mes api` as a subprocess on a free port (several can share one database), with helpers to
read its metrics and wait for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.databases import TestDb
from tests.support.keycloak import TestRealm
from tests.support.net import LOOPBACK, free_port

MES = str(Path(sys.executable).parent / "mes")
START_TIMEOUT = 90.0


class ApiProcess:
    """One API process (`mes api`) on the test database, trusting the test realm."""

    def __init__(
        self, db: TestDb, realm: TestRealm, log: Path, *, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.log = log
        self.env = {
            **os.environ,
            **db.env,
            "MES_KEYCLOAK_URL": realm.server.url,
            "MES_KEYCLOAK_REALM": realm.name,
            "MES_API_HOST": LOOPBACK,
            "MES_API_PORT": str(self.port),
            "MES_API_WORKERS": "1",
            "MES_LOG_FORMAT": "text",
            "MES_LIVE_ENGINE_INTERVAL": "0.2",
            "MES_LIVE_LEADER_RETRY_S": "0.3",
            "MES_LIVE_KPI_INTERVAL": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """http://host:port"""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def address(self) -> str:
        """host:port"""
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Start and wait until /readyz answers 200."""
        out = open(self.log, "ab")  # noqa: SIM115 - owned by Popen
        self.process = subprocess.Popen(
            [MES, "api"], env=self.env, stdout=out, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mes api exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"mes api did not get ready ({self.log})")

    def metric(self, name: str) -> float | None:
        """A sample of /metrics (None when absent or unreachable)."""
        try:
            text = httpx.get(self.base_url + "/metrics", timeout=5).text
        except httpx.HTTPError:
            return None
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return None

    def leads(self) -> bool:
        """True while this process runs the derivation engine."""
        return self.metric("mes_live_leader") == 1.0

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, its database sessions just vanish."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def client(self, token: str) -> httpx.Client:
        """A synchronous HTTP client with a bearer token."""
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def get(self, path: str, token: str, **params: Any) -> Any:
        """GET a JSON resource (must be 200)."""
        with self.client(token) as c:
            r = c.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()
