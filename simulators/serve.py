"""Run the live simulator until SIGINT/SIGTERM, then stop cleanly (MQTT devices say offline,
the event log ends with `run_end`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from simulators.runtime import RuntimeOptions, SimulatorRuntime


class StartError(RuntimeError):
    """The simulator could not start (a port in use, a broker unreachable, ...)."""


def quiet_libraries(options: RuntimeOptions) -> None:
    """Protocol stacks log at INFO per node and connection: keep their warnings only."""
    for name in ("asyncua", "pymodbus"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    if options.opcua_security == "none":  # "no signing/encrypting policy" is the point then
        logging.getLogger("asyncua.server.server").setLevel(logging.ERROR)


async def serve(options: RuntimeOptions) -> None:
    """Start, wait for a signal, stop."""
    quiet_libraries(options)
    runtime = SimulatorRuntime(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await runtime.start()
        except OSError as err:
            raise StartError(f"cannot start: {err}") from err
        await stop.wait()
    finally:
        await runtime.stop()
