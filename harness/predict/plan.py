"""``scalecheck plan``: when each alarm should fire and capacity should change, from named delays.

A pure, analytic plan over a :class:`~harness.profile.Profile` and :class:`ModelParams`, built the way
the Kubernetes autoscaling e2e suites build their deadlines: every time is a sum of named delays
(metric period, datapoints to alarm, publication lag, alarm evaluation, provisioning, cooldown), with
a lower and an upper bound. Times are seconds of endpoint time after the load starts (``at_lo_s`` /
``at_hi_s``); expectation rows are relative to their own anchor.

Target tracking AlarmHigh fires between ``(n - 1) x period + lag`` (a partial first period already
breaches) and ``n x period + period (partial first period) + lag + period (evaluation)`` after the
breach starts; AlarmLow likewise with its 15 datapoints; a step alarm with its own
``datapoints_to_alarm`` and period. Capacity follows the alarm by ``provisioning_delay_s`` (scale-out)
or ``deprovision_delay_s`` (scale-in); a scheduled action fires at its time. While an alarm stays in
ALARM its action repeats every period and acts again once the cooldown is over.

Which datapoints breach is estimated per second from the traffic (InvocationsPerInstance = rate x 60 /
InService instances, Invocations = rate x 60) and, for async endpoints, a backlog that grows while there
is no instance and drains at ``instances x concurrency / async_processing_s``. Metrics it cannot
estimate are named in ``notes``; policies are planned one at a time (no cross-policy vote on scale-in),
and decisions follow the lower-bound timeline.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Literal

from harness.autoscaling.params import ModelParams
from harness.autoscaling.policy import proportional_capacity
from harness.autoscaling.step import StepAdjustment, StepConfig, find_step, raw_capacity
from harness.profile import (
    Profile,
    ScheduledActionSpec,
    StepPolicy,
    TargetTrackingPolicy,
)
from harness.profile.aws_requests import relative_action_ts
from harness.profile.traffic import integral, stage_starts

HORIZON_AFTER_LOAD_S = 3600.0
RowKind = Literal["alarm", "capacity", "scheduled", "expectation", "note"]


@dataclass(frozen=True)
class Delay:
    """One named delay of a sum: ``lo_s``..``hi_s`` seconds, and how it is written."""

    text: str
    lo_s: float
    hi_s: float


@dataclass(frozen=True)
class Row:
    """One line of the plan. ``at_lo_s``/``at_hi_s``: seconds after ``anchor`` (None = not known)."""

    kind: RowKind
    what: str
    anchor: str
    at_lo_s: float | None
    at_hi_s: float | None
    delays: tuple[Delay, ...] = ()
    policy: str | None = None
    capacity: int | None = None
    status: str | None = None
    within_s: float | None = None

    @property
    def why(self) -> str:
        return " + ".join(d.text for d in self.delays)


@dataclass
class Plan:
    """The rows in time order, then one row per expectation, and what could not be planned."""

    profile: str
    rows: list[Row] = field(default_factory=list)
    expectations: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        def row(r: Row) -> dict[str, object]:
            return {**asdict(r), "why": r.why}

        return json.dumps({"profile": self.profile, "rows": [row(r) for r in self.rows],
                           "expectations": [row(r) for r in self.expectations], "notes": self.notes}, indent=2)


# --------------------------------------------------------------------------------------------------
# Delays


def _s(v: float) -> str:
    return f"{v:g}s"


def alarm_delays(datapoints: int, period_s: float, params: ModelParams) -> tuple[Delay, ...]:
    """From the first breaching second to the alarm's action: datapoints, lag, evaluation."""
    p, lag = float(period_s), params.metric_publish_lag_s
    eval_s = float(params.metric_period_s)
    return (Delay(f"{datapoints}×{_s(p)} datapoints", (datapoints - 1) * p, datapoints * p),
            Delay(f"≤{_s(p)} partial first period", 0.0, p),
            Delay(f"{_s(lag)} lag", lag, lag),
            Delay(f"≤{_s(eval_s)} evaluation", 0.0, eval_s))


def _sum(delays: tuple[Delay, ...]) -> tuple[float, float]:
    return sum(d.lo_s for d in delays), sum(d.hi_s for d in delays)


def window_status(within_s: float, lo_s: float | None, hi_s: float | None) -> str:
    """``ok`` when the window covers the upper bound; ``tight`` when only the lower; else ``too short``."""
    if lo_s is None or hi_s is None:
        return "not planned"
    if within_s >= hi_s:
        return "ok"
    if within_s >= lo_s:
        return "tight: < upper bound"
    return "too short"


