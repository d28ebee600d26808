"""All three protocols into one gateway at once: points committed per second, sustained, against
the raw psycopg COPY rate of the same run. Target: >= 50,000 points/s.

    python -m bench.gateway_mixed [--runs 3] [--seconds 30]
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.gateway_common import (
    Gateway,
    gateway_config,
    median,
    modbus_device,
    modbus_server,
    mqtt_device,
    mqtt_publisher,
    opcua_device,
    opcua_server,
    raw_copy_rate,
    reset_readings,
    result_name,
    stack,
    stop,
    table,
    write_result,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1, help="gateway.workers")
    args = parser.parse_args()
    copy: list[float] = []
    total: list[float] = []
    per_protocol: list[dict[str, float]] = []
    with stack() as st:
        opc, endpoint = opcua_server(1000, 5)
        plc, port = modbus_server(1000)
        try:
            for run in range(args.runs):
                copy.append(raw_copy_rate(st.db, seconds=10))
                reset_readings(st.db)
                devices = [
                    opcua_device(endpoint),
                    modbus_device(port, 1000, interval_ms=20),
                    mqtt_device(st, f"mixed-{run}", workers=args.workers),
                ]
                config = gateway_config(devices, workers=args.workers)
                with Gateway(st, config, name=f"mixed-{run}") as gw:
                    pub = mqtt_publisher(st, args.seconds + 30, f"mixedpub-{run}")
                    try:
                        before = {d: gw.metric("gateway_points_received_total", f'device="{d}"')
                                  for d in ("opcua", "modbus", "mqtt")}  # fmt: skip
                        total.append(gw.rate(args.seconds, warmup=8))
                        after = {d: gw.metric("gateway_points_received_total", f'device="{d}"')
                                 for d in ("opcua", "modbus", "mqtt")}  # fmt: skip
                    finally:
                        stop(pub)
                span = args.seconds + 8
                per_protocol.append({d: (after[d] - before[d]) / span for d in after})
                print(f"run {run}: copy {copy[-1]:,.0f}/s  gateway {total[-1]:,.0f}/s  "
                      f"received/s {per_protocol[-1]}", flush=True)  # fmt: skip
        finally:
            stop(opc)
            stop(plc)
    result: dict[str, Any] = {
        "unit": "points/s",
        "runs": args.runs,
        "seconds": args.seconds,
        "workers": args.workers,
        "load": "OPC UA 1000 variables at 5 Hz, Modbus 1000 registers polled every 20 ms, MQTT "
        "batches of 100 readings as fast as the broker takes them",
        "raw_copy": copy,
        "gateway": total,
        "received_per_protocol": per_protocol,
        "median": {"raw_copy": median(copy), "gateway": median(total)},
        "ratio": {"gateway_vs_raw_copy": median(total) / median(copy)},
        "targets": {"gateway_points_per_s": 50_000},
        "baseline": "raw psycopg binary COPY into reading, same machine, same run",
    }
    write_result(result_name("gateway_mixed", args.workers), result)
    m = result["median"]
    print(
        table(
            "Mixed OPC UA + Modbus + MQTT into one gateway, medians",
            ["measure", "points/s", "gateway ratio"],
            [
                ["raw psycopg COPY", f"{m['raw_copy']:,.0f}",
                 f"{result['ratio']['gateway_vs_raw_copy']:.2f}"],
                ["gateway end to end", f"{m['gateway']:,.0f}", "1.00"],
            ],
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
