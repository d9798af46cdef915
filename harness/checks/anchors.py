"""Anchors: when an expectation's window starts, read from the run and, for ``backlog_empty``, from
the ApproximateBacklogSize datapoints (rules in :mod:`harness.checks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from harness.checks.common import AnyExpectation, Outcome, verdict
from harness.profile import Profile
from harness.profile.durations import format_span
from harness.record import MetricPoint, Recorded

BACKLOG_METRIC = "ApproximateBacklogSize"
BACKLOG_STATS = ("Maximum", "Average")  # Maximum 0 = empty all period long; Average 0 says the same


@dataclass(frozen=True)
class Anchor:
    """A resolved anchor: ``ts``, or why it is unknown (``missing``, the INCONCLUSIVE summary once
    final). ``settled``: it will stay unknown whatever comes, so nothing waits for it."""

    name: str
    ts: float | None
    missing: str = ""
    settled: bool = False
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def resolve(anchor: str, recorded: Recorded, profile: Profile) -> Anchor:
    run = recorded.run
    if anchor == "load_start":
        return Anchor(anchor, run.load_start_ts, "load never started")
    if anchor == "load_end":
        return Anchor(anchor, run.load_end_ts, "load never ended")
    if anchor == "first_request":
        return Anchor(anchor, run.first_request_ts, "no request was sent (no first_request event)")
    if anchor == "backlog_empty":
        return backlog_empty(recorded, profile)
    name = anchor.removeprefix("stage:")
    return Anchor(anchor, next((s.start_ts for s in run.stages if s.name == name), None),
                  f"stage {name} never started")


def trigger_or_outcome(exp: AnyExpectation, anchor: str, recorded: Recorded, profile: Profile, final: bool,
                       details: dict[str, Any]) -> float | Outcome:
    """The anchor's ts, or the outcome while it is unknown: pending (waiting for it), or INCONCLUSIVE
    once final or settled. The anchor's evidence joins ``details``."""
    a = resolve(anchor, recorded, profile)
    details.update(a.details)
    if a.ts is not None:
        return a.ts
    if final or a.settled:
        return Outcome(verdict(exp, "INCONCLUSIVE", a.missing, details=details))
    note = f" ({a.note})" if a.note else ""
    return Outcome(verdict(exp, "INCONCLUSIVE", f"waiting for {anchor}{note}", details=details), True)


def backlog_series(recorded: Recorded, profile: Profile) -> list[MetricPoint]:
    """The ApproximateBacklogSize datapoints to judge the backlog by, sorted by ``ts``: one series, its
    statistic Maximum if recorded, else Average; of the endpoint (EndpointName dimension only) if
    recorded, else any with its EndpointName; the shortest period of those."""
    ep = profile.endpoint.name
    groups: dict[tuple[Any, ...], list[MetricPoint]] = {}
    for p in recorded.metric_series(BACKLOG_METRIC):
        if p.stat in BACKLOG_STATS and p.dims.get("EndpointName") == ep:
            groups.setdefault((BACKLOG_STATS.index(p.stat), p.dims != {"EndpointName": ep}, p.period_s,
                               tuple(sorted(p.dims.items()))), []).append(p)
    if not groups:
        return []
    return sorted(groups[min(groups)], key=lambda p: p.ts)


def backlog_empty(recorded: Recorded, profile: Profile) -> Anchor:
    """The start of the first zero datapoint that follows one above zero, among those whose period
    ends after load start."""
    name = "backlog_empty"
    run = recorded.run
    start = run.load_start_ts
    if start is None:
        return Anchor(name, None, "load never started", note="the load has not started")
    points = [p for p in backlog_series(recorded, profile) if p.ts + p.period_s > start]
    if not points:
        return Anchor(name, None, f"no {BACKLOG_METRIC} datapoints since load_start")
    details = {"backlog_stat": points[0].stat, "backlog_period_s": points[0].period_s}
    gap_s = profile.collector.max_sample_gap_s
    for previous, p in pairwise(points):  # the first zero after growth always follows a positive one
        if p.value == 0 and previous.value > 0:
            details |= {"backlog_empty_ts": p.ts, "backlog_before_ts": previous.ts,
                        "backlog_before": previous.value}
            if p.ts - previous.ts > p.period_s + gap_s:
                return Anchor(name, None, settled=True, details=details, missing=(
                    f"cannot tell when the backlog emptied: no {BACKLOG_METRIC} datapoint between "
                    f"{format_span(previous.ts - start)} and {format_span(p.ts - start)} after load_start "
                    f"({format_span(p.ts - previous.ts)} > period {format_span(p.period_s)} + max_sample_gap "
                    f"{format_span(gap_s)})"))
            return Anchor(name, p.ts, details=details)
    last = points[-1]
    details |= {"backlog_last_ts": last.ts, "backlog_last": last.value}
    if not any(p.value > 0 for p in points):
        # Requests sent before load_end sit in the backlog by then: a datapoint from load_end on
        # that still follows no growth settles it.
        settled = run.load_end_ts is not None and last.ts >= run.load_end_ts
        return Anchor(name, None, f"backlog never grew: {BACKLOG_METRIC} stayed 0 up to "
                      f"{format_span(last.ts - start)} after load_start", settled, "backlog never grew yet",
                      details)
    return Anchor(name, None, f"backlog never emptied: {BACKLOG_METRIC} {last.value:g} in the period from "
                  f"{format_span(last.ts - start)} after load_start", note=f"backlog {last.value:g}",
                  details=details)