# --------------------------------------------------------------------------------------------------
# Metric estimates


@dataclass(frozen=True)
class _Trigger:
    """One alarm of one policy: what it compares and what it does."""

    policy: TargetTrackingPolicy | StepPolicy
    direction: Literal["out", "in", "step"]
    alarm: str
    metric: str
    threshold: float
    comparison: str
    datapoints: int
    period_s: float
    cooldown_s: float


def _triggers(profile: Profile, params: ModelParams) -> list[_Trigger]:
    out: list[_Trigger] = []
    for pol in profile.scaling.policies:
        if isinstance(pol, TargetTrackingPolicy):
            metric = pol.custom_metric.name if pol.custom_metric else "InvocationsPerInstance"
            out.append(_Trigger(pol, "out", "AlarmHigh", metric, pol.target_value, "GreaterThanThreshold",
                                params.alarm_high_datapoints, params.metric_period_s, pol.scale_out_cooldown_s))
            if not pol.disable_scale_in:
                out.append(_Trigger(pol, "in", "AlarmLow", metric, pol.target_value * params.alarm_low_ratio,
                                    "LessThanThreshold", params.alarm_low_datapoints, params.metric_period_s,
                                    pol.scale_in_cooldown_s))
        else:
            a = pol.alarm
            out.append(_Trigger(pol, "step", pol.alarm_name, a.name, a.threshold, a.comparison,
                                a.datapoints_to_alarm or a.evaluation_periods, a.period_s, pol.cooldown_s))
    return out


def _compare(value: float, comparison: str, threshold: float) -> bool:
    return {"GreaterThanThreshold": value > threshold, "GreaterThanOrEqualToThreshold": value >= threshold,
            "LessThanThreshold": value < threshold, "LessThanOrEqualToThreshold": value <= threshold}[comparison]


def _metric(name: str, rate_rps: float, serving: int, backlog: float, params: ModelParams) -> float | None:
    """The per-period value of ``name`` now, or None when the plan cannot estimate it."""
    if name == "InvocationsPerInstance":
        return rate_rps * 60 / serving if serving else None
    if name == "Invocations":
        return rate_rps * 60
    if name == "HasBacklogWithoutCapacity":
        return 1.0 if backlog > 0 and serving == 0 else 0.0
    if name == "ApproximateBacklogSize":
        return backlog
    if name == "ApproximateBacklogSizePerInstance":
        if serving:
            return backlog / serving
        return {"backlog": backlog, "zero": 0.0, "absent": None}[params.backlog_per_instance_at_zero]
    return None


# --------------------------------------------------------------------------------------------------
# The walk


@dataclass
class _State:
    onset: float | None = None
    fired_lo: float | None = None
    fired_hi: float | None = None
    next_lo: float | None = None


