"""A private Mosquitto broker on a free port, with persistence so restarts keep sessions."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.net import LOOPBACK, free_port, port_open, wait_until


@dataclass
class Broker:
    """A Mosquitto process that can be stopped and started again on the same port."""

    workdir: Path
    port: int
    host: str = LOOPBACK
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start and wait for the listener."""
        if self.process and self.process.poll() is None:
            return
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - owned by Popen
        self.process = subprocess.Popen(
            [exe, "-c", str(self.workdir / "mosquitto.conf")], stdout=log, stderr=subprocess.STDOUT
        )
        wait_until(lambda: port_open(self.port), timeout=20, what=f"Mosquitto on {self.port}")

    def stop(self) -> None:
        """Stop gracefully (persistence is written)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        self.process.wait(timeout=20)

    def kill(self) -> None:
        """Stop abruptly."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)


def create_broker() -> Broker:
    """Write a config for a loopback broker in a temporary directory (not started)."""
    workdir = Path(tempfile.mkdtemp(prefix="mes-mqtt-"))
    port = free_port()
    user = "root" if os.geteuid() == 0 else ""
    (workdir / "mosquitto.conf").write_text(
        "\n".join(
            [
                f"listener {port} {LOOPBACK}",
                "allow_anonymous true",
                "persistence true",
                f"persistence_location {workdir}/",
                "autosave_interval 1",
                "max_queued_messages 1000000",
                "max_inflight_messages 1000",
                "max_queued_bytes 0",
                f"user {user}" if user else "",
                "",
            ]
        )
    )
    return Broker(workdir=workdir, port=port)


@contextmanager
def private_broker() -> Iterator[Broker]:
    """A started broker, removed afterwards."""
    broker = create_broker()
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()
        shutil.rmtree(broker.workdir, ignore_errors=True)
