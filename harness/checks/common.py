"""Pieces every check shares: the outcome of one check, verdict evidence, wording and the capacity
bounds a profile allows. Pure, like the rest of :mod:`harness.checks`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from harness.profile import (
    AgreesWithPredictionExpectation,
    BacklogDrainedExpectation,
    CapacityAtExpectation,
    ErrorRateExpectation,
    MaxInstancesExpectation,
    Profile,
    ScaledByExpectation,
    ScaleFromZeroExpectation,
    ScaleInExpectation,
    ScaleOutExpectation,
    ScaleToZeroExpectation,
)
from harness.profile.durations import format_span
from harness.record import Recorded, Verdict, VerdictStatus

AnyExpectation = (ScaleOutExpectation | ScaleInExpectation | ErrorRateExpectation | ScaleFromZeroExpectation
                  | ScaleToZeroExpectation | BacklogDrainedExpectation | MaxInstancesExpectation
                  | CapacityAtExpectation | ScaledByExpectation | AgreesWithPredictionExpectation)


class Outcome(NamedTuple):
    """One check's verdict; ``pending``: not decided yet, keep observing until ``observe_until_ts``
    (``None``: until an anchor is known)."""

    verdict: Verdict
    pending: bool = False
    observe_until_ts: float | None = None


def verdict(exp: AnyExpectation, status: VerdictStatus, summary: str, **evidence: Any) -> Verdict:
    return Verdict(name=exp.label, kind=exp.type, status=status, summary=summary,
                   source=source_text(exp), **evidence)


def relative(anchor: str, offset_s: float) -> str:
    """``load_start+12m`` (just ``load_start`` at offset 0), as a profile writes a moment."""
    return anchor + (f"+{format_span(offset_s)}" if offset_s else "")


def instances(n: int) -> str:
    return f"{n} instance" + ("" if n == 1 else "s")


def wanted(low: int, high: int | None) -> str:
    """``3`` / ``2..4`` / ``at least 2`` / ``at most 4`` instances."""
    if high == low:
        return instances(low)
    if high is None:
        return f"at least {instances(low)}"
    if low == 0:
        return f"at most {instances(high)}"
    return f"{low}..{high} instances"


def source_text(exp: AnyExpectation) -> str:
    """The expectation as the user wrote it, e.g. ``scale_out: to 4 within 12m after load_start``."""
    if isinstance(exp, ErrorRateExpectation):
        return f"error_rate: max {exp.max:g}" + (f" in stage {exp.stage}" if exp.stage else "")
    if isinstance(exp, MaxInstancesExpectation):
        return f"max_instances: {exp.max}"
    if isinstance(exp, CapacityAtExpectation):
        want = (str(exp.instances) if exp.instances is not None
                else f"{exp.min if exp.min is not None else 0}..{exp.max if exp.max is not None else 'inf'}")
        return f"capacity_at: {want} at {relative(exp.at, exp.offset_s)}"
    if isinstance(exp, AgreesWithPredictionExpectation):
        return (f"agrees_with_prediction: tolerance {format_span(exp.tolerance_s)}"
                + (f", ±{instances(exp.instances)}" if exp.instances else ""))
    within = "auto" if exp.within_s is None else format_span(exp.within_s)
    window = f"within {within} after {exp.after}"
    if isinstance(exp, ScaledByExpectation):
        return f"scaled_by: policy {exp.policy}" + (f" to {exp.to}" if exp.to is not None else "") + f" {window}"
    if isinstance(exp, ScaleOutExpectation | ScaleInExpectation):
        return f"{exp.type}: to {exp.to} {window}"
    return f"{exp.type}: {window}"


def observed_until(recorded: Recorded) -> float | None:
    """How far the collector has looked: the ``ts`` of the latest DescribeEndpoint sample."""
    return recorded.endpoint[-1].ts if recorded.endpoint else None


@dataclass(frozen=True)
class Bounds:
    """The widest capacity bounds the profile can give the scalable target during a run: the target's
    own min/max and every scheduled action's (scheduled actions move them mid-run), with the profile
    field that sets each. A capacity outside them is impossible; one inside may still be unreachable
    at a given moment, which only the data can tell."""

    low: int
    low_field: str
    high: int
    high_field: str
    scheduled: bool

    @staticmethod
    def of(profile: Profile) -> Bounds:
        s = profile.scaling
        lows = [(s.min_capacity, "scaling.min_capacity")]
        highs = [(s.max_capacity, "scaling.max_capacity")]
        for i, a in enumerate(s.scheduled_actions):
            if a.min_capacity is not None:
                lows.append((a.min_capacity, f"scaling.scheduled_actions[{i}].min_capacity"))
            if a.max_capacity is not None:
                highs.append((a.max_capacity, f"scaling.scheduled_actions[{i}].max_capacity"))
        low = min(lows, key=lambda x: x[0])
        high = max(highs, key=lambda x: x[0])
        return Bounds(low[0], low[1], high[0], high[1], bool(s.scheduled_actions))

    @property
    def max_text(self) -> str:
        return f"MaxCapacity is {'at most ' if self.scheduled else ''}{self.high} ({self.high_field})"

    @property
    def min_text(self) -> str:
        return f"MinCapacity is {'at least ' if self.scheduled else ''}{self.low} ({self.low_field})"

    def above(self, n: int, what: str) -> str | None:
        """Why ``n`` instances cannot be reached, if it cannot (``what``: "reach 5 instances")."""
        return f"impossible: cannot {what}, {self.max_text}" if n > self.high else None

    def below(self, n: int, what: str) -> str | None:
        return f"impossible: cannot {what}, {self.min_text}" if n < self.low else None
