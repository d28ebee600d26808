"""Which gateway processes ran before, so the MQTT sessions of retired ones get drained.

The ids a gateway ran under (`<id>` for one process, `<id>-w<N>` per worker) are kept in
`<spool root>/<id>.workers.json`. At start the file gets the ids of this run added before any
MQTT session is opened under them; an id it lists that this run does not have is retired: its
MQTT sessions are drained (`gateway.drain`) by worker 0 (or the single process), which then
removes the id. Without the file (a first start, or spools written before it existed) the ids are
read from the spool directories, which every run creates."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.config.models import GatewayConfig, MqttDevice
from gateway.workers import share_group, worker_id

log = logging.getLogger("gateway.sessions")

VERSION = 1


@dataclass(frozen=True)
class RetiredSession:
    """One MQTT session of a retired gateway process: the device it carried, the client id it
    used and the filters it subscribed (to unsubscribe before draining what is queued)."""

    run_id: str  # the retired process's id (`<id>` or `<id>-w<N>`)
    device: MqttDevice  # the device, with the retired client id
    filters: tuple[str, ...]

    @property
    def client_id(self) -> str:
        """The session's MQTT client id."""
        assert self.device.client_id is not None
        return self.device.client_id


def run_ids(gateway_id: str, workers: int) -> list[str]:
    """The ids of a run with `workers` processes.

    >>> run_ids("edge-1", 1), run_ids("edge-1", 2)
    (['edge-1'], ['edge-1-w0', 'edge-1-w1'])
    """
    if workers == 1:
        return [gateway_id]
    return [worker_id(gateway_id, n) for n in range(workers)]


def state_path(root: Path, gateway_id: str) -> Path:
    """The state file of gateway `gateway_id` under the spool root."""
    return root / f"{gateway_id}.workers.json"


def _from_spools(root: Path, gateway_id: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(gateway_id)}(-w\d+)?$")
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and pattern.match(p.name))


def known_ids(root: Path, gateway_id: str) -> list[str]:
    """The ids recorded (or, without a readable state file, those the spool directories show:
    every process creates its spool directory, and an id without sessions drains at once)."""
    path = state_path(root, gateway_id)
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return _from_spools(root, gateway_id)
    except (OSError, orjson.JSONDecodeError) as err:
        data, problem = None, str(err)
    else:
        problem = "no list of ids"
    ids = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        log.error(
            "the gateway state file is unreadable; the spool directories tell which ids ran",
            extra={"path": str(path), "error": problem},
        )
        return _from_spools(root, gateway_id)
    return ids


def _write(root: Path, gateway_id: str, ids: list[str]) -> None:
    """Replace the state file atomically and durably."""
    root.mkdir(parents=True, exist_ok=True)
    path = state_path(root, gateway_id)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(orjson.dumps({"version": VERSION, "ids": sorted(set(ids))}))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def record_start(root: Path, gateway_id: str, workers: int) -> list[str]:
    """Add this run's ids to the state (before any session is opened under them); returns the
    retired ids, which stay recorded until their sessions are drained."""
    known = known_ids(root, gateway_id)
    current = run_ids(gateway_id, workers)
    _write(root, gateway_id, known + current)
    retired = sorted(set(known) - set(current))
    if retired:
        log.warning(
            "gateway processes of an earlier run are retired: their MQTT sessions are drained",
            extra={"gateway": gateway_id, "retired": retired, "workers": workers},
        )
    return retired


def retired_ids(root: Path, gateway_id: str, workers: int) -> list[str]:
    """The recorded ids this run does not have."""
    return sorted(set(known_ids(root, gateway_id)) - set(run_ids(gateway_id, workers)))


def forget(root: Path, gateway_id: str, run_id: str) -> None:
    """Remove a retired id once its sessions are drained."""
    ids = known_ids(root, gateway_id)
    if run_id in ids:
        _write(root, gateway_id, [i for i in ids if i != run_id])


def retired_sessions(config: GatewayConfig, run_id: str) -> list[RetiredSession]:
    """The MQTT sessions retired process `run_id` of `config`'s gateway held: one per enabled
    MQTT device with a persistent session, with the client id and filters that process used."""
    base = config.gateway.id
    sessions = []
    for device in config.devices:
        if not isinstance(device, MqttDevice) or not device.enabled:
            continue
        if device.session_expiry_s == 0:  # the broker ended the session when it disconnected
            continue
        if run_id == base:  # the single process: plain filters, the configured client id
            client_id = device.client_id or f"mes-gateway-{base}-{device.name}"
            filters = tuple(sub.topic for sub in device.subscriptions)
        else:
            match = re.fullmatch(rf"{re.escape(base)}-w(\d+)", run_id)
            if match is None:
                log.error("not an id of this gateway; ignored", extra={"id": run_id})
                return []
            index = match[1]
            client_id = f"{device.client_id or f'mes-gateway-{base}-{device.name}'}-w{index}"
            group = share_group(base, device)
            filters = tuple(f"$share/{group}/{sub.topic}" for sub in device.subscriptions)
        sessions.append(
            RetiredSession(
                run_id=run_id,
                device=device.model_copy(update={"client_id": client_id, "share_group": None}),
                filters=filters,
            )
        )
    return sessions
