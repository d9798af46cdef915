"""Exit codes of ``scalecheck``, defined once (docs/architecture.md "Exit codes").

Only ``harness/cli/`` exits; everything else returns outcomes that it maps to these numbers.
Locust's own 1 (a request failed) and 2 (bad arguments / unexpected error) are deliberately not
reused, so that a CI job can tell "the endpoint did not scale" from "Locust broke". 99 follows k6,
whose failed thresholds exit 99.
"""

from __future__ import annotations

from typing import Final

OK: Final = 0
"""Every expectation passed (also: the profile declares none)."""

FAILED: Final = 99
"""At least one expectation failed: the data shows the endpoint did not do what was expected."""

INCONCLUSIVE: Final = 100
"""No expectation failed, but at least one could not be decided (missing, late or too sparse data)."""

INVALID_RUN: Final = 101
"""The load generator could not offer the profile's load (saturated), so the run proves nothing."""

STOPPED: Final = 103
"""The run was stopped early by a profile stop condition (``stop:``) or the cost cap (``cost.max_usd``,
``--max-cost-usd``): its load was cut short, ``run.json`` says ``stopped`` and why."""

INVALID_CONFIG: Final = 104
"""The profile or the arguments were rejected before any traffic was sent (also: an AWS profile name that does not
exist, endpoint settings that would load one place and observe another, a failed preflight check the profile fixes)."""

INFRASTRUCTURE: Final = 105
"""AWS or the emulator was unreachable, credentials were missing, expired or refused, or a preflight check failed."""

INTERRUPTED: Final = 130
"""SIGINT (Ctrl-C) stopped the run: 128 + 2, the shell's convention. The run folder ends ``aborted``."""

TERMINATED: Final = 143
"""SIGTERM stopped the run (what CI sends on cancel or timeout): 128 + 15. The run folder ends ``aborted``."""


def for_signal(signum: int) -> int:
    """The exit code of a run stopped by ``signum``: 128 + the signal number (130 SIGINT, 143 SIGTERM)."""
    return 128 + int(signum)

# Severity of the outcome exit codes, worst last: an expectation failed beats an invalid run beats an
# inconclusive one beats a pass; a run stopped early (a safety stop) beats those; configuration and
# infrastructure errors and interrupts beat them all. (Across runs: a
# trustworthy FAIL of one scenario outranks another scenario's invalid load. Within one run an invalid
# load wins over its own FAILs, which it makes untrustworthy: checks.exit_code.)
_SEVERITY = {OK: 0, INCONCLUSIVE: 1, INVALID_RUN: 2, FAILED: 3, STOPPED: 4}


def worst_exit_code(codes: list[int]) -> int:
    """The most severe of several runs' exit codes (``OK`` for none)."""
    return max(codes, key=lambda c: _SEVERITY.get(c, 5), default=OK)
