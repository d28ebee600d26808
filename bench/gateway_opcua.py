"""OPC UA subscriptions: gateway points committed per second against the raw asyncua
subscription receive rate (one client connection each), same server, same run.

    python -m bench.gateway_opcua [--runs 3] [--seconds 15] [--variables 1000] [--hz 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.subscription import Subscription

from bench.gateway_common import (
    Gateway,
    gateway_config,
    median,
    opcua_device,
    opcua_server,
    reset_readings,
    stack,
    stop,
    table,
    write_result,
)


class _Count(Subscription):
    """The cheapest possible consumer: counts the items of each publish response."""

    received = 0

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        data = publish_result.NotificationMessage.NotificationData or []
        for notification in data:
            if isinstance(notification, ua.DataChangeNotification):
                _Count.received += len(notification.MonitoredItems)


async def raw_rate(endpoint: str, seconds: float, interval_ms: int) -> float:
    """Notifications/s one asyncua client connection receives."""
    client = Client(endpoint, timeout=10)
    await client.connect()
    try:
        ns = await client.get_namespace_index("urn:knu-mes:bench")
        folder = await client.nodes.objects.get_child([f"{ns}:Bench"])
        children = await folder.get_children()
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = interval_ms
        params.RequestedLifetimeCount = 10000
        params.RequestedMaxKeepAliveCount = client.get_keepalive_count(interval_ms)
        params.MaxNotificationsPerPublish = 0
        params.PublishingEnabled = True
        params.Priority = 0
        sub = _Count(client.uaclient.session, params, None)
        await sub.init()
        for start in range(0, len(children), 1000):
            await sub.subscribe_data_change(
                children[start : start + 1000],
                queuesize=10,
                sampling_interval=0.0,  # type: ignore[call-overload]
            )
        await asyncio.sleep(3)
        first, t0 = _Count.received, time.monotonic()
        await asyncio.sleep(seconds)
        return (_Count.received - first) / (time.monotonic() - t0)
    finally:
        await client.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--variables", type=int, default=1000)
    parser.add_argument("--hz", type=float, default=5)
    args = parser.parse_args()
    raw: list[float] = []
    gateway: list[float] = []
    with stack() as st:
        server, endpoint = opcua_server(args.variables, args.hz)
        try:
            for run in range(args.runs):
                raw.append(asyncio.run(raw_rate(endpoint, args.seconds, 100)))
                reset_readings(st.db)
                config = gateway_config([opcua_device(endpoint)])
                with Gateway(st, config, name=f"opcua-{run}") as gw:
                    gateway.append(gw.rate(args.seconds, warmup=8))
                print(f"run {run}: raw {raw[-1]:,.0f}/s  gateway {gateway[-1]:,.0f}/s",
                      flush=True)  # fmt: skip
        finally:
            stop(server)
    offered = args.variables * args.hz
    result: dict[str, Any] = {
        "unit": "points/s",
        "runs": args.runs,
        "seconds": args.seconds,
        "offered": offered,
        "variables": args.variables,
        "hz": args.hz,
        "raw_asyncua": raw,
        "gateway": gateway,
        "median": {"raw_asyncua": median(raw), "gateway": median(gateway)},
        "ratio": {"gateway_vs_raw_asyncua": median(gateway) / (median(raw) or float("nan"))},
        "targets": {"gateway_vs_raw_asyncua": 0.8},
        "baseline": "a bare asyncua client subscription counting notifications (one connection), "
        "same server and machine, same run",
    }
    write_result("gateway_opcua", result)
    m = result["median"]
    print(
        table(
            f"OPC UA subscription, {args.variables} variables at {args.hz:g} Hz "
            f"({offered:,.0f} changes/s offered), medians",
            ["measure", "points/s", "gateway ratio"],
            [
                [
                    "raw asyncua receive",
                    f"{m['raw_asyncua']:,.0f}",
                    f"{result['ratio']['gateway_vs_raw_asyncua']:.2f}",
                ],
                ["gateway end to end", f"{m['gateway']:,.0f}", "1.00"],
            ],
        )
    )


if __name__ == "__main__":
    main()
