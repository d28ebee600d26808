"""Modbus TCP block reads: gateway points committed per second against the raw pymodbus
125-register block-read rate (one connection each), same server, same run.

    python -m bench.gateway_modbus [--runs 3] [--seconds 15] [--registers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from bench.gateway_common import (
    Gateway,
    gateway_config,
    median,
    modbus_device,
    modbus_server,
    reset_readings,
    result_name,
    stack,
    stop,
    table,
    write_result,
)
from tests.support.net import LOOPBACK


async def raw_rate(port: int, registers: int, seconds: float) -> float:
    """Registers/s read by back-to-back 125-register requests on one connection."""
    client = AsyncModbusTcpClient(LOOPBACK, port=port, timeout=2, retries=0)
    await client.connect()
    try:
        read = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            for start in range(0, registers, 125):
                count = min(125, registers - start)
                response = await client.read_holding_registers(start, count=count, device_id=1)
                read += len(response.registers)
        return read / (time.monotonic() - t0)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--registers", type=int, default=1000)
    parser.add_argument("--interval-ms", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="gateway.workers")
    args = parser.parse_args()
    raw: list[float] = []
    gateway: list[float] = []
    with stack() as st:
        server, port = modbus_server(args.registers)
        try:
            for run in range(args.runs):
                raw.append(asyncio.run(raw_rate(port, args.registers, args.seconds)))
                reset_readings(st.db)
                config = gateway_config([modbus_device(port, args.registers,
                                                       interval_ms=args.interval_ms)],
                                        workers=args.workers)  # fmt: skip
                with Gateway(st, config, name=f"modbus-{run}") as gw:
                    gateway.append(gw.rate(args.seconds, warmup=4))
                print(f"run {run}: raw {raw[-1]:,.0f}/s  gateway {gateway[-1]:,.0f}/s",
                      flush=True)  # fmt: skip
        finally:
            stop(server)
    result: dict[str, Any] = {
        "unit": "registers (points)/s",
        "runs": args.runs,
        "seconds": args.seconds,
        "registers": args.registers,
        "interval_ms": args.interval_ms,
        "workers": args.workers,
        "raw_pymodbus": raw,
        "gateway": gateway,
        "median": {"raw_pymodbus": median(raw), "gateway": median(gateway)},
        "ratio": {"gateway_vs_raw_pymodbus": median(gateway) / (median(raw) or float("nan"))},
        "targets": {"gateway_vs_raw_pymodbus": 0.8},
        "baseline": "back-to-back 125-register reads with a bare pymodbus client (one "
        "connection), same server and machine, same run",
    }
    write_result(result_name("gateway_modbus", args.workers), result)
    m = result["median"]
    print(
        table(
            f"Modbus TCP, {args.registers} holding registers changing on every read, medians",
            ["measure", "points/s", "gateway ratio"],
            [
                [
                    "raw pymodbus block reads",
                    f"{m['raw_pymodbus']:,.0f}",
                    f"{result['ratio']['gateway_vs_raw_pymodbus']:.2f}",
                ],
                ["gateway end to end", f"{m['gateway']:,.0f}", "1.00"],
            ],
        )
    )


if __name__ == "__main__":
    main()
