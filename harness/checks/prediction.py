"""Checks against the prediction: ``within: auto`` windows and ``agrees_with_prediction`` (rules in
:mod:`harness.checks`). Pure: the prediction arrives as :class:`~harness.record.PredictionInfo` in
``run.json`` (a run stores it once it has simulated the profile from its load start), or, for a
prediction folder itself (``kind`` prediction), is read from that folder's own data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from harness.checks.activities import check_scaled_by
from harness.checks.anchors import trigger_or_outcome
from harness.checks.backlog import check_backlog_drained
from harness.checks.capacity import check_window, points_of
from harness.checks.common import AnyExpectation, Outcome, instances, source_text, verdict
from harness.profile import AgreesWithPredictionExpectation, Profile
from harness.profile.durations import format_span
from harness.record import PredictedChange, PredictionInfo, Recorded

# The window the probe of a derived window gets: the event is looked for this long after its anchor.
PROBE_WINDOW_S = 30 * 86400.0

_PROBES: dict[str, Callable[[Any, Recorded, Profile, bool], Outcome]] = {
    "scale_out": check_window,
    "scale_in": check_window,
    "scale_from_zero": check_window,
    "scale_to_zero": check_window,
    "backlog_drained": check_backlog_drained,
    "scaled_by": check_scaled_by,
}

MatchStatus = Literal["agrees", "within_instances", "early", "late", "missing", "gap", "not_yet"]


# --- comparing capacity curves ----------------------------------------------------------------------

@dataclass(frozen=True)
class ObservedChange:
    """Consecutive samples with different counts: the change happened after ``before_ts`` (the sample
    that still showed ``from_count``) and by ``ts`` (the first sample showing ``to_count``)."""

    before_ts: float
    ts: float
    from_count: int
    to_count: int

    def text(self) -> str:
        return f"{self.from_count} → {self.to_count}"


@dataclass(frozen=True)
class ChangeMatch:
    """One predicted change and how the samples showed it.

    ``status``: ``agrees`` (seen within ±tolerance), ``within_instances`` (the change is no larger
    than the instance tolerance: nothing to see), ``early`` / ``late`` (seen, certainly outside the
    tolerance), ``missing`` (not seen, and the samples cover the tolerance around it), ``gap`` (a gap
    wider than max_sample_gap around it hides whether it agrees), ``not_yet`` (the samples end before
    predicted + tolerance). ``observed``: the observed change matched to it; ``delta_s``: the first
    sample showing it minus the predicted InService time."""

    predicted: PredictedChange
    status: MatchStatus
    observed: ObservedChange | None = None
    delta_s: float | None = None
    gap: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("agrees", "within_instances")


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_capacity` found: one match per predicted change (in order), the observed
    changes the prediction does not have (``extra``), every observed change, the counts at the start
    (observed, predicted) and how far the samples go."""

    matches: list[ChangeMatch]
    extra: list[ObservedChange] = field(default_factory=list)
    observed: list[ObservedChange] = field(default_factory=list)
    initial_observed: int | None = None
    initial_predicted: int | None = None
    observed_until_ts: float | None = None

    @property
    def agrees(self) -> bool:
        return all(m.ok for m in self.matches) and not self.extra and not self.initial_mismatch

    @property
    def initial_mismatch(self) -> bool:
        return (self.initial_observed is not None and self.initial_predicted is not None
                and self.initial_observed != self.initial_predicted)


def _point(sample: Any) -> tuple[float, int | None]:
    if isinstance(sample, tuple | list):
        return float(sample[0]), sample[1]
    if isinstance(sample, dict):
        return float(sample["ts"]), sample.get("current_instances")
    return float(sample.ts), sample.current_instances


def _change(change: Any) -> PredictedChange:
    if isinstance(change, PredictedChange):
        return change
    if isinstance(change, dict):
        return PredictedChange.model_validate(change)
    return PredictedChange(start_ts=change.start_ts, end_ts=change.end_ts, from_count=change.from_count,
                           to_count=change.to_count)


