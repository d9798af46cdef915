"""Instance counts over the run: ``max_instances`` and ``capacity_at`` (rules in :mod:`harness.checks`)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from harness.checks.anchors import trigger_or_outcome
from harness.checks.common import Bounds, Outcome, instances, observed_until, verdict, wanted
from harness.profile import CapacityAtExpectation, MaxInstancesExpectation, Profile
from harness.profile.durations import format_span
from harness.record import EndpointSample, Recorded


def _over(s: EndpointSample, most: int) -> list[str]:
    return [f"{name} {n}" for name, n in (("CurrentInstanceCount", s.current_instances),
                                          ("DesiredInstanceCount", s.desired_instances))
            if n is not None and n > most]


def check_max_instances(exp: MaxInstancesExpectation, recorded: Recorded, profile: Profile,
                        final: bool) -> Outcome:
    gap_s = profile.collector.max_sample_gap_s
    details: dict[str, Any] = {"max": exp.max, "max_sample_gap_s": gap_s,
                               "observed_until_ts": observed_until(recorded)}
    b = Bounds.of(profile)
    if exp.max < b.low:
        return Outcome(verdict(exp, "FAIL", f"impossible: cannot stay at or below {instances(exp.max)}, "
                                            f"{b.min_text}", details=details))
    start = trigger_or_outcome(exp, "load_start", recorded, profile, final, details)
    if isinstance(start, Outcome):
        return start
    run = recorded.run
    samples = [s for s in recorded.endpoint if s.ts >= start]
    evidence: dict[str, Any] = {"trigger_ts": start, "window_start_ts": start}

    def at(ts: float) -> str:
        return f"{format_span(ts - start)} after load_start"

    for s in samples:
        over = _over(s, exp.max)
        if over:
            details |= {"observed_current": s.current_instances, "observed_desired": s.desired_instances}
            return Outcome(verdict(exp, "FAIL", f"{' and '.join(over)} above max {exp.max} at {at(s.ts)}",
                                   observed_ts=s.ts, details=details, **evidence))
    counted = [s for s in samples if s.current_instances is not None]
    peaks = [max((n for s in samples if (n := getattr(s, f)) is not None), default=None)
             for f in ("current_instances", "desired_instances")]
    details |= {"peak_current": peaks[0], "peak_desired": peaks[1]}
    if not final:
        last = f"; last seen {instances(counted[-1].current_instances)} {at(counted[-1].ts)}" if counted else ""
        until = None if run.load_end_ts is None else run.load_end_ts + gap_s
        return Outcome(verdict(exp, "INCONCLUSIVE", f"not above {exp.max} so far, decided when the run ends{last}",
                               details=details, **evidence), True, until)
    if run.load_end_ts is None:
        return Outcome(verdict(exp, "INCONCLUSIVE", "load never ended", details=details, **evidence))
    if not counted:
        return Outcome(verdict(exp, "INCONCLUSIVE", "no DescribeEndpoint sample with an instance count since "
                               "load_start", details=details, **evidence))
    end = max(run.ended_ts or 0.0, run.load_end_ts)
    evidence["window_end_ts"] = end
    edges = [start] + [s.ts for s in counted] + [end]
    gap_from, gap_to = max(pairwise(edges), key=lambda g: g[1] - g[0])
    if gap_to - gap_from > gap_s:
        details |= {"gap_from_ts": gap_from, "gap_to_ts": gap_to, "gap_s": gap_to - gap_from}
        return Outcome(verdict(exp, "INCONCLUSIVE", f"cannot tell whether it stayed at or below {exp.max}: no "
                               f"sample between {format_span(gap_from - start)} and {at(gap_to)} "
                               f"({format_span(gap_to - gap_from)} > max_sample_gap {format_span(gap_s)})",
                               details=details, **evidence))
    peak = f"CurrentInstanceCount peaked at {peaks[0]}" + (
        f", DesiredInstanceCount at {peaks[1]}" if peaks[1] is not None else "")
    return Outcome(verdict(exp, "PASS", f"never above {exp.max}: {peak}, from load_start to "
                           f"{at(end)}", observed_ts=counted[-1].ts, details=details, **evidence))


def _capacity_impossible(exp: CapacityAtExpectation, profile: Profile) -> str | None:
    b = Bounds.of(profile)
    want = wanted(exp.low, exp.high)
    if exp.low > b.high:
        return b.above(exp.low, f"have {want}")
    if exp.high is not None:
        return b.below(exp.high, f"have {want}")
    return None


def check_capacity_at(exp: CapacityAtExpectation, recorded: Recorded, profile: Profile, final: bool) -> Outcome:
    gap_s = profile.collector.max_sample_gap_s
    want = wanted(exp.low, exp.high)
    details: dict[str, Any] = {"at": exp.at, "offset_s": exp.offset_s, "low": exp.low, "high": exp.high,
                               "max_sample_gap_s": gap_s, "observed_until_ts": observed_until(recorded)}
    impossible = _capacity_impossible(exp, profile)
    if impossible:
        return Outcome(verdict(exp, "FAIL", impossible, details=details))
    trigger = trigger_or_outcome(exp, exp.at, recorded, profile, final, details)
    if isinstance(trigger, Outcome):
        return trigger
    moment = trigger + exp.offset_s
    when = f"{format_span(exp.offset_s)} after {exp.at}" if exp.offset_s else exp.at
    evidence: dict[str, Any] = {"trigger_ts": trigger, "window_start_ts": moment, "window_end_ts": moment}
    points = [s for s in recorded.endpoint if s.current_instances is not None]
    before = [s for s in points if s.ts <= moment]
    if not any(s.ts >= moment for s in points):
        last = (f"; last seen {instances(points[-1].current_instances)} {format_span(moment - points[-1].ts)} "
                f"before {when}") if points else ""
        if not final:
            return Outcome(verdict(exp, "INCONCLUSIVE", f"waiting for {when}{last}", details=details, **evidence),
                           True, moment + gap_s)
        return Outcome(verdict(exp, "INCONCLUSIVE", f"samples end before {when}{last}", details=details,
                               **evidence))
    if not before or moment - before[-1].ts > gap_s:
        age = (f"the last one before it was taken {format_span(moment - before[-1].ts)} earlier"
               if before else "none before it")
        return Outcome(verdict(exp, "INCONCLUSIVE", f"no sample within max_sample_gap {format_span(gap_s)} "
                               f"before {when}: {age}", details=details, **evidence))
    s = before[-1]
    n = s.current_instances
    assert n is not None
    details |= {"sample_ts": s.ts, "instances": n, "desired_instances": s.desired_instances}
    ok = exp.low <= n and (exp.high is None or n <= exp.high)
    taken = f"sample {format_span(moment - s.ts)} before" if s.ts < moment else "sample at that moment"
    summary = (f"{instances(n)} at {when} ({taken}), " + ("as expected" if ok else f"expected {want}"))
    return Outcome(verdict(exp, "PASS" if ok else "FAIL", summary, observed_ts=s.ts, details=details,
                           **evidence))
