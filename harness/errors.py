"""The errors the harness raises, each mapped to one exit code by the CLI (see exitcodes.py).

    ScalecheckError
    ├── ConfigError          invalid profile or arguments, found before any traffic  → 104
    └── InfrastructureError  AWS or the emulator unreachable, refused credentials      → 105
"""

from __future__ import annotations


class ScalecheckError(Exception):
    """Base of the harness's own errors; the message is meant for the user as is."""


class ConfigError(ScalecheckError):
    """The run cannot start: a profile or argument is wrong. Nothing was sent."""


class InfrastructureError(ScalecheckError):
    """AWS or the emulator could not be reached, or refused the credentials."""
