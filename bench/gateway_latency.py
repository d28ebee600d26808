"""Latency from source timestamp to commit at 10,000 points/s (MQTT batches stamped at publish
time), p50 and p99 from the gateway's own histogram; baseline: the same COPY of one batch.
Target: p99 < 250 ms.

    python -m bench.gateway_latency [--runs 3] [--seconds 30] [--rate 10000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.gateway_common import (
    Gateway,
    gateway_config,
    median,
    mqtt_device,
    mqtt_publisher,
    reset_readings,
    stack,
    stop,
    table,
    write_result,
)


def buckets(text: str, name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a Prometheus histogram."""
    out = []
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    return sorted(out)


def quantile(
    before: list[tuple[float, float]], after: list[tuple[float, float]], q: float
) -> float:
    """Quantile of the observations between two scrapes (linear within a bucket)."""
    counts = [(le, a - b) for (le, a), (_, b) in zip(after, before, strict=True)]
    total = counts[-1][1]
    if total <= 0:
        return float("nan")
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, count in counts:
        if count >= rank:
            if le == float("inf"):
                return lower_le
            span = count - lower_count
            return lower_le + (le - lower_le) * ((rank - lower_count) / span if span else 1.0)
        lower_le, lower_count = le, count
    return lower_le


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=10_000, help="points/s offered")
    args = parser.parse_args()
    p50: list[float] = []
    p99: list[float] = []
    commit_p50: list[float] = []
    achieved: list[float] = []
    name = "gateway_latency_seconds"
    with stack() as st:
        for run in range(args.runs):
            reset_readings(st.db)
            config = gateway_config([mqtt_device(st, f"lat-{run}")])
            with Gateway(st, config, name=f"latency-{run}") as gw:
                pub = mqtt_publisher(st, args.seconds + 15, f"latpub-{run}", rate=args.rate / 100)
                try:
                    time.sleep(5)
                    text = gw.process.metrics()
                    before, cb = buckets(text, name), buckets(text, "gateway_batch_commit_seconds")
                    written = gw.written()
                    t0 = time.monotonic()
                    time.sleep(args.seconds)
                    text = gw.process.metrics()
                    after, ca = buckets(text, name), buckets(text, "gateway_batch_commit_seconds")
                    achieved.append((gw.written() - written) / (time.monotonic() - t0))
                finally:
                    stop(pub)
            p50.append(quantile(before, after, 0.5))
            p99.append(quantile(before, after, 0.99))
            commit_p50.append(quantile(cb, ca, 0.5))
            print(f"run {run}: {achieved[-1]:,.0f} points/s  p50 {p50[-1] * 1000:.0f} ms  "
                  f"p99 {p99[-1] * 1000:.0f} ms  batch commit p50 {commit_p50[-1] * 1000:.0f} ms",
                  flush=True)  # fmt: skip
    result: dict[str, Any] = {
        "unit": "seconds",
        "runs": args.runs,
        "seconds": args.seconds,
        "offered_points_per_s": args.rate,
        "achieved_points_per_s": achieved,
        "p50": p50,
        "p99": p99,
        "batch_commit_p50": commit_p50,
        "median": {
            "p50": median(p50),
            "p99": median(p99),
            "batch_commit_p50": median(commit_p50),
        },
        "targets": {"p99": 0.25},
        "baseline": "the batch commit time (COPY + marks + NOTIFY + commit), same run",
        "method": "gateway_latency_seconds histogram (source timestamp to commit, sampled rows of "
        "every live batch), quantiles interpolated within buckets",
    }
    write_result("gateway_latency", result)
    m = result["median"]
    print(
        table(
            f"Latency source timestamp -> committed at {args.rate:,.0f} points/s, medians",
            ["measure", "ms"],
            [
                ["p50", f"{m['p50'] * 1000:.0f}"],
                ["p99", f"{m['p99'] * 1000:.0f}"],
                ["batch commit p50 (baseline)", f"{m['batch_commit_p50'] * 1000:.0f}"],
            ],
        )
    )


if __name__ == "__main__":
    main()