def _level_at(initial: int | None, changes: Sequence[PredictedChange], ts: float) -> int | None:
    level = initial
    for c in changes:
        if c.end_ts <= ts:
            level = c.to_count
    return level


def compare_capacity(observed_samples: Iterable[Any], predicted_changes: Iterable[Any], tolerance: float, *,
                     instances: int = 0, max_gap_s: float | None = None, since_ts: float | None = None,
                     initial: int | None = None) -> Comparison:
    """Match the predicted capacity changes against DescribeEndpoint samples (pure).

    ``observed_samples``: ``(ts, current_instances)`` pairs, :class:`~harness.record.EndpointSample` or
    their dicts (samples without a count are ignored); ``predicted_changes``: objects or dicts with
    ``start_ts``, ``end_ts``, ``from_count``, ``to_count`` (``end_ts`` = predicted InService time).
    ``since_ts``: observed changes before it are ignored (the run's load start; the sample before it
    gives the observed start count). ``initial``: the predicted count at ``since_ts`` (default: the
    first change's ``from_count``). ``instances``: counts within ± this many agree.

    Rules: in order, a predicted change ``a → b`` is seen at the first sample after the previous
    match whose count is within ±``instances`` of ``b`` while the sample before it was not; the change
    happened between those two samples. It agrees when that interval meets
    ``[predicted − tolerance, predicted + tolerance]``; an interval wider than ``max_gap_s`` reaching
    outside that range is a ``gap`` (cannot tell). Not seen: ``not_yet`` while the samples end before
    predicted + tolerance, ``gap`` when a gap wider than ``max_gap_s`` overlaps the range, else
    ``missing``. An observed change not matched is *extra* when its new count is not within
    ±``instances`` of any predicted count from ``tolerance`` before the sample before it to
    ``tolerance`` after it.
    """
    predicted = sorted((_change(c) for c in predicted_changes), key=lambda c: c.end_ts)
    points = sorted((ts, n) for ts, n in map(_point, observed_samples) if n is not None)
    start_level = initial if initial is not None else (predicted[0].from_count if predicted else None)
    baseline = None
    if since_ts is not None:
        before = [p for p in points if p[0] <= since_ts]
        baseline = before[-1][1] if before else None
        points = before[-1:] + [p for p in points if p[0] > since_ts]
    elif points:
        baseline = points[0][1]
    tol, k = float(tolerance), int(instances)
    gap_limit = float("inf") if max_gap_s is None else float(max_gap_s)
    until = points[-1][0] if points else None

    def near(n: int, want: int) -> bool:
        return abs(n - want) <= k

    observed = [ObservedChange(a[0], b[0], a[1], b[1]) for a, b in pairwise(points) if a[1] != b[1]]
    used: set[int] = set()  # indexes into points of the samples that matched
    matches: list[ChangeMatch] = []
    cursor = 1  # the search for the next change starts at this index of points
    for p in predicted:
        lo, hi = p.end_ts - tol, p.end_ts + tol
        if near(p.from_count, p.to_count):
            matches.append(ChangeMatch(p, "within_instances"))
            continue
        m = next((i for i in range(max(cursor, 1), len(points))
                  if near(points[i][1], p.to_count) and not near(points[i - 1][1], p.to_count)), None)
        if m is not None:
            (b_ts, b_n), (ts, n) = points[m - 1], points[m]
            obs = ObservedChange(b_ts, ts, b_n, n)
            delta = ts - p.end_ts
            used.add(m)
            cursor = m + 1
            if lo <= b_ts and ts <= hi or (ts >= lo and b_ts <= hi and ts - b_ts <= gap_limit):
                matches.append(ChangeMatch(p, "agrees", obs, delta))
            elif ts - b_ts > gap_limit and ts >= lo and b_ts <= hi:
                matches.append(ChangeMatch(p, "gap", obs, delta, (b_ts, ts)))
            else:
                matches.append(ChangeMatch(p, "early" if ts < lo else "late", obs, delta))
            continue
        if until is None or until < hi:
            matches.append(ChangeMatch(p, "not_yet"))
            continue
        edges = [t for t, _ in points]
        gap = next(((a, b) for a, b in pairwise(edges) if b - a > gap_limit and b >= lo and a <= hi), None)
        if gap is None and edges and edges[0] > lo and since_ts is None:
            gap = (lo, edges[0]) if edges[0] - lo > gap_limit else None
        matches.append(ChangeMatch(p, "gap", gap=gap) if gap is not None else ChangeMatch(p, "missing"))
    extra = []
    for i, (a, b) in enumerate(pairwise(points), start=1):
        if a[1] == b[1] or i in used:
            continue
        levels = {_level_at(start_level, predicted, a[0] - tol)} | {c.to_count for c in predicted
                                                                    if a[0] - tol <= c.end_ts <= b[0] + tol}
        if not any(lvl is not None and near(b[1], lvl) for lvl in levels):
            extra.append(ObservedChange(a[0], b[0], a[1], b[1]))
    initial_observed = baseline
    mismatch_predicted = start_level
    if baseline is not None and start_level is not None and near(baseline, start_level):
        initial_observed = mismatch_predicted = baseline  # agree within the instance tolerance
    return Comparison(matches, extra, observed, initial_observed, mismatch_predicted, until)


