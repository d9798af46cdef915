"""Stop conditions and the cost cap over the recorded folder: should the run stop its load now? (pure)

Contract: :func:`should_stop` reads only the folder's data (``load.jsonl`` intervals, ``endpoint.jsonl``
samples, ``run.json`` anchors) and the profile's ``stop`` conditions and the run's cost cap, and returns the
first that trips, as a :class:`StopDecision` with the reason the run records — or ``None``. The run calls it
on every observation pass (harness/run.py ``Runner._observe``); given the same folder it always decides
the same way, so ``scalecheck`` can replay it.

- ``error_rate`` / ``p99_latency`` trip on ``for`` *consecutive* load intervals that each exceed the
  threshold: the error rate of an interval is failures / requests (an interval without requests does not
  exceed), its p99 is ``latency_ms.p99`` (none: does not exceed). Intervals are consecutive when each
  starts where the previous one ended (within half an interval): a missing interval breaks the streak.
  N-1 intervals in a row do not trip; the N-th does.
- ``instances`` trips at the first DescribeEndpoint sample at or after load start whose current or
  desired instance count is above ``above``.
- the cost cap trips once the observed cost (:mod:`harness.checks.cost`: instance-seconds of every sample
  so far × price) reaches ``max_usd``; without a cap (or a price) it never trips.

Reasons read like ``stop condition: error rate 62% > 5% for 3 intervals (from load_start+2m10s)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.checks.cost import cost_of
from harness.profile import ErrorRateStop, InstancesStop, LatencyStop, Profile
from harness.profile.durations import format_span
from harness.profile.pricing import CostPlan, format_usd
from harness.record import LoadInterval, Recorded


@dataclass(frozen=True)
class StopDecision:
    """Why the run stops early: which condition (``error_rate``, ``p99_latency``, ``instances``,
    ``cost_cap``), the reason text, and the endpoint time of the evidence that tripped it."""

    condition: str
    reason: str
    ts: float
    details: dict[str, Any] = field(default_factory=dict)


def _adjacent(a: LoadInterval, b: LoadInterval) -> bool:
    return abs(b.ts - (a.ts + a.interval_s)) <= a.interval_s / 2


def first_streak(intervals: Sequence[LoadInterval], exceeds: Callable[[LoadInterval], bool],
                 n: int) -> tuple[int, int] | None:
    """Indexes ``(first, last)`` of the first ``n`` consecutive intervals (sorted by ``ts``) that each
    ``exceeds``; ``None`` when no such run exists yet."""
    run_start: int | None = None
    for i, x in enumerate(intervals):
        if not exceeds(x):
            run_start = None
            continue
        if run_start is None or not _adjacent(intervals[i - 1], x):
            run_start = i
        if i - run_start + 1 >= n:
            return run_start, i
    return None


def _error_rate(x: LoadInterval) -> float | None:
    return x.failures / x.requests if x.requests > 0 else None


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"


def _when(ts: float, load_start_ts: float | None) -> str:
    return f"load_start+{format_span(ts - load_start_ts)}" if load_start_ts is not None else f"ts {ts:.0f}"


def _intervals_text(n: int) -> str:
    return f"{n} interval{'s' if n != 1 else ''}"


def check_error_rate(cond: ErrorRateStop, intervals: Sequence[LoadInterval],
                     load_start_ts: float | None) -> StopDecision | None:
    def exceeds(x: LoadInterval) -> bool:
        rate = _error_rate(x)
        return rate is not None and rate > cond.above

    streak = first_streak(intervals, exceeds, cond.for_intervals)
    if streak is None:
        return None
    chosen = intervals[streak[0]:streak[1] + 1]
    failures, requests = sum(x.failures for x in chosen), sum(x.requests for x in chosen)
    rate = failures / requests
    reason = (f"stop condition: error rate {_percent(rate)} > {_percent(cond.above)} for "
              f"{_intervals_text(len(chosen))} (from {_when(chosen[0].ts, load_start_ts)})")
    return StopDecision("error_rate", reason, chosen[-1].ts + chosen[-1].interval_s,
                        {"failures": failures, "requests": requests, "rate": rate, "above": cond.above,
                         "intervals": [x.ts for x in chosen]})


def check_latency(cond: LatencyStop, intervals: Sequence[LoadInterval],
                  load_start_ts: float | None) -> StopDecision | None:
    def exceeds(x: LoadInterval) -> bool:
        return x.latency_ms.p99 is not None and x.latency_ms.p99 > cond.above_ms

    streak = first_streak(intervals, exceeds, cond.for_intervals)
    if streak is None:
        return None
    chosen = intervals[streak[0]:streak[1] + 1]
    p99s = [float(x.latency_ms.p99 or 0.0) for x in chosen]
    reason = (f"stop condition: p99 latency {min(p99s):.0f}–{max(p99s):.0f} ms > {cond.above_ms:g} ms for "
              f"{_intervals_text(len(chosen))} (from {_when(chosen[0].ts, load_start_ts)})")
    return StopDecision("p99_latency", reason, chosen[-1].ts + chosen[-1].interval_s,
                        {"p99_ms": p99s, "above_ms": cond.above_ms, "intervals": [x.ts for x in chosen]})


def check_instances(cond: InstancesStop, recorded: Recorded) -> StopDecision | None:
    start = recorded.run.load_start_ts
    if start is None:
        return None
    for s in recorded.endpoint:
        if s.ts < start:
            continue
        counts = {k: v for k, v in (("current", s.current_instances), ("desired", s.desired_instances))
                  if v is not None and v > cond.above}
        if counts:
            shown = ", ".join(f"{k} {v}" for k, v in counts.items())
            reason = (f"stop condition: instances above {cond.above} ({shown} at {_when(s.ts, start)})")
            return StopDecision("instances", reason, s.ts, {"above": cond.above, **counts})
    return None


def check_cost_cap(plan: CostPlan | None, recorded: Recorded) -> StopDecision | None:
    if plan is None or plan.max_usd is None or plan.price is None:
        return None
    figures = cost_of(recorded.endpoint, plan.instance_type, plan.price)
    usd = figures.usd
    if usd is None or usd < plan.max_usd or figures.last_ts is None:
        return None
    reason = (f"cost cap: {format_usd(usd)} reached max {format_usd(plan.max_usd)} "
              f"({figures.instance_seconds:.0f} instance-seconds at {plan.instance_type} "
              f"${plan.price.usd_per_hour:g}/h, at {_when(figures.last_ts, recorded.run.load_start_ts)})")
    return StopDecision("cost_cap", reason, figures.last_ts,
                        {"usd": usd, "max_usd": plan.max_usd, "instance_seconds": figures.instance_seconds})


def should_stop(recorded: Recorded, profile: Profile, plan: CostPlan | None = None) -> StopDecision | None:
    """The first of the profile's stop conditions (in profile order), then the cost cap, that trips on
    ``recorded``; ``None`` when none does."""
    intervals = sorted(recorded.load, key=lambda x: x.ts)
    start = recorded.run.load_start_ts
    for cond in profile.stop:
        if isinstance(cond, ErrorRateStop):
            decision = check_error_rate(cond, intervals, start)
        elif isinstance(cond, LatencyStop):
            decision = check_latency(cond, intervals, start)
        else:
            decision = check_instances(cond, recorded)
        if decision is not None:
            return decision
    return check_cost_cap(plan, recorded)
