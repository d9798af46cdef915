"""What the report reads from a run's profile and streams besides the raw series (pure, no I/O).

* :func:`run_profile` — the run's profile, or ``None`` when ``run.json`` holds one of an older schema.
* :func:`alarm_policies` / :func:`short_alarm_name` — which policy an alarm belongs to, and a short label
  for the long managed ``TargetTracking-<ResourceId>-AlarmHigh-<uuid>`` names.
* :func:`alarm_intervals` — the state of each alarm over time, from the state changes in ``alarms.jsonl``.
* :func:`scheduled_marks` / :func:`capacity_bounds` — when each scheduled action fired (or was due) and
  the min/max capacity they leave in force.
* :func:`step_lines` — the alarm threshold and step boundaries of a step policy as labelled lines.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.profile import (
    Profile,
    ProfileError,
    ScheduledActionSpec,
    StepPolicy,
    TargetTrackingPolicy,
    parse_profile,
)
from harness.record import AlarmSample, Recorded

# The metric the predefined SageMakerVariantInvocationsPerInstance tracks.
PREDEFINED_METRIC = {"SageMakerVariantInvocationsPerInstance": "InvocationsPerInstance"}
_MANAGED_ALARM = re.compile(r"^TargetTracking-.+-(Alarm(?:High|Low))-([0-9A-Za-z-]+)$")
_CAUSE_ALARM = re.compile(r"monitor alarm (\S+) in state \S+ triggered policy (.+?)\s*$")
_CAUSE_SCHEDULED = re.compile(r"scheduled action(?: name)?\s+(\S+)", re.I)
# detail of a ``scheduled_action_put`` event: "<name> at(...)[ min N][ max M]"
_PUT_DETAIL = re.compile(r"^(?P<name>.+?) (?P<expr>(?:at|rate|cron)\([^)]*\))(?P<rest>.*)$")
_COMPARISON_SYMBOL = {"GreaterThanOrEqualToThreshold": "≥", "GreaterThanThreshold": ">",
                      "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "≤"}


def run_profile(recorded: Recorded) -> Profile | None:
    """The profile in ``run.json``; ``None`` when it does not parse (an older schema)."""
    try:
        return parse_profile(recorded.run.profile, source="run.json profile")
    except ProfileError:
        return None


def ellipsize(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``…`` when cut."""
    return text if len(text) <= width else text[:max(1, width - 1)] + "…"


def tracked_metric(policy: TargetTrackingPolicy) -> str:
    """The CloudWatch metric name a target-tracking policy watches."""
    if policy.custom_metric is not None:
        return policy.custom_metric.name
    return PREDEFINED_METRIC.get(str(policy.metric), str(policy.metric))


def comparison_symbol(comparison: str | None) -> str:
    return _COMPARISON_SYMBOL.get(comparison or "", comparison or "?")


# --- alarms ----------------------------------------------------------------------------------------

def alarm_policies(recorded: Recorded, profile: Profile | None) -> dict[str, str]:
    """Alarm name → policy name, from step policies' alarm names, activity causes ("monitor alarm X
    in state ALARM triggered policy P") and, for managed target-tracking alarms, the policy that tracks
    the alarm's metric (or the only target-tracking policy)."""
    out: dict[str, str] = {}
    policies = profile.scaling.policies if profile is not None else []
    for p in policies:
        if isinstance(p, StepPolicy):
            out[p.alarm_name] = p.name
    for a in recorded.activities:
        m = _CAUSE_ALARM.search(a.cause)
        if m:
            out.setdefault(m.group(1), m.group(2))
    tracking = [p for p in policies if isinstance(p, TargetTrackingPolicy)]
    for s in recorded.alarms:
        if s.alarm_name in out or not _MANAGED_ALARM.match(s.alarm_name):
            continue
        candidates = [p for p in tracking if s.metric is not None and tracked_metric(p) == s.metric]
        if len(candidates) != 1 and len(tracking) == 1:
            candidates = tracking
        if len(candidates) == 1:
            out[s.alarm_name] = candidates[0].name
    return out


def short_alarm_name(name: str, policy: str | None = None, width: int = 42) -> str:
    """``AlarmHigh (policy)`` for a managed target-tracking alarm (``AlarmHigh (3f6b1c2e…)`` when its
    policy is unknown); other names as they are, cut to ``width`` characters."""
    m = _MANAGED_ALARM.match(name)
    if m:
        kind, uid = m.groups()
        inner = ellipsize(policy, width - len(kind) - 3) if policy else uid[:8] + ("…" if len(uid) > 8 else "")
        return f"{kind} ({inner})"
    return ellipsize(name, width)


