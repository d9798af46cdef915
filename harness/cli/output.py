"""What the commands print: progress lines on stderr, verdict lines on stdout, one line for a failure."""

from __future__ import annotations

import argparse
import os
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


def aws_failure(err: BaseException, args: argparse.Namespace) -> int | None:
    """Print the one line of a botocore failure (or a harness error) a command let through, and return its exit
    code (104 configuration, 105 AWS or the emulator); None when ``err`` is neither (a bug: let it show)."""
    from harness import exitcodes
    from harness.errors import ConfigError, InfrastructureError
    from harness.observe.failures import translate

    profile_name = getattr(args, "aws_profile", None) or os.environ.get("AWS_PROFILE") or None
    translated = translate(err, profile_name=profile_name)
    if isinstance(translated, ConfigError):
        error(f"{translated}")
        return exitcodes.INVALID_CONFIG
    if isinstance(translated, InfrastructureError):
        error(f"infrastructure error: {translated}")
        return exitcodes.INFRASTRUCTURE
    return None