class _Walk:
    def __init__(self, profile: Profile, params: ModelParams) -> None:
        self.profile, self.params = profile, params
        s = profile.scaling
        start = s.start_capacity if s.start_capacity is not None else profile.endpoint.initial_instance_count
        self.desired = self.serving = start
        self.min_c, self.max_c = s.min_capacity, s.max_capacity
        self.arrivals: list[tuple[float, int]] = []
        self.backlog = 0.0
        self.backlog_empty: float | None = None
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.max_desired = start
        ep = profile.endpoint
        conc = (ep.async_.max_concurrent_invocations_per_instance if ep.async_ else None) \
            or params.async_default_max_concurrent
        self.drain_rps = conc / params.async_processing_s if params.async_processing_s else math.inf

    def run(self) -> None:
        profile, params = self.profile, self.params
        stages = profile.traffic.stages
        load_s = profile.traffic.duration_s
        actions = sorted(((t, a) for a in profile.scaling.scheduled_actions
                          if (t := _action_time(a, profile)) is not None), key=lambda x: x[0])
        for a in profile.scaling.scheduled_actions:
            if a.at is None:
                self.notes.append(f"scheduled action {a.name} ({a.schedule}): absolute schedule, not placed on "
                                  "the load's timeline")
        triggers = _triggers(profile, params)
        states = {id(t): _State() for t in triggers}
        unknown: set[str] = set()
        t, dt = 0, 1
        while t <= load_s + HORIZON_AFTER_LOAD_S:
            while actions and actions[0][0] <= t:
                self._scheduled(*actions.pop(0))
            self._arrive(t)
            rate = integral(stages, t, t + dt) / dt  # the mean rate of this second: exact for every stage kind
            self._backlog(t, rate, dt, load_s)
            for trig in triggers:
                value = _metric(trig.metric, rate, self.serving, self.backlog, params)
                if value is None:
                    if trig.metric not in ("InvocationsPerInstance", "ApproximateBacklogSizePerInstance"):
                        unknown.add(trig.metric)
                    states[id(trig)] = _State()
                    continue
                self._evaluate(trig, states[id(trig)], t, value)
            t += dt
        for name in sorted(unknown):
            self.notes.append(f"metric {name}: not estimable from the traffic; its alarms are not planned")

    def _backlog(self, t: float, rate: float, dt: float, load_s: float) -> None:
        if not self.profile.endpoint.is_async:
            return
        self.backlog = max(0.0, self.backlog + (rate - self.serving * self.drain_rps) * dt)
        if t >= load_s and self.backlog == 0 and self.backlog_empty is None:
            self.backlog_empty = float(t)

    def _arrive(self, t: float) -> None:
        while self.arrivals and self.arrivals[0][0] <= t:
            self.serving = self.arrivals.pop(0)[1]

    def _change(self, new: int, lo: float, hi: float, delays: tuple[Delay, ...], what: str,
                policy: str | None) -> None:
        """Desired capacity becomes ``new`` at ``lo``..``hi``; InService after (de)provisioning."""
        up = new > self.desired
        wait = self.params.provisioning_delay_s if up else self.params.deprovision_delay_s
        step = Delay(f"{_s(wait)} {'provisioning' if up else 'deprovisioning'}", wait, wait)
        self.desired = new
        self.max_desired = max(self.max_desired, new)
        self.arrivals.append((lo + wait, new))
        self.arrivals.sort()
        self.rows.append(Row("capacity", f"{what} → {new} InService", "load_start", lo + wait, hi + wait,
                             (*delays, step), policy=policy, capacity=new))

    def _scheduled(self, at: float, action: ScheduledActionSpec) -> None:
        if action.min_capacity is not None:
            self.min_c = action.min_capacity
        if action.max_capacity is not None:
            self.max_c = action.max_capacity
        bounds = " ".join(f"{k} {v}" for k, v in (("min", action.min_capacity), ("max", action.max_capacity))
                          if v is not None)
        delays = (Delay(f"at {action.at}", at, at),)
        self.rows.append(Row("scheduled", f"scheduled action {action.name}: {bounds}", "load_start", at, at,
                             delays, policy=action.name))
        new = max(self.min_c, min(self.max_c, self.desired))
        if new != self.desired:
            self._change(new, at, at, delays, f"scheduled {action.name}", action.name)

    def _evaluate(self, trig: _Trigger, st: _State, t: float, value: float) -> None:
        if not _compare(value, trig.comparison, trig.threshold):
            st.onset = st.fired_lo = st.fired_hi = st.next_lo = None
            return
        if st.onset is None:
            st.onset = t
        pol = trig.policy
        label = f"{pol.name} {trig.alarm}"
        if st.fired_lo is None:
            delays = (Delay(f"breach from +{_s(st.onset)}", st.onset, st.onset),
                      *alarm_delays(trig.datapoints, trig.period_s, self.params))
            lo, hi = _sum(delays)
            if t < lo:
                return
            st.fired_lo, st.fired_hi = lo, hi
            why = f"{trig.metric} {value:.3g} {_OP[trig.comparison]} {trig.threshold:g}"
        else:
            assert st.next_lo is not None and st.fired_hi is not None
            if t < st.next_lo:
                return
            repeat = max(trig.cooldown_s, float(self.params.metric_period_s))
            delays = (Delay(f"previous alarm action +{_s(st.fired_lo)}", st.fired_lo, st.fired_hi),
                      Delay(f"{_s(trig.cooldown_s)} cooldown, ≤{self.params.metric_period_s}s repeat",
                            repeat, repeat + self.params.metric_period_s))
            lo, hi = _sum(delays)
            st.fired_lo, st.fired_hi = t, hi
            why = f"still in ALARM ({trig.metric} {value:.3g})"
        st.next_lo = t + max(trig.cooldown_s, float(self.params.metric_period_s))
        new = self._decide(trig, value)
        if why.startswith("still") and new == self.desired:
            return  # a repeated action that changes nothing is not worth a row
        self.rows.append(Row("alarm", f"{label} fires ({why})", "load_start", st.fired_lo, st.fired_hi, delays,
                             policy=pol.name, capacity=new))
        if new != self.desired:
            self._change(new, st.fired_lo, st.fired_hi, delays, pol.name, pol.name)

    def _decide(self, trig: _Trigger, value: float) -> int:
        pol, d = trig.policy, self.desired
        if isinstance(pol, TargetTrackingPolicy):
            basis = self.serving if self.params.capacity_basis != "desired" else d
            new = proportional_capacity(basis, value, pol.target_value, self.min_c, self.max_c)
            if trig.direction == "out":
                return max(new, d)
            return min(new, d)
        steps = tuple(StepAdjustment(s.lower, s.upper, s.adjustment) for s in pol.steps)
        step = find_step(steps, value - trig.threshold)
        if step is None:
            return d
        config = StepConfig(pol.adjustment_type, steps, pol.cooldown_s, pol.metric_aggregation,
                            pol.min_adjustment_magnitude)
        return max(self.min_c, min(self.max_c, raw_capacity(config, step, d)))