@dataclass(frozen=True)
class AlarmInterval:
    """One alarm in one state from ``start_ts`` to ``end_ts``; ``sample`` is the observation that told."""

    alarm_name: str
    state: str
    start_ts: float
    end_ts: float
    sample: AlarmSample


def alarm_intervals(samples: Iterable[AlarmSample], lo_ts: float, hi_ts: float) -> dict[str, list[AlarmInterval]]:
    """Per alarm (in order of first appearance), its states over ``[lo_ts, hi_ts]``.

    A state starts at the sample's ``state_updated_ts`` (when CloudWatch says it changed; else the
    sample's ``ts``), clipped to ``lo_ts`` and never after the sample itself; it lasts until the next
    change, the last one until ``hi_ts`` (the collector records changes only). Before the first sample
    the state is unknown and nothing is drawn.
    """
    by_alarm: dict[str, list[AlarmSample]] = defaultdict(list)
    for s in sorted(samples, key=lambda x: x.ts):
        by_alarm[s.alarm_name].append(s)
    out: dict[str, list[AlarmInterval]] = {}
    for name, seq in by_alarm.items():
        changes: list[tuple[float, AlarmSample]] = []
        for s in seq:
            if changes and changes[-1][1].state == s.state:
                continue  # the same state reported again
            t = s.ts if s.state_updated_ts is None else min(s.state_updated_ts, s.ts)
            t = max(t, lo_ts, changes[-1][0] if changes else lo_ts)
            changes.append((t, s))
        intervals = []
        for i, (t, s) in enumerate(changes):
            end = changes[i + 1][0] if i + 1 < len(changes) else max(hi_ts, t)
            if end > t or i + 1 == len(changes):
                intervals.append(AlarmInterval(name, s.state, t, end, s))
        out[name] = intervals
    return out


# --- scheduled actions -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduledMark:
    """A scheduled action at the time it fired (or was due): ``how`` says what the time comes from."""

    name: str
    ts: float
    min_capacity: int | None
    max_capacity: int | None
    how: str

    @property
    def bounds_text(self) -> str:
        parts = []
        if self.min_capacity is not None:
            parts.append(f"min {self.min_capacity}")
        if self.max_capacity is not None:
            parts.append(f"max {self.max_capacity}")
        return " / ".join(parts) or "bounds unknown"


def _relative_ts(recorded: Recorded, action: ScheduledActionSpec) -> float | None:
    run = recorded.run
    anchor = action.anchor
    base: float | None
    if anchor == "load_start":
        base = run.load_start_ts
    elif anchor == "load_end":
        base = run.load_end_ts
    else:
        base = next((s.start_ts for s in run.stages if s.name == anchor.removeprefix("stage:")), None)
    return None if base is None else base + action.offset_s


def _fire_times(expr: str, timezone: str | None, start: float | None, end: float | None,
                lo_ts: float, hi_ts: float, anchor_ts: float, limit: int = 50) -> list[float]:
    from harness.autoscaling.schedule import next_fire_ts  # the model's own reading of AWS's expressions

    out: list[float] = []
    t = lo_ts - 1e-6
    try:
        while len(out) < limit:
            nxt = next_fire_ts(expr, t, start, end, timezone or "UTC", anchor_ts=anchor_ts)
            if nxt is None or nxt > hi_ts:
                break
            out.append(nxt)
            t = nxt
    except ValueError:
        return []
    return out


