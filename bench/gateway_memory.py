"""Memory: gateway RSS sampled over a long mixed run (default 10 minutes). Target: no growth
beyond 10% between the first sampled minute (after warm-up) and the last.

    python -m bench.gateway_memory [--minutes 10]
"""

from __future__ import annotations

import argparse
import time
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
    stack,
    stop,
    table,
    write_result,
)

SAMPLE_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    duration = args.minutes * 60
    samples: list[tuple[float, int, float]] = []  # (elapsed s, rss bytes, points written)
    with stack() as st:
        opc, endpoint = opcua_server(500, 2)
        plc, port = modbus_server(500)
        try:
            devices = [
                opcua_device(endpoint),
                modbus_device(port, 500, interval_ms=100),
                mqtt_device(st, "memory"),
            ]
            with Gateway(st, gateway_config(devices), name="memory") as gw:
                pub = mqtt_publisher(st, duration + 120, "memorypub", rate=50)
                try:
                    t0 = time.monotonic()
                    while (elapsed := time.monotonic() - t0) < duration:
                        samples.append((elapsed, gw.rss(), gw.written()))
                        time.sleep(SAMPLE_S)
                    samples.append((time.monotonic() - t0, gw.rss(), gw.written()))
                finally:
                    stop(pub)
        finally:
            stop(opc)
            stop(plc)
    minute2 = [rss for t, rss, _ in samples if 60 <= t < 120]
    minute3 = [rss for t, rss, _ in samples if 120 <= t < 180]
    last = [rss for t, rss, _ in samples if t >= samples[-1][0] - 60]
    first_mib, last_mib = median(minute2) / 2**20, median(last) / 2**20
    settled_mib = median(minute3) / 2**20
    growth = last_mib / first_mib - 1
    growth_settled = last_mib / settled_mib - 1
    rate = (samples[-1][2] - samples[0][2]) / (samples[-1][0] - samples[0][0])
    result: dict[str, Any] = {
        "unit": "MiB",
        "minutes": args.minutes,
        "load": "OPC UA 500 variables at 2 Hz, Modbus 500 registers every 100 ms, MQTT 50 "
        "messages/s of 100 readings",
        "points_per_s": rate,
        "samples": [{"t": round(t, 1), "rss_mib": round(r / 2**20, 1)} for t, r, _ in samples],
        "median": {
            "rss_minute_2_mib": first_mib,
            "rss_minute_3_mib": settled_mib,
            "rss_last_minute_mib": last_mib,
        },
        "ratio": {"growth_from_minute_2": growth, "growth_from_minute_3": growth_settled},
        "targets": {"growth": 0.10},
        "baseline": "the same process's RSS in its second and third minutes",
    }
    write_result("gateway_memory", result)
    print(
        table(
            f"Gateway RSS over {args.minutes:g} minutes at {rate:,.0f} points/s",
            ["measure", "value"],
            [
                ["RSS, minute 2 (median)", f"{first_mib:.1f} MiB"],
                ["RSS, last minute (median)", f"{last_mib:.1f} MiB"],
                ["RSS, minute 3 (median)", f"{settled_mib:.1f} MiB"],
                ["growth from minute 2", f"{growth * 100:+.1f} %"],
                ["growth from minute 3", f"{growth_settled * 100:+.1f} %"],
            ],
        )
    )


if __name__ == "__main__":
    main()
