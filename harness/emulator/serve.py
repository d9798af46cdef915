"""``scalecheck emulator``: serve the emulator on loopback until interrupted or terminated.

Faults given at start (``--fault``, ``--faults-json``: :mod:`harness.emulator.faults`) are listed after
the ready line; they can be changed at run time through ``/_emulator/faults``.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from harness.autoscaling.params import ModelParams
from harness.emulator.app import Emulator
from harness.emulator.faults import Rule
from harness.emulator.http import start_in_thread
from harness.emulator.process import READY_PREFIX


def serve(*, host: str, port: int, speed: float, params: ModelParams, faults: list[Rule] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; prints the ready line that :class:`EmulatorProcess` waits for."""
    emulator = Emulator(params, speed=speed, faults=faults or [])
    emulator.start_ticker()
    handle = start_in_thread(emulator.router, host=host, port=port)
    stop = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"{READY_PREFIX}{handle.url}", flush=True)
    print(f"  endpoint time runs {speed:g}x wall time; credentials test/test; any region", flush=True)
    for rule in faults or []:
        print(f"  fault {rule.spec()}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
        emulator.stop()
    return 0