_OP = {"GreaterThanOrEqualToThreshold": ">=", "GreaterThanThreshold": ">", "LessThanThreshold": "<",
       "LessThanOrEqualToThreshold": "<="}


def _action_time(action: ScheduledActionSpec, profile: Profile) -> float | None:
    return relative_action_ts(action, profile, 0.0) if action.at is not None else None


# --------------------------------------------------------------------------------------------------
# Expectations


def anchor_times(profile: Profile, backlog_empty_s: float | None) -> dict[str, float | None]:
    """Seconds after the load starts of every anchor an expectation may name."""
    stages = profile.traffic.stages
    times: dict[str, float | None] = {"load_start": 0.0, "load_end": profile.traffic.duration_s,
                                      "backlog_empty": backlog_empty_s}
    first = next((start for (_n, start, _e), st in zip(stage_starts(stages, 0.0), stages, strict=True)
                  if (st.rate_rps or 0) > 0 or (st.from_rps or 0) > 0 or (st.to_rps or 0) > 0), 0.0)
    times["first_request"] = first
    for name, start, _end in stage_starts(stages, 0.0):
        times[f"stage:{name}"] = start
    return times


def _capacity_rows(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.kind == "capacity"]


def _expectation(exp: object, rows: list[Row], walk: _Walk, anchors: dict[str, float | None]) -> Row:
    from harness.profile import (
        CapacityAtExpectation,
        MaxInstancesExpectation,
        ScaledByExpectation,
    )

    label = getattr(exp, "label", "?")
    kind = getattr(exp, "type", "?")
    anchor = getattr(exp, "after", None) or getattr(exp, "at", None) or "load_start"
    within = getattr(exp, "within_s", None)
    base = anchors.get(anchor)
    if isinstance(exp, MaxInstancesExpectation):
        ok = walk.max_desired <= exp.max
        return Row("expectation", f"{label}: planned peak {walk.max_desired}", "-", None, None,
                   status="ok" if ok else f"exceeds: plan reaches {walk.max_desired}")
    if base is None:
        return Row("expectation", label, anchor, None, None, status=f"not planned ({anchor} unknown)",
                   within_s=within)
    if isinstance(exp, CapacityAtExpectation):
        at = base + exp.offset_s
        lo_cap, hi_cap = _capacity_at(rows, walk, at, upper=False), _capacity_at(rows, walk, at, upper=True)
        good = [exp.low <= c and (exp.high is None or c <= exp.high) for c in (lo_cap, hi_cap)]
        status = "ok" if all(good) else ("tight: only on the early timeline" if good[0] else "too short")
        return Row("expectation", f"{label}: planned {lo_cap} (early) / {hi_cap} (late)", anchor,
                   exp.offset_s, exp.offset_s, status=status)
    if isinstance(exp, ScaledByExpectation):
        found = next((r for r in rows if r.kind == "alarm" and r.policy == exp.policy and r.at_lo_s is not None
                      and r.at_lo_s >= base and (exp.to is None or r.capacity == exp.to)), None)
    elif kind in ("scale_out", "scale_from_zero"):
        to = getattr(exp, "to", 1)
        found = next((r for r in _capacity_rows(rows) if r.capacity is not None and r.capacity >= to
                      and (r.at_hi_s or 0) >= base), None)
    elif kind in ("scale_in", "scale_to_zero"):
        to = getattr(exp, "to", 0)
        found = next((r for r in _capacity_rows(rows) if r.capacity is not None and r.capacity <= to
                      and (r.at_hi_s or 0) >= base), None)
    elif kind == "backlog_drained" and walk.backlog_empty is not None:
        lag = walk.params.metric_period_s
        lo = walk.backlog_empty - base
        delays = (Delay(f"backlog empties +{_s(lo)}", lo, lo), Delay(f"≤{lag}s period", 0, lag))
        return Row("expectation", label, anchor, *_sum(delays), delays, within_s=within,
                   status=_status(exp, within, *_sum(delays)))
    else:
        return Row("expectation", label, anchor, None, None, status="not planned", within_s=within)
    if found is None:
        return Row("expectation", label, anchor, None, None, within_s=within, status="never in the plan")
    assert found.at_lo_s is not None and found.at_hi_s is not None
    lo, hi = max(0.0, found.at_lo_s - base), max(0.0, found.at_hi_s - base)
    return Row("expectation", label, anchor, lo, hi, found.delays, policy=found.policy,
               capacity=found.capacity, within_s=within, status=_status(exp, within, lo, hi))


