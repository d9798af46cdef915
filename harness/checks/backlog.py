"""``backlog_drained`` on the ApproximateBacklogSize datapoints (rules in :mod:`harness.checks`)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from harness.checks.anchors import BACKLOG_METRIC, backlog_series, trigger_or_outcome
from harness.checks.common import Outcome, verdict
from harness.profile import BacklogDrainedExpectation, Profile
from harness.profile.durations import format_span
from harness.record import Recorded, VerdictStatus

# How many metric periods after a period closes CloudWatch may take to publish its datapoint.
# AWS gives no number (aws-semantics §5, UNCONFIRMED); users report 2–3 minutes for 1-minute
# metrics, and the emulator's default lag is within that. See publication_allowance_s.
METRIC_LAG_PERIODS = 3
DEFAULT_PERIOD_S = 60  # the collector reads the backlog at 1-minute periods


def publication_allowance_s(period_s: float, metrics_interval_s: float) -> float:
    """How long after a moment its datapoint can take to reach the run folder: the period holding it
    closes (1 period), CloudWatch publishes it (METRIC_LAG_PERIODS periods), and the collector's next
    GetMetricData reads it (``collector.metrics_interval_s``)."""
    return (1 + METRIC_LAG_PERIODS) * period_s + metrics_interval_s


def check_backlog_drained(exp: BacklogDrainedExpectation, recorded: Recorded, profile: Profile,
                          final: bool) -> Outcome:
    gap_s = profile.collector.max_sample_gap_s
    details: dict[str, Any] = {"within_s": exp.within_s, "after": exp.after, "max_sample_gap_s": gap_s}
    trigger = trigger_or_outcome(exp, exp.after, recorded, profile, final, details)
    if isinstance(trigger, Outcome):
        return trigger
    end = trigger + exp.within_s
    series = backlog_series(recorded, profile)
    period_s = series[0].period_s if series else DEFAULT_PERIOD_S
    until = end + publication_allowance_s(period_s, profile.collector.metrics_interval_s)
    points = [p for p in series if p.ts >= trigger]
    details |= {"period_s": period_s, "datapoints": len(points)}
    if series:
        details["stat"] = series[0].stat

    def at(ts: float) -> str:
        return f"{format_span(ts - trigger)} after {exp.after}"

    def out(status: VerdictStatus, summary: str, observed_ts: float | None = None, pending: bool = False) -> Outcome:
        v = verdict(exp, status, summary, trigger_ts=trigger, observed_ts=observed_ts,
                    window_start_ts=trigger, window_end_ts=end, details=details)
        return Outcome(v, pending, until if pending else None)

    window = f"(window {format_span(exp.within_s)})"
    stat = details.get("stat", "")
    zero = next((p for p in points if p.value == 0), None)
    if zero is not None:
        details["zero_ts"] = zero.ts
    if zero is not None and zero.ts <= end:
        return out("PASS", f"backlog drained: {BACKLOG_METRIC} {stat} 0 in the period from {at(zero.ts)} "
                           f"{window}", zero.ts)
    last = (f"; last {BACKLOG_METRIC} {points[-1].value:g} in the period from {at(points[-1].ts)}"
            if points else "")
    cover = next((i for i, p in enumerate(points) if p.ts + p.period_s > end), None)
    if cover is None:
        if not final:
            return out("INCONCLUSIVE", f"waiting for the backlog to drain until {at(end)}{last}", pending=True)
        if not points:
            return out("INCONCLUSIVE", f"no {BACKLOG_METRIC} datapoints from {exp.after} on")
        return out("INCONCLUSIVE", f"{BACKLOG_METRIC} datapoints end before the window end {window}{last}")
    edges = [trigger] + [p.ts for p in points[: cover + 1]]
    gap_from, gap_to = max(pairwise(edges), key=lambda g: g[1] - g[0])
    if gap_to - gap_from > period_s + gap_s:
        details |= {"gap_from_ts": gap_from, "gap_to_ts": gap_to, "gap_s": gap_to - gap_from}
        summary = (f"cannot tell whether the backlog drained {window}: no {BACKLOG_METRIC} datapoint between "
                   f"{format_span(gap_from - trigger)} and {at(gap_to)} ({format_span(gap_to - gap_from)} > "
                   f"period {format_span(period_s)} + max_sample_gap {format_span(gap_s)})")
        # Late datapoints may still fill the hole: wait for them while the run lasts.
        return out("INCONCLUSIVE", summary, pending=not final)
    end_point = points[cover]
    details |= {"window_end_datapoint_ts": end_point.ts, "window_end_value": end_point.value}
    later = (f"; 0 only in the period from {at(zero.ts)}" if zero is not None
             else f"; not 0 up to the period from {at(points[-1].ts)}")
    return out("FAIL", f"backlog not drained in time: {BACKLOG_METRIC} {stat} {end_point.value:g} in the period "
                       f"from {at(end_point.ts)} {window}{later}", zero.ts if zero is not None else None)
