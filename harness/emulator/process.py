"""Run the emulator as a child process on a free loopback port (what ``--local`` and the demo use).

The child is ``python -m harness.cli emulator --port 0``; it prints one line
``scalecheck emulator listening on http://127.0.0.1:PORT`` which tells the parent where it is.
A separate process keeps the emulator off the load generator's core and its GIL. ``faults``: fault
rules the child starts with (:mod:`harness.emulator.faults`: ``Rule`` objects or their JSON objects),
so a ``scalecheck run --endpoint-url`` can be tested against an emulator that fails as AWS does.

The child runs in a process group of its own (a Ctrl-C at the terminal reaches only the parent, which stops
the emulator last, after what still talks to it) and is given ``--parent-pid``: it dies with the process
that started it, however that process ends (:func:`harness.load.interrupts.die_with_parent`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.autoscaling.params import ModelParams
from harness.errors import InfrastructureError

READY_PREFIX = "scalecheck emulator listening on "


class EmulatorProcess:
    """A running emulator child process."""

    def __init__(self, proc: subprocess.Popen[str], url: str, reader: threading.Thread) -> None:
        self.proc = proc
        self.url = url
        self._reader = reader

    @classmethod
    def start(cls, *, speed: float, params: ModelParams, say: Callable[[str], None] | None = None,
              timeout_s: float = 30.0, faults: Sequence[Any] | None = None) -> EmulatorProcess:
        cmd = [sys.executable, "-m", "harness.cli", "emulator", "--port", "0", "--speed", repr(speed),
               "--params-json", params.model_dump_json(), "--parent-pid", str(os.getpid())]
        if faults:
            rules = [r if isinstance(r, Mapping) else {k: v for k, v in r.as_dict().items()
                                                       if k not in ("matched", "applied")} for r in faults]
            cmd += ["--faults-json", json.dumps({"rules": rules})]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1, process_group=0)
        found: list[str] = []
        lines: list[str] = []

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if not found and line.startswith(READY_PREFIX):
                    found.append(line[len(READY_PREFIX):].strip())
                elif len(lines) < 200:
                    lines.append(line.rstrip())

        reader = threading.Thread(target=read, name="emulator-output", daemon=True)
        reader.start()
        deadline = time.monotonic() + timeout_s
        while not found:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait(timeout=5)
                reader.join(timeout=5)
                if proc.stdout is not None:
                    proc.stdout.close()
                raise InfrastructureError("the embedded emulator did not start:\n  " + "\n  ".join(lines[-10:]))
            time.sleep(0.05)
        emulator = cls(proc, found[0], reader)
        if say:
            say(f"emulator {emulator.url} (endpoint time runs {speed:g}x wall time)")
        return emulator

    def alive(self) -> bool:
        return self.proc.poll() is None

    def truth(self) -> list[dict[str, object]]:
        """The emulator's ground-truth log (alarm transitions, capacity changes, activities)."""
        import json

        with urllib.request.urlopen(f"{self.url}/_emulator/truth", timeout=10) as resp:
            return list(json.load(resp)["events"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
