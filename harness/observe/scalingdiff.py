"""What differs between two scaling states, in words: what ``setup`` would change (``--dry-run``), what a
restore changes, and what someone changed since a run last set the target.

Contract: pure functions of :class:`~harness.observe.scalingstate.ScalingState` records (no client, no
clock). :func:`diff_states` lists the :class:`Change` s that take one state to another — the target's
Min/Max/SuspendedState, each policy (type and full configuration), each alarm (every PutMetricAlarm
field), each scheduled action — and ignores what AWS assigns (ARNs, creation times, the names of
target-tracking managed alarms); an alarm action naming a scaling policy is compared by the policy's
resource and name, since AWS gives a re-created policy a new ARN. :func:`drift` is the same, less what a
run's own scheduled actions explain (they move Min/Max when they fire; a one-time ``at()`` action may be
gone once it ran). :func:`dry_run_lines` is what ``scalecheck setup --dry-run`` prints.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from harness.observe.scalingstate import AlarmState, PolicyState, ScalingState, ScheduledActionState
from harness.profile import Profile
from harness.profile.aws_requests import describe_action

Op = Literal["create", "change", "remove", "unchanged"]
_POLICY_ARN = re.compile(r"^arn:aws[\w-]*:autoscaling:[^:]*:[^:]*:scalingPolicy:[^:]*:resource/(.+):policyName/(.+)$")
_COMPARE = {"GreaterThanOrEqualToThreshold": ">=", "GreaterThanThreshold": ">", "LessThanThreshold": "<",
            "LessThanOrEqualToThreshold": "<="}


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` target / policy / alarm / scheduled action, its ``name``, what happens to it."""

    kind: str
    name: str
    op: Op
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.op}" + (f" ({self.detail})" if self.detail else "")


def policy_ref(value: Any) -> Any:
    """A scaling-policy ARN as ``scaling-policy:<resource>/<name>`` (stable when AWS re-creates the
    policy); anything else unchanged."""
    if isinstance(value, str) and (m := _POLICY_ARN.match(value)):
        return f"scaling-policy:{m.group(1)}:{m.group(2)}"
    return value


def canon(value: Any, *, refs: bool = True) -> Any:
    """A comparable form: dict keys sorted, empty values dropped, numbers as floats, Name/Value lists
    sorted by Name; with ``refs`` scaling-policy ARNs as :func:`policy_ref` (without: ARNs as they are)."""
    if isinstance(value, dict):
        return {k: canon(v, refs=refs) for k, v in sorted(value.items()) if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        items = [canon(v, refs=refs) for v in value]
        if items and all(isinstance(v, dict) and "Name" in v for v in items):
            items.sort(key=lambda v: str(v["Name"]))
        return items
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return policy_ref(value) if refs else value


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix or "value": value}


def _fmt(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, float):
        return f"{value:.12g}"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _field_changes(before: Any, after: Any) -> str:
    a, b = _flat(canon(before)), _flat(canon(after))
    return ", ".join(f"{k} {_fmt(a.get(k))} → {_fmt(b.get(k))}" for k in sorted(set(a) | set(b))
                     if a.get(k) != b.get(k))


