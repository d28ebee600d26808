"""Ports and waiting."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

LOOPBACK = "127.0.0.1"
EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 10_000  # the lowest port handed out
_issued: set[int] = set()


def _ephemeral_start() -> int:
    """The first port of the range outgoing connections take their local ports from."""
    try:
        return int(EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_port() -> int:
    """A TCP port nothing listens on right now, for a server a test starts.

    Taken below the ephemeral range: a port the kernel picked there (bind to port 0) can be
    taken as the local port of any outgoing connection (a database client, say) before the
    server binds it, which then fails with "address already in use". A port is not handed out
    twice by one process.
    """
    top = _ephemeral_start()
    for _ in range(1000 if top > LOWEST + 1000 else 0):
        port = random.randrange(LOWEST, top)
        if port in _issued:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
        _issued.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # no range below: any port
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1
) -> None:
    """Poll `check` until it is true; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
