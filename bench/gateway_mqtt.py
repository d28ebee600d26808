"""MQTT batched payloads: gateway points committed per second against the raw paho receive rate
and the raw psycopg COPY rate, measured in the same run.

    python -m bench.gateway_mqtt [--runs 3] [--seconds 15]
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from bench.gateway_common import (
    Gateway,
    Stack,
    median,
    raw_copy_rate,
    reset_readings,
    result_name,
    spawn,
    stack,
    stop,
    table,
    wait_line,
    write_result,
)

VALUES = 100  # readings per message (the demo plant's batch topic shape)


def mqtt_config(
    st: Stack, client_id: str, prefix: str = "bench", workers: int = 1
) -> dict[str, Any]:
    """A gateway with one MQTT device mapping `<prefix>/<machine>/batch` payloads (with workers,
    on a shared subscription of the run's own: the broker keeps earlier runs' sessions)."""
    return {
        "version": 1,
        "gateway": {"id": "bench", "heartbeat_s": 3600, "workers": workers},
        "batch": {"max_rows": 5000, "max_delay_ms": 200},
        "live": {"enabled": True},
        "devices": [
            {
                "name": "mqtt",
                "protocol": "mqtt",
                "host": st.broker.host,
                "port": st.broker.port,
                "client_id": client_id,
                **({"share_group": client_id} if workers > 1 else {}),
                "subscriptions": [
                    {
                        "topic": f"{prefix}/+/batch",
                        "qos": 1,
                        "batch": "values",
                        "signal": "{1}.{signal}",
                        "equipment": "{1}",
                        "value": "value",
                        "timestamp": "ts",
                    }
                ],
            }
        ],
    }


def publisher(st: Stack, seconds: float, client_id: str, rate: float = 0, prefix: str = "bench"):  # type: ignore[no-untyped-def]
    """Start the publisher process (rate 0: as fast as the broker takes it)."""
    proc = spawn("mqtt", st.broker.host, str(st.broker.port), str(rate), str(VALUES),
                 str(seconds), client_id, prefix)  # fmt: skip
    wait_line(proc, b"READY")
    return proc


def raw_paho_rate(st: Stack, seconds: float, run: int) -> float:
    """Readings/s a bare paho subscriber receives (QoS 1, automatic acknowledgement)."""
    received = 0
    lock = threading.Lock()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        nonlocal received
        with lock:
            received += VALUES

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{run}")
    client.on_message = on_message
    client.connect(st.broker.host, st.broker.port)
    client.subscribe("raw/+/batch", qos=1)
    client.loop_start()
    time.sleep(0.5)
    proc = publisher(st, seconds + 5, f"rawpub-{run}", prefix="raw")
    try:
        time.sleep(2)
        first, t0 = received, time.monotonic()
        time.sleep(seconds)
        rate = (received - first) / (time.monotonic() - t0)
    finally:
        stop(proc)
        client.loop_stop()
        client.disconnect()
    return rate


def gateway_rate(
    st: Stack, seconds: float, run: int, workers: int = 1
) -> tuple[float, dict[str, float]]:
    """Readings/s the gateway commits with the publisher saturating it."""
    reset_readings(st.db)
    config = mqtt_config(st, f"gw-{run}", workers=workers)
    with Gateway(st, config, name=f"mqtt-{run}") as gw:
        proc = publisher(st, seconds + 10, f"gwpub-{run}")
        try:
            rate = gw.rate(seconds, warmup=4)
            extra = {
                "spooled": gw.metric("gateway_points_spooled_total"),
                "batch_p_count": gw.metric("gateway_batches_written_total"),
            }
        finally:
            stop(proc)
    return rate, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=1, help="gateway.workers")
    args = parser.parse_args()
    copy: list[float] = []
    raw: list[float] = []
    gateway: list[float] = []
    with stack() as st:
        for run in range(args.runs):
            copy.append(raw_copy_rate(st.db, seconds=min(args.seconds, 10)))
            raw.append(raw_paho_rate(st, args.seconds, run))
            rate, _ = gateway_rate(st, args.seconds, run, args.workers)
            gateway.append(rate)
            print(f"run {run}: copy {copy[-1]:,.0f}/s  paho {raw[-1]:,.0f}/s  "
                  f"gateway {gateway[-1]:,.0f}/s", flush=True)  # fmt: skip
    result = {
        "unit": "readings/s",
        "runs": args.runs,
        "seconds": args.seconds,
        "values_per_message": VALUES,
        "workers": args.workers,
        "raw_copy": copy,
        "raw_paho": raw,
        "gateway": gateway,
        "median": {"raw_copy": median(copy), "raw_paho": median(raw), "gateway": median(gateway)},
        "ratio": {
            "gateway_vs_raw_copy": median(gateway) / median(copy),
            "gateway_vs_raw_paho": median(gateway) / median(raw),
        },
        "targets": {"gateway_vs_raw_copy": 0.6},
        "baseline": "raw psycopg binary COPY into reading and a bare paho QoS 1 subscriber, "
        "same machine, same run",
    }
    write_result(result_name("gateway_mqtt", args.workers), result)
    m, r = result["median"], result["ratio"]
    print(
        table(
            "MQTT batched payloads (100 readings/message), medians",
            ["measure", "readings/s", "gateway ratio"],
            [
                ["raw psycopg COPY", f"{m['raw_copy']:,.0f}", f"{r['gateway_vs_raw_copy']:.2f}"],
                ["raw paho receive", f"{m['raw_paho']:,.0f}", f"{r['gateway_vs_raw_paho']:.2f}"],
                ["gateway end to end", f"{m['gateway']:,.0f}", "1.00"],
            ],
        )
    )


if __name__ == "__main__":
    main()
