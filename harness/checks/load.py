"""``error_rate`` over the load records (rules in :mod:`harness.checks`)."""

from __future__ import annotations

from typing import Any

from harness.checks.common import Outcome, verdict
from harness.profile import ErrorRateExpectation, Profile
from harness.profile.durations import format_span
from harness.record import LoadInterval, Recorded, RunInfo


def _span(run: RunInfo, stage: str | None) -> tuple[float | None, float | None]:
    if stage is None:
        return run.load_start_ts, run.load_end_ts
    span = next((s for s in run.stages if s.name == stage), None)
    if span is None:
        return None, None
    # An aborted run ends its last stage early.
    return span.start_ts, span.end_ts if run.load_end_ts is None else min(span.end_ts, run.load_end_ts)


def _load_hole(intervals: list[LoadInterval], start: float | None, end: float | None,
               gap_s: float) -> tuple[float, float, bool] | None:
    """The first (from_ts, to_ts, trailing) hole in the load records wider than allowed."""
    first = intervals[0]
    if start is not None and first.ts - start > gap_s + first.interval_s:
        return start, first.ts, False
    covered = first.ts + first.interval_s
    for x in intervals[1:]:
        if x.ts - covered > gap_s:
            return covered, x.ts, False
        covered = max(covered, x.ts + x.interval_s)
    if end is not None and end - covered > gap_s + intervals[-1].interval_s:
        return covered, end, True
    return None


def _percent(rate: float) -> str:
    return f"{rate * 100:.3g}%"


def check_error_rate(exp: ErrorRateExpectation, recorded: Recorded, profile: Profile, final: bool) -> Outcome:
    run = recorded.run
    start, end = _span(run, exp.stage)
    where = f" in stage {exp.stage}" if exp.stage else ""
    evidence: dict[str, Any] = {"trigger_ts": start, "window_start_ts": start, "window_end_ts": end}
    if not final and run.load_end_ts is None:
        return Outcome(verdict(exp, "INCONCLUSIVE", "waiting for the load to end", **evidence), True)
    intervals = sorted((x for x in recorded.load if exp.stage is None or x.stage == exp.stage),
                       key=lambda x: x.ts)
    requests = sum(x.requests for x in intervals)
    failures = sum(x.failures for x in intervals)
    details: dict[str, Any] = {"max": exp.max, "stage": exp.stage, "requests": requests,
                               "failures": failures, "intervals": len(intervals)}
    if intervals:
        evidence["observed_ts"] = max(x.ts + x.interval_s for x in intervals)
        details |= {"first_interval_ts": intervals[0].ts, "last_interval_ts": intervals[-1].ts}
    if requests == 0:
        return Outcome(verdict(exp, "INCONCLUSIVE", f"no requests recorded{where}", details=details, **evidence))
    hole = _load_hole(intervals, start, end, profile.collector.max_sample_gap_s)
    if hole is not None:
        hole_from, hole_to, trailing = hole
        details |= {"hole_from_ts": hole_from, "hole_to_ts": hole_to}
        if trailing and not final:
            summary = f"waiting for the load records{where} up to its end"
            return Outcome(verdict(exp, "INCONCLUSIVE", summary, details=details, **evidence), True)
        return Outcome(verdict(exp, "INCONCLUSIVE", f"load records{where} missing for "
                               f"{format_span(hole_to - hole_from)} ({failures} of {requests} "
                               f"requests failed in the rest)", details=details, **evidence))
    rate = failures / requests
    details["rate"] = rate
    ok = rate <= exp.max
    summary = (f"{_percent(rate)} of requests failed{where} ({failures} of {requests}), "
               f"{'within' if ok else 'above'} max {_percent(exp.max)}")
    return Outcome(verdict(exp, "PASS" if ok else "FAIL", summary, details=details, **evidence))