def policy_summary(p: PolicyState) -> str:
    cfg = p.configuration
    if p.policy_type == "TargetTrackingScaling":
        metric = ((cfg.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
                  or (cfg.get("CustomizedMetricSpecification") or {}).get("MetricName") or "?")
        return f"target tracking on {metric}, target {_fmt(float(cfg.get('TargetValue', 0)))}"
    if p.policy_type == "StepScaling":
        alarms = f", alarm {', '.join(p.alarm_names)}" if p.alarm_names else ""
        return (f"step scaling {cfg.get('AdjustmentType', '?')}, {len(cfg.get('StepAdjustments') or [])} step(s), "
                f"cooldown {cfg.get('Cooldown', 300)}s{alarms}")
    return p.policy_type


def alarm_summary(a: AlarmState) -> str:
    d = a.definition
    cmp = _COMPARE.get(str(d.get("ComparisonOperator")), d.get("ComparisonOperator"))
    owner = ", put by scalecheck" if a.own else ""
    return f"{d.get('Namespace')}/{d.get('MetricName')} {d.get('Statistic')} {cmp} {_fmt(d.get('Threshold'))}{owner}"


def action_summary(a: ScheduledActionState) -> str:
    tz = f" [{a.timezone}]" if a.timezone not in (None, "UTC") else ""
    bounds = " ".join(f"{k} {v}" for k, v in (("min", a.min_capacity), ("max", a.max_capacity)) if v is not None)
    return f"{a.schedule}{tz} {bounds}"


def _action_key(a: ScheduledActionState) -> dict[str, Any]:
    return {"Schedule": a.schedule, "Timezone": a.timezone or "UTC", "StartTime": a.start_time,
            "EndTime": a.end_time, "MinCapacity": a.min_capacity, "MaxCapacity": a.max_capacity}


def _target_key(state: ScalingState) -> dict[str, Any] | None:
    t = state.target
    return None if t is None else {"MinCapacity": t.min_capacity, "MaxCapacity": t.max_capacity,
                                   "SuspendedState": t.suspended_state}


def _bounds(state: ScalingState) -> str:
    t = state.target
    return "" if t is None else f"min {t.min_capacity} max {t.max_capacity}"


def _items(kind: str, current: dict[str, Any], wanted: dict[str, Any], key: Any, summary: Any,
           unchanged: bool) -> list[Change]:
    out: list[Change] = []
    for name, item in current.items():
        if name not in wanted:
            out.append(Change(kind, name, "remove", summary(item)))
        elif canon(key(item)) != canon(key(wanted[name])):
            out.append(Change(kind, name, "change", _field_changes(key(item), key(wanted[name]))))
        elif unchanged:
            out.append(Change(kind, name, "unchanged", summary(item)))
    out += [Change(kind, name, "create", summary(item)) for name, item in wanted.items() if name not in current]
    return out


def diff_states(current: ScalingState, wanted: ScalingState, *, unchanged: bool = False) -> list[Change]:
    """The changes that take ``current`` to ``wanted`` (target, policies, alarms, scheduled actions, in that
    order); with ``unchanged`` also one ``unchanged`` entry for everything that stays as it is."""
    out: list[Change] = []
    rid = current.resource_id
    before, after = _target_key(current), _target_key(wanted)
    if before is None and after is not None:
        out.append(Change("target", rid, "create", _bounds(wanted)))
    elif before is not None and after is None:
        out.append(Change("target", rid, "remove", f"deregister ({_bounds(current)}; AWS deletes its policies "
                                                   "and scheduled actions with it)"))
    elif before is not None and after is not None and canon(before) != canon(after):
        out.append(Change("target", rid, "change", _field_changes(before, after)))
    elif before is not None and unchanged:
        out.append(Change("target", rid, "unchanged", _bounds(current)))

    def policy_key(p: PolicyState) -> dict[str, Any]:
        return {"PolicyType": p.policy_type, "Configuration": p.configuration}

    out += _items("policy", {p.name: p for p in current.policies}, {p.name: p for p in wanted.policies},
                  policy_key, policy_summary, unchanged)
    out += _items("alarm", {a.name: a for a in current.alarms}, {a.name: a for a in wanted.alarms},
                  lambda a: a.definition, alarm_summary, unchanged)
    out += _items("scheduled action", {a.name: a for a in current.scheduled_actions},
                  {a.name: a for a in wanted.scheduled_actions}, _action_key, action_summary, unchanged)
    return out


def drift(last_set: ScalingState, current: ScalingState) -> list[Change]:
    """What changed since a run last set the target (``last_set``) and that the run's own scheduled
    actions do not explain: a Min or Max one of them sets, a one-time ``at()`` action gone after it ran."""
    mins = {a.min_capacity for a in last_set.scheduled_actions if a.min_capacity is not None}
    maxes = {a.max_capacity for a in last_set.scheduled_actions if a.max_capacity is not None}
    out = []
    for change in diff_states(last_set, current):
        if change.kind == "target" and change.op == "change" and last_set.target and current.target:
            was, now = last_set.target, current.target
            if (now.suspended_state == was.suspended_state and now.min_capacity in mins | {was.min_capacity}
                    and now.max_capacity in maxes | {was.max_capacity}):
                continue
        if change.kind == "scheduled action" and change.op == "remove":
            gone = last_set.action(change.name)
            if gone is not None and gone.schedule.startswith("at("):
                continue
        out.append(change)
    return out


def dry_run_lines(profile: Profile, current: ScalingState, planned: ScalingState, *,
                  endpoint_exists: bool) -> list[str]:
    """What ``scalecheck setup PROFILE`` would do to the account, one line each (nothing is changed)."""
    ep = profile.endpoint
    if endpoint_exists:
        lines = [f"endpoint {ep.name}: exists, used as it is"]
    elif ep.create is False:
        lines = [f"endpoint {ep.name}: does not exist, and endpoint.create is false: setup would stop here"]
    else:
        lines = [f"endpoint {ep.name}: create ({ep.initial_instance_count} x {ep.instance_type}, image {ep.image}; "
                 "against AWS only with --allow-create or endpoint.create: true)"]
    if not profile.scaling.applies:
        return lines + ["scaling.apply is false: the scalable target, policies, alarms and scheduled actions "
                        "are left as they are"]
    lines += [str(c) for c in diff_states(current, planned, unchanged=True)]
    lines += [f"scheduled action {a.name}: put when a run's load starts ({describe_action(a)})"
              for a in profile.scaling.scheduled_actions if a.at is not None]
    if profile.scaling.start_capacity is not None:
        lines.append(f"start capacity: {ep.name}/{ep.variant} set to {profile.scaling.start_capacity} instance(s)")
    return lines
