"""Device value change -> WebSocket message at a dashboard client: p50 and p99, with and without
10,000 points/s of background load, measured in the same run. Target: p99 < 250 ms at load.

The whole path is real: an MQTT device publishes a probe value (stamped with its publish
time), the gateway batches and commits it and notifies, the API process (`mes api`) hears the
notification, its hub sends an `equipment/PROBE` update to an authenticated WebSocket client
in this process; latency = receive time - publish time (one clock). The background load is
100 MQTT messages/s of 100 values (1,000 signals), which the gateway commits and notifies and
the API parses like any other readings. The gateway's `batch.max_delay_ms` is part of the
path and recorded.

    python -m bench.live_latency [--runs 3] [--seconds 30] [--rate 10000] [--max-delay-ms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from bench.gateway_common import (
    Gateway,
    Stack,
    gateway_config,
    median,
    mqtt_device,
    mqtt_publisher,
    stack,
    stop,
    table,
    write_result,
)
from bench.live_common import api_process, cpu_seconds, percentile, realm, sockets, token_for
from tests.core.live.processes import ApiProcess

PROBE_HZ = 10


def make_probe_machine(st: Stack) -> None:
    """Equipment PROBE (a machine under a line) for the `equipment/PROBE` topic."""
    with psycopg.connect(st.db.conninfo) as conn:
        parent = None
        for code, level in (
            ("BENCH", "site"),
            ("BENCH-A", "area"),
            ("BENCH-L", "line"),
            ("PROBE", "machine"),
        ):
            row = conn.execute(
                "INSERT INTO equipment (code, name, level, parent_id, status)"
                " VALUES (%s, %s, %s, %s, 'in_service') RETURNING id",
                (code, code, level, parent),
            ).fetchone()
            assert row is not None
            parent = row[0]
        conn.commit()


def probe_device(st: Stack) -> dict[str, Any]:
    """The probe: one JSON value per message on probe/PROBE/value."""
    return {
        "name": "probe",
        "protocol": "mqtt",
        "host": st.broker.host,
        "port": st.broker.port,
        "client_id": "bench-probe-gw",
        "subscriptions": [
            {
                "topic": "probe/+/+",
                "qos": 1,
                "signal": "{1}.{2}",
                "equipment": "{1}",
                "value": "value",
                "timestamp": "ts",
            }
        ],
    }


async def measure(st: Stack, api: ApiProcess, token: str, seconds: float) -> dict[str, Any]:
    """Publish a changing probe value PROBE_HZ times a second; latency of each update seen."""
    publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe")
    publisher.connect(st.broker.host, st.broker.port)
    publisher.loop_start()
    sent: dict[float, float] = {}
    try:
        async with sockets(api.address, token, ["equipment/PROBE"], 1) as (client,):
            cpu0 = cpu_seconds(api)
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < seconds:
                n += 1
                value = float(n)
                now = datetime.now(UTC)
                sent[value] = now.timestamp()
                payload = f'{{"value": {value}, "ts": "{now.isoformat().replace("+00:00", "Z")}"}}'
                publisher.publish("probe/PROBE/value", payload, qos=1)
                await asyncio.sleep(max(0.0, start + n / PROBE_HZ - time.monotonic()))
            await asyncio.sleep(2)  # the last updates arrive
            cpu = cpu_seconds(api) - cpu0
            latencies = []
            seen = set()
            for at, message in client.received:
                entry = message.get("data", {}).get("values", {}).get("PROBE.value")
                if message.get("type") == "update" and entry and entry["v"] in sent:
                    latencies.append(at - sent[entry["v"]])
                    seen.add(entry["v"])
    finally:
        publisher.loop_stop()
        publisher.disconnect()
    return {
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "sent": len(sent),
        "received": len(seen),
        "api_cpu_s_per_s": cpu / seconds,
    }


async def run(args: argparse.Namespace) -> None:
    results: dict[str, list[dict[str, Any]]] = {"baseline": [], "load": []}
    with stack() as st, realm(st) as test_realm:
        make_probe_machine(st)
        config = gateway_config(
            [mqtt_device(st, "bench-load-gw"), probe_device(st)], max_delay_ms=args.max_delay_ms
        )
        with Gateway(st, config, name="live-latency"), api_process(st, test_realm, "api") as api:
            token = token_for(test_realm)
            await measure(st, api, token, 3)  # warm up: signals registered, caches filled
            for run_no in range(args.runs):
                results["baseline"].append(await measure(st, api, token, args.seconds))
                load = mqtt_publisher(
                    st, args.seconds + 10, f"bench-load-{run_no}", rate=args.rate / 100
                )
                try:
                    await asyncio.sleep(3)
                    results["load"].append(await measure(st, api, token, args.seconds))
                finally:
                    stop(load)
    summary = {
        kind: {key: median([r[key] for r in rows]) for key in ("p50", "p99", "api_cpu_s_per_s")}
        for kind, rows in results.items()
    }
    ratio = (
        summary["load"]["p99"] / summary["baseline"]["p99"] if summary["baseline"]["p99"] else None
    )
    print(
        table(
            f"Value change -> WebSocket message (median of {args.runs} runs, "
            f"gateway max_delay_ms={args.max_delay_ms})",
            ["background", "p50 ms", "p99 ms", "delivered", "API CPU (cores)"],
            [
                [
                    kind if kind == "baseline" else f"{args.rate:,.0f} points/s",
                    f"{summary[kind]['p50'] * 1000:.0f}",
                    f"{summary[kind]['p99'] * 1000:.0f}",
                    f"{sum(r['received'] for r in rows)}/{sum(r['sent'] for r in rows)}",
                    f"{summary[kind]['api_cpu_s_per_s']:.2f}",
                ]
                for kind, rows in results.items()
            ],
        )
    )
    path = write_result(
        "live_latency",
        {
            "unit": "seconds",
            "runs": args.runs,
            "seconds": args.seconds,
            "background_points_per_s": args.rate,
            "gateway_max_delay_ms": args.max_delay_ms,
            "probe_hz": PROBE_HZ,
            "baseline": results["baseline"],
            "load": results["load"],
            "median": summary,
            "p99_ratio_load_to_baseline": ratio,
            "target_p99_s": 0.25,
        },
    )
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=10_000, help="background points/s")
    parser.add_argument(
        "--max-delay-ms", type=int, default=200, help="gateway batch delay (the exported default)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