# --- deriving the prediction's windows --------------------------------------------------------------

def observed_changes(recorded: Recorded) -> list[PredictedChange]:
    """Capacity changes as a folder's samples show them (the first sample showing the new count)."""
    points = points_of(recorded)
    return [PredictedChange(start_ts=a[0], end_ts=b[0], from_count=a[1], to_count=b[1])
            for a, b in pairwise(points) if a[1] != b[1]]


def derive_prediction(prediction: Recorded, profile: Profile, changes: Iterable[Any] | None = None,
                      folder: str | None = "prediction") -> PredictionInfo:
    """What a run takes from its prediction: each ``auto`` window (the predicted time from the anchor to
    the event, as the same check observes it on the prediction, plus ``profile.prediction``'s slack), the
    predicted capacity changes (``changes``, default: as the prediction's samples show them) and the
    predicted count at load start."""
    spec = profile.prediction
    windows: dict[str, float] = {}
    predicted_s: dict[str, float] = {}
    unknown: dict[str, str] = {}
    for exp in profile.expectations:
        if not getattr(exp, "auto_window", False):
            continue
        probe = exp.model_copy(update={"within_s": PROBE_WINDOW_S})
        v = _PROBES[exp.type](probe, prediction, profile, True).verdict
        if v.status == "PASS" and v.observed_ts is not None and v.trigger_ts is not None:
            predicted_s[exp.label] = max(0.0, v.observed_ts - v.trigger_ts)
            windows[exp.label] = spec.window_s(predicted_s[exp.label])
        else:
            unknown[exp.label] = f"the prediction does not show it ({v.summary})"
    load_start = prediction.run.load_start_ts
    points = points_of(prediction)
    initial = None
    if load_start is not None:
        before = [n for ts, n in points if ts <= load_start]
        initial = before[-1] if before else None
    listed = [_change(c) for c in changes] if changes is not None else observed_changes(prediction)
    return PredictionInfo(folder=folder, load_start_ts=load_start, tolerance_s=spec.tolerance_s,
                          relative_tolerance=spec.relative_tolerance, windows=windows, predicted_s=predicted_s,
                          unknown=unknown, changes=listed, initial_instances=initial)


def own_prediction(recorded: Recorded, profile: Profile) -> PredictionInfo | None:
    """The run's prediction: ``run.json`` ``prediction``; a prediction folder without one is its own
    prediction; ``None`` for a run without one."""
    info = recorded.run.prediction
    if info is None and recorded.run.kind == "prediction":
        return derive_prediction(recorded, profile, folder=None)
    return info


def _no_prediction(exp: AnyExpectation, recorded: Recorded, final: bool, details: dict[str, Any]) -> Outcome:
    run = recorded.run
    if not final and run.kind == "run" and run.status == "running":
        waits = "the load start" if run.load_start_ts is None else "the prediction"
        return Outcome(verdict(exp, "INCONCLUSIVE", f"waiting for {waits} (the prediction is made once the load "
                                                    "starts)", details=details), True)
    return Outcome(verdict(exp, "INCONCLUSIVE", "no prediction: run.json has none (the run did not simulate "
                                                "the profile)", details=details))


