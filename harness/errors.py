"""The errors the harness raises, each mapped to one exit code by the CLI (see exitcodes.py).

    ScalecheckError
    ├── ConfigError          invalid profile or arguments, found before any traffic  → 104
    └── InfrastructureError  AWS or the emulator unreachable, refused credentials      → 105
    KeyboardInterrupt
    └── Interrupted          SIGINT or SIGTERM reached ``scalecheck run``               → 128 + signal (130, 143)

:class:`Interrupted` is a ``KeyboardInterrupt`` (not an ``Exception``: no ``except Exception`` swallows it, and
every place that already finalises on Ctrl-C finalises on SIGTERM too); it is raised by the signal handlers
of :mod:`harness.load.interrupts` and names the signal.
"""

from __future__ import annotations

import signal


class ScalecheckError(Exception):
    """Base of the harness's own errors; the message is meant for the user as is."""


class ConfigError(ScalecheckError):
    """The run cannot start: a profile or argument is wrong. Nothing was sent."""


class InfrastructureError(ScalecheckError):
    """AWS or the emulator could not be reached, or refused the credentials."""


class Interrupted(KeyboardInterrupt):
    """``signum`` (SIGINT or SIGTERM) reached the process; ``again``: not the first signal it received."""

    def __init__(self, signum: int, *, again: bool = False) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum
        self.again = again

    @property
    def name(self) -> str:
        return signal_name(self.signum)


def signal_name(signum: int) -> str:
    """``SIGINT`` for 2, ``SIGTERM`` for 15 (``signal N`` for a number Python does not name)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
