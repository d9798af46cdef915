"""What the commands print: progress lines on stderr, verdict lines on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.record import Verdict


def say(message: str) -> None:
    """A progress line for the user (stderr, so stdout stays the verdicts)."""
    print(f"[scalecheck] {message}", file=sys.stderr, flush=True)


def print_verdicts(verdicts: list[Verdict], report: Path | None) -> None:
    """One line per verdict (status, name, summary), then where the report is."""
    for v in verdicts:
        print(f"{v.status:<12} {v.name}: {v.summary}")
    if report is not None:
        print(f"report: {report}")


def error(message: str) -> None:
    """The one line a refused command prints (stderr)."""
    print(f"scalecheck: {message}", file=sys.stderr)