# --- within: auto ------------------------------------------------------------------------------------

def _usable_prediction(exp: AnyExpectation, recorded: Recorded, profile: Profile, final: bool,
                       details: dict[str, Any]) -> PredictionInfo | Outcome:
    """The run's prediction, or the outcome that says why there is none to use."""
    info = own_prediction(recorded, profile)
    if info is None:
        return _no_prediction(exp, recorded, final, details)
    if info.error:
        return Outcome(verdict(exp, "INCONCLUSIVE", f"no prediction: the simulation failed ({info.error})",
                               details=details))
    return info


def check_auto_window(exp: AnyExpectation, recorded: Recorded, profile: Profile, final: bool,
                      check: Callable[[Any, Recorded, Profile, bool], Outcome]) -> Outcome:
    """An expectation with ``within: auto``: ``check`` with the window derived from the prediction."""
    details: dict[str, Any] = {"window": "auto"}
    info = _usable_prediction(exp, recorded, profile, final, details)
    if isinstance(info, Outcome):
        return info
    label = exp.label
    if label in info.unknown:
        return Outcome(verdict(exp, "INCONCLUSIVE", f"no derived window: {info.unknown[label]}", details=details))
    within = info.windows.get(label)
    if within is None:
        return Outcome(verdict(exp, "INCONCLUSIVE", "no derived window for it in run.json's prediction",
                               details=details))
    predicted = info.predicted_s.get(label)
    out = check(exp.model_copy(update={"within_s": within}), recorded, profile, final)
    slack = within - (predicted or 0.0)
    auto = {"window": "auto", "predicted_s": predicted, "slack_s": slack, "tolerance_s": info.tolerance_s,
            "relative_tolerance": info.relative_tolerance}
    text = (f" [auto: predicted {format_span(predicted)} + slack {format_span(slack)}]"
            if predicted is not None else " [auto]")
    v = out.verdict
    v = v.model_copy(update={"source": source_text(exp), "summary": v.summary + text,
                             "details": {**v.details, **auto}})
    return Outcome(v, out.pending, out.observe_until_ts)


# --- agrees_with_prediction --------------------------------------------------------------------------

def _rel(ts: float | None, base: float) -> str:
    return "?" if ts is None else f"T+{format_span(ts - base)}"


def _match_text(m: ChangeMatch, base: float, tol: float) -> str:
    p = m.predicted
    what = f"{p.from_count} → {p.to_count} predicted at {_rel(p.end_ts, base)}"
    if m.status == "agrees":
        assert m.observed is not None and m.delta_s is not None
        sign = "+" if m.delta_s >= 0 else ""
        return f"{what} seen at {_rel(m.observed.ts, base)} ({sign}{format_span(m.delta_s)})"
    if m.status == "within_instances":
        return f"{what} (within the instance tolerance)"
    if m.status in ("early", "late"):
        assert m.observed is not None and m.delta_s is not None
        sign = "+" if m.delta_s >= 0 else ""
        return (f"{what} seen only at {_rel(m.observed.ts, base)}" if m.status == "late" else
                f"{what} seen already at {_rel(m.observed.ts, base)}") + \
            f" ({sign}{format_span(m.delta_s)}, tolerance ±{format_span(tol)}; sample before at " \
            f"{_rel(m.observed.before_ts, base)})"
    if m.status == "missing":
        return f"{what} not seen within ±{format_span(tol)}"
    if m.status == "gap":
        assert m.gap is not None
        return (f"{what}: cannot tell, no sample between {_rel(m.gap[0], base)} and {_rel(m.gap[1], base)}")
    return f"{what}: samples end before {_rel(p.end_ts + tol, base)}"


