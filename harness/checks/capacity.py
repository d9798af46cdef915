"""Capacity within a window: ``scale_out``, ``scale_in``, ``scale_from_zero``, ``scale_to_zero``
(rules in :mod:`harness.checks`)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, NamedTuple

from harness.checks.anchors import trigger_or_outcome
from harness.checks.common import Bounds, Outcome, instances, verdict
from harness.profile import (
    Profile,
    ScaleFromZeroExpectation,
    ScaleInExpectation,
    ScaleOutExpectation,
    ScaleToZeroExpectation,
)
from harness.profile.durations import format_span
from harness.record import Recorded, Verdict, VerdictStatus

WindowExpectation = ScaleOutExpectation | ScaleInExpectation | ScaleFromZeroExpectation | ScaleToZeroExpectation
Point = tuple[float, int]  # (ts, current_instances) of one usable DescribeEndpoint sample


class Goal(NamedTuple):
    """What a window expectation asks: reach (``out``) or come down to ``to`` instances."""

    to: int
    out: bool

    @staticmethod
    def of(exp: WindowExpectation) -> Goal:
        if isinstance(exp, ScaleFromZeroExpectation):
            return Goal(1, True)
        if isinstance(exp, ScaleToZeroExpectation):
            return Goal(0, False)
        return Goal(exp.to, isinstance(exp, ScaleOutExpectation))


def points_of(recorded: Recorded) -> list[Point]:
    """Samples that carry a ``current_instances``, by time (the others only widen the gaps)."""
    return sorted((s.ts, s.current_instances) for s in recorded.endpoint if s.current_instances is not None)


def _hits(points: list[Point], goal: Goal, since: float) -> list[bool]:
    if goal.out:
        return [n >= goal.to for _, n in points]
    hits: list[bool] = []
    seen_above = False
    for ts, n in points:
        hits.append(seen_above and n <= goal.to)
        seen_above = seen_above or (ts >= since and n > goal.to)
    return hits


@dataclass(frozen=True)
class _Window:
    """One window expectation laid over the samples; ``details`` collects the evidence."""

    exp: WindowExpectation
    goal: Goal
    trigger: float
    points: list[Point]
    since: float  # capacity above `to` counts for scale-in from here on
    gap_s: float
    details: dict[str, Any]

    @property
    def out(self) -> bool:
        return self.goal.out

    @property
    def end(self) -> float:
        return self.trigger + self.exp.within_s

    @property
    def goal_text(self) -> str:
        return f"{'reach' if self.out else 'scale in to'} {instances(self.goal.to)}"

    @property
    def done(self) -> str:
        return "reached" if self.out else "scaled in to"

    @property
    def window(self) -> str:
        return f"(window {format_span(self.exp.within_s)})"

    def at(self, ts: float) -> str:
        return f"{format_span(ts - self.trigger)} after {self.exp.after}"

    def was_above(self, until: int | None = None) -> bool:
        """Whether a sample from ``since`` on (up to index ``until``) showed more than ``to``."""
        return any(n > self.goal.to for ts, n in self.points[: None if until is None else until + 1]
                   if ts >= self.since)

    def verdict(self, status: VerdictStatus, summary: str, observed_ts: float | None = None) -> Verdict:
        return verdict(self.exp, status, summary, trigger_ts=self.trigger, observed_ts=observed_ts,
                       window_start_ts=self.trigger, window_end_ts=self.end, details=self.details)


def _impossible(goal: Goal, profile: Profile) -> str | None:
    b = Bounds.of(profile)
    if goal.out:
        return b.above(goal.to, f"reach {instances(goal.to)}")
    return b.below(goal.to, f"go down to {instances(goal.to)}")


def _at_zero(w: _Window) -> Outcome | None:
    """scale_from_zero: the last sample at or before the trigger, no older than G, must show 0."""
    before = [(ts, n) for ts, n in w.points if ts <= w.trigger]
    if not before:
        return Outcome(w.verdict("INCONCLUSIVE", f"cannot tell it started from zero: no DescribeEndpoint "
                                                 f"sample at or before {w.exp.after}"))
    ts, n = before[-1]
    w.details.update({"start_sample_ts": ts, "start_instances": n})
    if n != 0:
        return Outcome(w.verdict("INCONCLUSIVE", f"was not at zero: {instances(n)} at {w.exp.after}"))
    if w.trigger - ts > w.gap_s:
        return Outcome(w.verdict("INCONCLUSIVE", f"cannot tell it started from zero: the last sample before "
                                                 f"{w.exp.after} was taken {format_span(w.trigger - ts)} before it "
                                                 f"(> max_sample_gap {format_span(w.gap_s)})"))
    return None


def check_window(exp: WindowExpectation, recorded: Recorded, profile: Profile, final: bool) -> Outcome:
    goal = Goal.of(exp)
    points = points_of(recorded)
    details: dict[str, Any] = {"to": goal.to, "within_s": exp.within_s, "after": exp.after,
                               "max_sample_gap_s": profile.collector.max_sample_gap_s,
                               "observed_until_ts": points[-1][0] if points else None}
    impossible = _impossible(goal, profile)
    if impossible:
        return Outcome(verdict(exp, "FAIL", impossible, details=details))
    trigger = trigger_or_outcome(exp, exp.after, recorded, profile, final, details)
    if isinstance(trigger, Outcome):
        return trigger

    load_start = recorded.run.load_start_ts
    w = _Window(exp, goal, trigger, points, trigger if load_start is None else load_start,
                profile.collector.max_sample_gap_s, details)
    if isinstance(exp, ScaleFromZeroExpectation):
        not_zero = _at_zero(w)
        if not_zero is not None:
            return not_zero
    hits = _hits(points, goal, w.since)
    first = next((i for i, (ts, _) in enumerate(points) if ts >= trigger), len(points))
    hit = next((i for i in range(first, len(points)) if hits[i]), None)
    if hit is not None:
        details |= {"observed_sample_ts": points[hit][0], "observed_instances": points[hit][1]}
        if hit > 0:
            details |= {"previous_sample_ts": points[hit - 1][0], "previous_instances": points[hit - 1][1]}
        ts, n = points[hit]
        if ts <= w.end and hit == first and hit > 0 and hits[hit - 1]:
            return Outcome(w.verdict("PASS", f"already {instances(n)} at {exp.after} {w.window}", ts))
        if ts <= w.end:
            return Outcome(w.verdict("PASS", f"{w.done} {instances(n)} {w.at(ts)} {w.window}", ts))
    end_i = next((i for i in range(first, len(points)) if points[i][0] >= w.end), None)
    if end_i is None:
        return _before_window_end(w, final)
    return _after_window_end(w, hit, end_i)


def _before_window_end(w: _Window, final: bool) -> Outcome:
    """No PASS and no sample at/after the window end yet: pending, or INCONCLUSIVE once final."""
    last = f"; last seen {instances(w.points[-1][1])} {w.at(w.points[-1][0])}" if w.points else ""
    if not final:
        wait = "" if w.out or w.was_above() else " (never above it yet)"
        return Outcome(w.verdict("INCONCLUSIVE", f"waiting to {w.goal_text}{wait} until {w.at(w.end)}{last}"),
                       True, w.end + w.gap_s)
    if not w.out and not w.was_above():
        return Outcome(w.verdict("INCONCLUSIVE", f"never scaled above {instances(w.goal.to)}, "
                                                 f"nothing to scale in{last}"))
    if not w.points:
        return Outcome(w.verdict("INCONCLUSIVE", "no DescribeEndpoint sample with an instance count"))
    last_ts, last_n = w.points[-1]
    return Outcome(w.verdict("INCONCLUSIVE", f"samples end {w.at(last_ts)} with {instances(last_n)}, "
                                             f"before the window end {w.window}"))


def _after_window_end(w: _Window, hit: int | None, end_i: int) -> Outcome:
    """No PASS, and ``points[end_i]`` is the first sample at/after the window end: decide."""
    end_ts, end_n = w.points[end_i]
    hit_ts = None if hit is None else w.points[hit][0]
    w.details.update({"window_end_sample_ts": end_ts, "window_end_instances": end_n})
    if not w.out and not w.was_above(end_i):
        return Outcome(w.verdict("INCONCLUSIVE", f"never scaled above {instances(w.goal.to)} by the "
                                                 f"window end, nothing to scale in {w.window}"))
    # The trigger is the left edge: what happened before it never matters.
    edges = [w.trigger] + [ts for ts, _ in w.points[: end_i + 1] if ts > w.trigger]
    gap_from, gap_to = max(pairwise(edges), key=lambda g: g[1] - g[0])
    if gap_to - gap_from > w.gap_s:
        w.details.update({"gap_from_ts": gap_from, "gap_to_ts": gap_to, "gap_s": gap_to - gap_from})
        return Outcome(w.verdict(
            "INCONCLUSIVE",
            f"cannot tell whether it could {w.goal_text} {w.window}: no sample between "
            f"{format_span(gap_from - w.trigger)} and {w.at(gap_to)} "
            f"({format_span(gap_to - gap_from)} > max_sample_gap {format_span(w.gap_s)})", hit_ts))
    if hit is not None and hit == end_i:
        before = ""
        if hit > 0:
            prev_ts, prev_n = w.points[hit - 1]
            before = f"; the sample before, {w.at(prev_ts)}, showed {instances(prev_n)}"
        return Outcome(w.verdict("FAIL", f"{w.done} {instances(end_n)} only {w.at(end_ts)}, after the "
                                         f"window {w.window}{before}", hit_ts))
    later = (f"; {w.done} {instances(w.points[hit][1])} {w.at(w.points[hit][0])}" if hit is not None
             else f"; not seen up to {w.at(w.points[-1][0])}")
    return Outcome(w.verdict("FAIL", f"did not {w.goal_text} in time: {instances(end_n)} {w.at(end_ts)} "
                                     f"{w.window}{later}", hit_ts))