def _status(exp: object, within: float | None, lo: float | None, hi: float | None) -> str:
    """The window's status; an ``auto`` window is derived from the run's prediction, so it fits by design."""
    if within is None and getattr(exp, "auto_window", False):
        return "auto: predicted at run start + prediction tolerances"
    return window_status(within or 0, lo, hi)


def _capacity_at(rows: list[Row], walk: _Walk, at: float, *, upper: bool) -> int:
    s = walk.profile.scaling
    cap = s.start_capacity if s.start_capacity is not None else walk.profile.endpoint.initial_instance_count
    for r in sorted(_capacity_rows(rows), key=lambda r: (r.at_hi_s if upper else r.at_lo_s) or 0):
        when = r.at_hi_s if upper else r.at_lo_s
        if when is not None and when <= at and r.capacity is not None:
            cap = r.capacity
    return cap


# --------------------------------------------------------------------------------------------------
# Entry points


def plan(profile: Profile, params: ModelParams | None = None) -> Plan:
    """The analytic plan of ``profile`` under ``params`` (default: the profile's ``local.params``)."""
    params = params or profile.local.params
    walk = _Walk(profile, params)
    walk.run()
    rows = sorted(walk.rows, key=lambda r: (r.at_lo_s or 0, r.kind != "scheduled", r.kind != "alarm"))
    result = Plan(profile.name, rows, notes=walk.notes)
    anchors = anchor_times(profile, walk.backlog_empty)
    for exp in profile.expectations:
        result.expectations.append(_expectation(exp, rows, walk, anchors))
    if profile.endpoint.is_async and walk.backlog_empty is not None:
        result.notes.append(f"backlog_empty planned at load_start+{_s(walk.backlog_empty)} (backlog drained at "
                            f"{walk.drain_rps:.3g} requests/s per instance)")
    return result


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s"


def render(result: Plan) -> str:
    """Aligned text table: events, then expectations with their windows and status."""
    head = ("WHEN (earliest..latest)", "EVENT", "DELAYS SUMMED")
    table = [(f"+{_fmt(r.at_lo_s)}..{_fmt(r.at_hi_s)}", r.what, r.why) for r in result.rows]
    lines = [f"plan for {result.profile} (times after load_start)", ""]
    lines += _align([head, *table])
    if result.expectations:
        head2 = ("EXPECTATION", "ANCHOR", "PLANNED", "WITHIN", "STATUS")
        exp_rows = [(r.what, r.anchor, f"+{_fmt(r.at_lo_s)}..{_fmt(r.at_hi_s)}" if r.at_lo_s is not None else "-",
                     _fmt(r.within_s) if r.within_s is not None else ("auto" if (r.status or "").startswith("auto")
                                                                      else "-"), r.status or "")
                    for r in result.expectations]
        lines += ["", *_align([head2, *exp_rows])]
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def _align(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def load_params(profile: Profile, path: str | None) -> ModelParams:
    """The profile's ``local.params`` with the fields of the YAML file ``path`` merged over them."""
    if path is None:
        return profile.local.params
    from harness.predict.calibrate import load_params_file

    fields = load_params_file(path)
    return ModelParams.model_validate({**profile.local.params.model_dump(), **fields})