def scheduled_marks(recorded: Recorded, profile: Profile | None, lo_ts: float, hi_ts: float) -> list[ScheduledMark]:
    """When each scheduled action of the profile fired within ``[lo_ts, hi_ts]``, in time order.

    The time is the ``at(...)`` the run put (``scheduled_action_put`` event, detail ``"name at(...) min N"``),
    else the profile's ``at`` relative to the run, else its ``schedule`` expression; when a scaling
    activity names the action in its cause, the activity's start is the time. Actions not in the
    profile but put by the run or named by an activity are marked too (bounds from the put event's
    detail, else unknown).
    """
    actions = {a.name: a for a in (profile.scaling.scheduled_actions if profile is not None else [])}
    put: dict[str, tuple[float, str, int | None, int | None]] = {}
    for e in recorded.events:
        m = _PUT_DETAIL.match(e.detail.strip()) if e.kind == "scheduled_action_put" else None
        if m:
            low, high = (re.search(rf"\b{k} (\d+)", m["rest"]) for k in ("min", "max"))
            put[m["name"]] = (e.ts, m["expr"], int(low[1]) if low else None, int(high[1]) if high else None)
    fired: dict[str, list[float]] = defaultdict(list)
    for a in recorded.activities:
        m = _CAUSE_SCHEDULED.search(a.cause)
        if m:
            fired[m.group(1)].append(a.start_ts)
    marks: list[ScheduledMark] = []
    for name, action in actions.items():
        times: list[float] = []
        how = ""
        tz = action.timezone
        if name in put:  # a relative `at`, put in UTC once the load had started
            put_ts, expr, _, _ = put[name]
            times, how = _fire_times(expr, "UTC", None, None, lo_ts, hi_ts, put_ts), f"put as {expr}"
        if not times and action.at is not None:
            t = _relative_ts(recorded, action)
            if t is not None and lo_ts <= t <= hi_ts:
                times, how = [t], f"due at {action.at}"
        if not times and action.schedule is not None:
            start = action.start_time.timestamp() if action.start_time is not None else None
            end = action.end_time.timestamp() if action.end_time is not None else None
            times = _fire_times(action.schedule, tz, start, end, lo_ts, hi_ts, recorded.run.started_ts)
            how = f"due by {action.schedule}"
        if fired.get(name):
            times, how = fired[name], "fired (scaling activity)"
        marks += [ScheduledMark(name, t, action.min_capacity, action.max_capacity, how) for t in times]
    for name, (put_ts, expr, low, high) in put.items():
        if name not in actions and name not in fired:
            marks += [ScheduledMark(name, t, low, high, f"put as {expr}")
                      for t in _fire_times(expr, "UTC", None, None, lo_ts, hi_ts, put_ts)]
    for name, times in fired.items():
        if name not in actions:
            low, high = put[name][2:] if name in put else (None, None)
            marks += [ScheduledMark(name, t, low, high, "fired (scaling activity)") for t in times]
    return sorted(marks, key=lambda m: (m.ts, m.name))


def capacity_bounds(profile: Profile, marks: Sequence[ScheduledMark], lo_ts: float
                    ) -> tuple[list[tuple[float, int]], list[tuple[float, int]]]:
    """The min and max capacity in force over time as ``(ts, value)`` steps starting at ``lo_ts``."""
    lows, highs = [(lo_ts, profile.scaling.min_capacity)], [(lo_ts, profile.scaling.max_capacity)]
    for m in marks:
        for seq, value in ((lows, m.min_capacity), (highs, m.max_capacity)):
            if value is None:
                continue
            t = max(m.ts, lo_ts)
            if seq[-1][0] == t:
                seq[-1] = (t, value)
            elif seq[-1][1] != value:
                seq.append((t, value))
    return lows, highs


# --- step policies ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepLine:
    """A horizontal line of a step policy: ``kind`` is ``threshold`` or ``step``; ``above`` puts the
    label above the line (steps over the threshold) or below it."""

    policy: str
    kind: str
    y: float
    label: str
    above: bool


def adjustment_text(policy: StepPolicy, adjustment: int) -> str:
    sign = "+" if adjustment > 0 else "−" if adjustment < 0 else "±"
    n = abs(adjustment)
    if policy.adjustment_type == "PercentChangeInCapacity":
        return f"{sign}{n} %"
    if policy.adjustment_type == "ExactCapacity":
        return f"set {adjustment} instance{'s' if adjustment != 1 else ''}"
    return f"{sign}{n} instance{'s' if n != 1 else ''}"


def step_lines(policy: StepPolicy) -> list[StepLine]:
    """The alarm threshold and every finite step boundary (threshold + bound) of ``policy``.

    Each step is labelled at the edge nearest the threshold (its lower bound above the threshold, its
    upper bound below): "+2 instances at ≥ 35", so steps that grow with the breach read bottom-up.
    """
    alarm = policy.alarm
    t = alarm.threshold
    label_at: dict[float, list[str]] = defaultdict(list)
    above_at: dict[float, bool] = {}
    name = ellipsize(policy.name, 24)
    label_at[t].append(f"{name}: alarm {comparison_symbol(alarm.comparison)} {t:g}")
    above_at[t] = not alarm.comparison.startswith("Less")
    bounds: set[float] = set()
    for s in policy.steps:
        for b in (s.lower, s.upper):
            if b is not None:
                bounds.add(t + b)
        above = s.lower is not None and (s.lower >= 0 or s.upper is None)
        entry = t + (s.lower if above else (s.upper if s.upper is not None else s.lower or 0.0))
        adj = adjustment_text(policy, s.adjustment)
        if entry == t:
            label_at[t].append(adj)
        else:
            label_at[entry].append(f"{adj} at {'≥' if above else '≤'} {entry:g}")
            above_at.setdefault(entry, above)
    lines = [StepLine(policy.name, "threshold", t, " · ".join(label_at[t]), above_at[t])]
    for y in sorted(bounds - {t}):
        text = " · ".join(label_at.get(y, [])) or f"end of steps ({name})"
        lines.append(StepLine(policy.name, "step", y, text, above_at.get(y, y > t)))
    return lines
