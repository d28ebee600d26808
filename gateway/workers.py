"""Several gateway processes side by side (`gateway.workers`): which devices a worker runs, its
identity, and the spool batches of workers that no longer exist.

Every worker is a whole gateway (its own connections, batcher, writer, spool and metrics) named
`<gateway.id>-w<N>`. Modbus and OPC UA devices are split between workers by a stable hash of the
device name (or pinned with `worker:`); MQTT devices run in every worker, subscribed through an
MQTT 5 shared subscription so the broker hands each message to one worker only."""

from __future__ import annotations

import logging
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from gateway.config.models import Device, GatewayConfig, MqttDevice
from gateway.sinks.spool import Spool

log = logging.getLogger("gateway.workers")

_BATCH = re.compile(r"^\d{16}-(\d+)\.batch$")


@dataclass(frozen=True)
class Slot:
    """This process is worker `index` of `count`."""

    index: int
    count: int


def worker_id(gateway_id: str, index: int) -> str:
    """The id a worker writes under (spool directory, `telemetry_dirty.writer`, device links).

    >>> worker_id("edge-1", 0)
    'edge-1-w0'
    """
    return f"{gateway_id}-w{index}"


def share_group(gateway_id: str, device: MqttDevice) -> str:
    """The MQTT share name a device's workers subscribe under.

    >>> from gateway.config.models import MqttDevice, MqttSubscription
    >>> d = MqttDevice(name="line2", protocol="mqtt", host="h", port=1,
    ...                subscriptions=[MqttSubscription(topic="a/#", signal="{1}")])
    >>> share_group("edge-1", d)
    'mes-edge-1.line2'
    """
    return device.share_group or f"mes-{gateway_id}.{device.name}"


def owner(name: str, pinned: int | None, count: int) -> int:
    """The worker running a (non-MQTT) device: its `worker:` key, else a stable hash of its name
    (the same on every start and host; adding a device never moves the others).

    >>> owner("PLC-1", None, 1), owner("PLC-1", 1, 4), owner("PLC-1", None, 4)
    (0, 1, 3)
    """
    if pinned is not None:
        return pinned
    return zlib.crc32(name.encode()) % count


def partition(config: GatewayConfig, slot: Slot) -> GatewayConfig:
    """The configuration worker `slot` runs: its id, its share of the polled devices, and every
    MQTT device on a shared subscription with a client id of its own."""
    base = config.gateway.id
    devices: list[Device] = []
    for device in config.devices:
        if isinstance(device, MqttDevice):
            client_id = device.client_id or f"mes-gateway-{base}-{device.name}"
            devices.append(
                device.model_copy(
                    update={
                        "client_id": f"{client_id}-w{slot.index}",
                        "share_group": share_group(base, device),
                    }
                )
            )
        elif owner(device.name, device.worker, slot.count) == slot.index:
            devices.append(device)
    return config.model_copy(
        update={
            "gateway": config.gateway.model_copy(update={"id": worker_id(base, slot.index)}),
            "devices": devices,
        }
    )


def spool_root(config: GatewayConfig, default: Path) -> Path:
    """The directory holding the gateway's spool directories."""
    return config.spool.dir or default


def adopt_orphans(root: Path, gateway_id: str, workers: int, *, max_bytes: int) -> int:
    """Move the spooled batches of workers this run does not have into the spool of the one that
    replays them (worker 0, or the single process); returns how many batches moved.

    With `workers` > 1 the orphans are the single-process spool `<id>` and `<id>-wN` for N >=
    `workers`; with one process, every `<id>-wN`. Each file is renamed into place (atomic): an
    interrupted adoption leaves the rest where it was, adopted at the next start."""
    if not root.is_dir():
        return 0
    pattern = re.compile(rf"^{re.escape(gateway_id)}-w(\d+)$")
    orphans: list[Path] = []
    for path in sorted(root.iterdir()):
        if not path.is_dir():
            continue
        match = pattern.match(path.name)
        if (match and (workers == 1 or int(match[1]) >= workers)) or (
            workers > 1 and path.name == gateway_id
        ):
            orphans.append(path)
    target = root / (worker_id(gateway_id, 0) if workers > 1 else gateway_id)
    moved = 0
    for orphan in orphans:
        files = sorted(f for f in orphan.iterdir() if _BATCH.match(f.name))
        if not files:
            continue
        spool = Spool(target, max_bytes=max_bytes)  # its next sequence number, after its batches
        seq = spool.next_seq
        for path in files:
            rows = _BATCH.match(path.name)[1]  # type: ignore[index]
            os.replace(path, target / f"{seq:016d}-{rows}.batch")
            seq += 1
            moved += 1
        fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(fd)  # the renames are durable before the orphan's directory is trusted empty
        finally:
            os.close(fd)
        log.warning(
            "adopted the spooled batches of a worker this configuration does not run",
            extra={"from": str(orphan), "to": str(target), "batches": len(files)},
        )
    return moved