def check_agrees_with_prediction(exp: AgreesWithPredictionExpectation, recorded: Recorded, profile: Profile,
                                 final: bool) -> Outcome:
    gap_s = profile.collector.max_sample_gap_s
    tol = exp.tolerance_s
    details: dict[str, Any] = {"tolerance_s": tol, "instances": exp.instances, "max_sample_gap_s": gap_s}
    info = _usable_prediction(exp, recorded, profile, final, details)
    if isinstance(info, Outcome):
        return info
    start = trigger_or_outcome(exp, "load_start", recorded, profile, final, details)
    if isinstance(start, Outcome):
        return start
    cmp = compare_capacity(points_of(recorded), info.changes, tol, instances=exp.instances, max_gap_s=gap_s,
                           since_ts=start, initial=info.initial_instances)
    details |= {
        "predicted": [{"from": c.from_count, "to": c.to_count, "ts": c.end_ts, "t_s": c.end_ts - start}
                      for c in info.changes],
        "matches": [{"from": m.predicted.from_count, "to": m.predicted.to_count, "predicted_ts": m.predicted.end_ts,
                     "status": m.status, "observed_ts": m.observed.ts if m.observed else None,
                     "delta_s": m.delta_s} for m in cmp.matches],
        "extra": [{"from": c.from_count, "to": c.to_count, "before_ts": c.before_ts, "ts": c.ts} for c in cmp.extra],
        "observed_until_ts": cmp.observed_until_ts,
    }

    def out(status: Any, summary: str, pending: bool = False, until: float | None = None) -> Outcome:
        observed = [m.observed.ts for m in cmp.matches if m.observed is not None]
        return Outcome(verdict(exp, status, summary, trigger_ts=start,
                               observed_ts=observed[-1] if observed and status != "PASS" else None,
                               details=details), pending, until)

    problems = [_match_text(m, start, tol) for m in cmp.matches if m.status in ("early", "late", "missing")]
    problems += [f"observed change {c.text()} at {_rel(c.ts, start)} (after {_rel(c.before_ts, start)}) is not in "
                 "the prediction" for c in cmp.extra]
    if cmp.initial_mismatch:
        problems.insert(0, f"started at {instances(cmp.initial_observed or 0)} at load_start, predicted "
                           f"{instances(cmp.initial_predicted or 0)}")
    if problems:
        return out("FAIL", "; ".join(problems))
    last = max((c.end_ts for c in info.changes), default=start)
    load_end = recorded.run.load_end_ts
    horizon = max(last, load_end if load_end is not None else last) + tol
    until = cmp.observed_until_ts
    waiting = [m for m in cmp.matches if m.status == "not_yet"]
    if not final and (waiting or load_end is None or until is None or until < horizon):
        return out("INCONCLUSIVE", f"waiting to see {len(info.changes)} predicted change(s) up to "
                                   f"{_rel(horizon, start)}" + (f"; next: {_match_text(waiting[0], start, tol)}"
                                                                 if waiting else ""),
                   True, horizon + gap_s)
    unsure = [_match_text(m, start, tol) for m in cmp.matches if m.status in ("gap", "not_yet")]
    if unsure:
        return out("INCONCLUSIVE", "; ".join(unsure))
    if until is None or until < horizon:
        return out("INCONCLUSIVE", f"samples end at {_rel(until, start)}, before {_rel(horizon, start)}")
    points = [ts for ts, _ in points_of(recorded) if ts >= start]
    edges = [start] + [ts for ts in points if ts > start and ts <= horizon + gap_s]
    wide = next(((a, b) for a, b in pairwise(edges) if b - a > gap_s), None)
    if wide is not None:
        return out("INCONCLUSIVE", "cannot tell whether the capacity followed the prediction: no sample "
                                   f"between {_rel(wide[0], start)} and {_rel(wide[1], start)} "
                                   f"({format_span(wide[1] - wide[0])} > max_sample_gap {format_span(gap_s)})")
    seen = [_match_text(m, start, tol) for m in cmp.matches]
    if not seen:
        return out("PASS", f"no capacity change predicted and none seen up to {_rel(until, start)}")
    return out("PASS", f"{len(seen)} predicted change(s) seen within ±{format_span(tol)}: " + "; ".join(seen))
