"""Checks: recorded run data + a profile's expectations → verdicts (PASS / FAIL / INCONCLUSIVE).

Pure: no I/O and no clock. "Now" is the data itself: a capacity check has observed the endpoint
until the ``ts`` of the latest :class:`~harness.record.EndpointSample`. All times are endpoint-time
epoch seconds (DESIGN.md "Time"). :func:`evaluate` is called repeatedly while a run is in progress
(``final=False``) and once at the end (``final=True``); ``scalecheck check`` replays it offline.

Anchors: ``load_start`` = ``run.load_start_ts``, ``load_end`` = ``run.load_end_ts``,
``stage:<name>`` = ``start_ts`` of that :class:`~harness.record.StageSpan`. An anchor not known yet
keeps the expectation pending; once final it is INCONCLUSIVE ("load never started", ...).

Capacity checks (``scale_out`` / ``scale_in``) use DescribeEndpoint samples that carry a
``current_instances`` (samples without one are ignored and so widen the gaps around them).
The window is ``[trigger, trigger + within]``; *G* is ``collector.max_sample_gap_s``.

- ``scale_out``: a sample *hits* when ``current_instances >= to``.
- ``scale_in``: a sample *hits* when ``current_instances <= to`` and an earlier sample taken at or
  after load start (the trigger, when load start is unknown) showed ``current_instances > to``.
- The observation is the first hit at or after the trigger; the true moment lies between the
  sample before it and it. PASS iff that sample's ``ts`` is at or before the window end.
- FAIL immediately when ``to`` is out of the scalable target's bounds (``to > max_capacity`` for
  scale-out, ``to < min_capacity`` for scale-in), citing the bound.
- Otherwise nothing is decided until some sample at or after the window end exists (before that:
  pending, or INCONCLUSIVE once final). Then: scale-in that never saw capacity above ``to`` is
  INCONCLUSIVE ("nothing to scale in"); any gap wider than G between consecutive samples from the
  trigger up to that first sample at/after the window end (the trigger itself counts as the left
  edge, so time before the trigger never matters) is INCONCLUSIVE, because a change could hide in
  it; else FAIL. A first hit just after the window end, less than G after the sample before it,
  is a FAIL: the collector's declared resolution is the tolerance.

``error_rate``: failures / requests over the :class:`~harness.record.LoadInterval` records (all, or
those of one stage) must be ``<= max``. Decided once ``run.load_end_ts`` is set, or when final. No
requests, or a hole wider than G in the load records (between intervals, or at the edges of the
load / stage span beyond G plus one interval), is INCONCLUSIVE; mid-run a trailing hole keeps it
pending instead, because the last intervals may still be on their way.

Missing or late data is INCONCLUSIVE, never PASS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, NamedTuple

from harness import exitcodes
from harness.profile import ErrorRateExpectation, Profile, ScaleInExpectation, ScaleOutExpectation
from harness.record import LoadInterval, Recorded, RunInfo, Verdict, VerdictStatus

_Expectation = ScaleOutExpectation | ScaleInExpectation | ErrorRateExpectation
_CapacityExpectation = ScaleOutExpectation | ScaleInExpectation
_Point = tuple[float, int]  # (ts, current_instances) of one usable DescribeEndpoint sample


@dataclass(frozen=True)
class Evaluation:
    """The verdicts of one profile on the data recorded so far.

    ``verdicts``: one per profile expectation, in profile order. ``pending``: labels of the
    expectations not decided yet (their verdict is INCONCLUSIVE, its summary saying what it waits
    for); always empty when ``final``. ``observe_until_ts``: endpoint time until which the run must
    keep observing to decide every pending one whose window is known (window end + G, the
    latest of them); ``None`` when nothing pending has a known window (e.g. the load has not
    started or ended yet) — the run then waits for that anchor.
    """

    verdicts: list[Verdict]
    pending: frozenset[str]
    observe_until_ts: float | None


class _Outcome(NamedTuple):
    verdict: Verdict
    pending: bool = False
    observe_until_ts: float | None = None


def evaluate(recorded: Recorded, profile: Profile, *, final: bool) -> Evaluation:
    """Verdicts of ``profile.expectations`` on ``recorded``; see the module docstring for the rules."""
    outcomes = [_check(exp, recorded, profile, final) for exp in profile.expectations]
    pending = frozenset(o.verdict.name for o in outcomes if o.pending)
    untils = [o.observe_until_ts for o in outcomes if o.pending and o.observe_until_ts is not None]
    return Evaluation([o.verdict for o in outcomes], pending, max(untils) if untils else None)


def exit_code(verdicts: Sequence[Verdict]) -> int:
    """``exitcodes.FAILED`` if any verdict failed, else ``INCONCLUSIVE`` if any is, else ``OK``."""
    statuses = {v.status for v in verdicts}
    if "FAIL" in statuses:
        return exitcodes.FAILED
    if "INCONCLUSIVE" in statuses:
        return exitcodes.INCONCLUSIVE
    return exitcodes.OK


def source_text(exp: _Expectation) -> str:
    """The expectation as the user wrote it, e.g. ``scale_out: to 4 within 12m after load_start``."""
    if isinstance(exp, ErrorRateExpectation):
        return f"error_rate: max {exp.max:g}" + (f" in stage {exp.stage}" if exp.stage else "")
    return f"{exp.type}: to {exp.to} within {format_span(exp.within_s)} after {exp.after}"


def format_span(seconds: float) -> str:
    """Compact signed duration: ``720`` → ``12m``, ``552`` → ``9m12s``, ``12.5`` → ``12.5s``."""
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds < 60 and seconds != int(seconds):
        return f"{sign}{seconds:.3g}s"
    h, rem = divmod(int(round(seconds)), 3600)
    m, s = divmod(rem, 60)
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return sign + (text or "0s")


def _check(exp: _Expectation, recorded: Recorded, profile: Profile, final: bool) -> _Outcome:
    if isinstance(exp, ErrorRateExpectation):
        return _check_error_rate(exp, recorded, profile, final)
    return _check_capacity(exp, recorded, profile, final)


def _verdict(exp: _Expectation, status: VerdictStatus, summary: str, **evidence: Any) -> Verdict:
    return Verdict(name=exp.label, kind=exp.type, status=status, summary=summary,
                   source=source_text(exp), **evidence)


def _anchor_ts(run: RunInfo, anchor: str) -> float | None:
    if anchor == "load_start":
        return run.load_start_ts
    if anchor == "load_end":
        return run.load_end_ts
    name = anchor.removeprefix("stage:")
    return next((s.start_ts for s in run.stages if s.name == name), None)


def _anchor_missing(anchor: str) -> str:
    if anchor == "load_start":
        return "load never started"
    if anchor == "load_end":
        return "load never ended"
    return f"stage {anchor.removeprefix('stage:')} never started"


def _instances(n: int) -> str:
    return f"{n} instance" + ("" if n == 1 else "s")


# --- capacity: scale_out / scale_in -----------------------------------------------------------


def _impossible(exp: _CapacityExpectation, profile: Profile) -> str | None:
    lo, hi = profile.scaling.min_capacity, profile.scaling.max_capacity
    if isinstance(exp, ScaleOutExpectation) and exp.to > hi:
        return (f"impossible: cannot reach {_instances(exp.to)}, "
                f"MaxCapacity is {hi} (scaling.max_capacity)")
    if isinstance(exp, ScaleInExpectation) and exp.to < lo:
        return (f"impossible: cannot go down to {_instances(exp.to)}, "
                f"MinCapacity is {lo} (scaling.min_capacity)")
    return None


def _hits(points: list[_Point], exp: _CapacityExpectation, since: float) -> list[bool]:
    if isinstance(exp, ScaleOutExpectation):
        return [n >= exp.to for _, n in points]
    hits: list[bool] = []
    seen_above = False
    for ts, n in points:
        hits.append(seen_above and n <= exp.to)
        seen_above = seen_above or (ts >= since and n > exp.to)
    return hits


@dataclass(frozen=True)
class _Window:
    """One capacity expectation laid over the samples; ``details`` collects the evidence."""

    exp: _CapacityExpectation
    trigger: float
    points: list[_Point]
    since: float  # capacity above `to` counts for scale-in from here on
    gap_s: float
    details: dict[str, Any]

    @property
    def out(self) -> bool:
        return isinstance(self.exp, ScaleOutExpectation)

    @property
    def end(self) -> float:
        return self.trigger + self.exp.within_s

    @property
    def goal(self) -> str:
        return f"{'reach' if self.out else 'scale in to'} {_instances(self.exp.to)}"

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
        return any(n > self.exp.to for ts, n in self.points[: None if until is None else until + 1]
                   if ts >= self.since)

    def verdict(self, status: VerdictStatus, summary: str, observed_ts: float | None = None) -> Verdict:
        return _verdict(self.exp, status, summary, trigger_ts=self.trigger, observed_ts=observed_ts,
                        window_start_ts=self.trigger, window_end_ts=self.end, details=self.details)


def _check_capacity(exp: _CapacityExpectation, recorded: Recorded, profile: Profile,
                    final: bool) -> _Outcome:
    points = sorted((s.ts, s.current_instances) for s in recorded.endpoint
                    if s.current_instances is not None)
    details: dict[str, Any] = {"to": exp.to, "within_s": exp.within_s, "after": exp.after,
                               "max_sample_gap_s": profile.collector.max_sample_gap_s,
                               "observed_until_ts": points[-1][0] if points else None}
    impossible = _impossible(exp, profile)
    if impossible:
        return _Outcome(_verdict(exp, "FAIL", impossible, details=details))
    trigger = _anchor_ts(recorded.run, exp.after)
    if trigger is None:
        if final:
            return _Outcome(_verdict(exp, "INCONCLUSIVE", _anchor_missing(exp.after), details=details))
        return _Outcome(_verdict(exp, "INCONCLUSIVE", f"waiting for {exp.after}", details=details), True)

    load_start = recorded.run.load_start_ts
    w = _Window(exp, trigger, points, trigger if load_start is None else load_start,
                profile.collector.max_sample_gap_s, details)
    hits = _hits(points, exp, w.since)
    first = next((i for i, (ts, _) in enumerate(points) if ts >= trigger), len(points))
    hit = next((i for i in range(first, len(points)) if hits[i]), None)
    if hit is not None:
        details |= {"observed_sample_ts": points[hit][0], "observed_instances": points[hit][1]}
        if hit > 0:
            details |= {"previous_sample_ts": points[hit - 1][0], "previous_instances": points[hit - 1][1]}
        ts, n = points[hit]
        if ts <= w.end and hit == first and hit > 0 and hits[hit - 1]:
            return _Outcome(w.verdict("PASS", f"already {_instances(n)} at {exp.after} {w.window}", ts))
        if ts <= w.end:
            return _Outcome(w.verdict("PASS", f"{w.done} {_instances(n)} {w.at(ts)} {w.window}", ts))
    end_i = next((i for i in range(first, len(points)) if points[i][0] >= w.end), None)
    if end_i is None:
        return _before_window_end(w, final)
    return _after_window_end(w, hit, end_i)


def _before_window_end(w: _Window, final: bool) -> _Outcome:
    """No PASS and no sample at/after the window end yet: pending, or INCONCLUSIVE once final."""
    last = f"; last seen {_instances(w.points[-1][1])} {w.at(w.points[-1][0])}" if w.points else ""
    if not final:
        wait = "" if w.out or w.was_above() else " (never above it yet)"
        return _Outcome(w.verdict("INCONCLUSIVE", f"waiting to {w.goal}{wait} until {w.at(w.end)}{last}"),
                        True, w.end + w.gap_s)
    if not w.out and not w.was_above():
        return _Outcome(w.verdict("INCONCLUSIVE", f"never scaled above {_instances(w.exp.to)}, "
                                                  f"nothing to scale in{last}"))
    if not w.points:
        return _Outcome(w.verdict("INCONCLUSIVE", "no DescribeEndpoint sample with an instance count"))
    last_ts, last_n = w.points[-1]
    return _Outcome(w.verdict("INCONCLUSIVE", f"samples end {w.at(last_ts)} with {_instances(last_n)}, "
                                              f"before the window end {w.window}"))


def _after_window_end(w: _Window, hit: int | None, end_i: int) -> _Outcome:
    """No PASS, and ``points[end_i]`` is the first sample at/after the window end: decide."""
    end_ts, end_n = w.points[end_i]
    hit_ts = None if hit is None else w.points[hit][0]
    w.details.update({"window_end_sample_ts": end_ts, "window_end_instances": end_n})
    if not w.out and not w.was_above(end_i):
        return _Outcome(w.verdict("INCONCLUSIVE", f"never scaled above {_instances(w.exp.to)} by the "
                                                  f"window end, nothing to scale in {w.window}"))
    # The trigger is the left edge: what happened before it never matters.
    edges = [w.trigger] + [ts for ts, _ in w.points[: end_i + 1] if ts > w.trigger]
    gap_from, gap_to = max(pairwise(edges), key=lambda g: g[1] - g[0])
    if gap_to - gap_from > w.gap_s:
        w.details.update({"gap_from_ts": gap_from, "gap_to_ts": gap_to, "gap_s": gap_to - gap_from})
        return _Outcome(w.verdict(
            "INCONCLUSIVE",
            f"cannot tell whether it could {w.goal} {w.window}: no sample between "
            f"{format_span(gap_from - w.trigger)} and {w.at(gap_to)} "
            f"({format_span(gap_to - gap_from)} > max_sample_gap {format_span(w.gap_s)})", hit_ts))
    if hit is not None and hit == end_i:
        before = ""
        if hit > 0:
            prev_ts, prev_n = w.points[hit - 1]
            before = f"; the sample before, {w.at(prev_ts)}, showed {_instances(prev_n)}"
        return _Outcome(w.verdict("FAIL", f"{w.done} {_instances(end_n)} only {w.at(end_ts)}, after the "
                                          f"window {w.window}{before}", hit_ts))
    later = (f"; {w.done} {_instances(w.points[hit][1])} {w.at(w.points[hit][0])}" if hit is not None
             else f"; not seen up to {w.at(w.points[-1][0])}")
    return _Outcome(w.verdict("FAIL", f"did not {w.goal} in time: {_instances(end_n)} {w.at(end_ts)} "
                                      f"{w.window}{later}", hit_ts))


# --- error rate -------------------------------------------------------------------------------


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


def _check_error_rate(exp: ErrorRateExpectation, recorded: Recorded, profile: Profile,
                      final: bool) -> _Outcome:
    run = recorded.run
    start, end = _span(run, exp.stage)
    where = f" in stage {exp.stage}" if exp.stage else ""
    evidence: dict[str, Any] = {"trigger_ts": start, "window_start_ts": start, "window_end_ts": end}
    if not final and run.load_end_ts is None:
        return _Outcome(_verdict(exp, "INCONCLUSIVE", "waiting for the load to end", **evidence), True)
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
        return _Outcome(_verdict(exp, "INCONCLUSIVE", f"no requests recorded{where}", details=details,
                                 **evidence))
    hole = _load_hole(intervals, start, end, profile.collector.max_sample_gap_s)
    if hole is not None:
        hole_from, hole_to, trailing = hole
        details |= {"hole_from_ts": hole_from, "hole_to_ts": hole_to}
        if trailing and not final:
            summary = f"waiting for the load records{where} up to its end"
            return _Outcome(_verdict(exp, "INCONCLUSIVE", summary, details=details, **evidence), True)
        return _Outcome(_verdict(exp, "INCONCLUSIVE", f"load records{where} missing for "
                                 f"{format_span(hole_to - hole_from)} ({failures} of {requests} "
                                 f"requests failed in the rest)", details=details, **evidence))
    rate = failures / requests
    details["rate"] = rate
    ok = rate <= exp.max
    summary = (f"{_percent(rate)} of requests failed{where} ({failures} of {requests}), "
               f"{'within' if ok else 'above'} max {_percent(exp.max)}")
    return _Outcome(_verdict(exp, "PASS" if ok else "FAIL", summary, details=details, **evidence))
