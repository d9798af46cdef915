"""``scaled_by``: which policy's scaling activity set the capacity (rules in :mod:`harness.checks`)."""

from __future__ import annotations

import re
from typing import Any

from harness.checks.anchors import trigger_or_outcome
from harness.checks.common import Bounds, Outcome, instances, observed_until, verdict
from harness.profile import Profile, ScaledByExpectation
from harness.profile.durations import format_span
from harness.record import Activity, Recorded, VerdictStatus

# Application Auto Scaling's Cause for a policy-driven activity (aws-semantics §4); the policy name
# is the rest of the text, so a policy named "P" never matches "... triggered policy XP".
POLICY_CAUSE = re.compile(r"monitor alarm (?P<alarm>.+) in state ALARM triggered policy (?P<policy>.+)")
DESIRED = re.compile(r"Setting desired instance count to (?P<n>\d+)\.")
NOT_SCALED = frozenset({"Failed", "Unfulfilled"})  # the activity did not set the capacity
# Polls of DescribeEndpoint and DescribeScalingActivities alternate on one beat (describe_interval_s):
# a DescribeEndpoint sample one beat after a moment proves that an activities poll ran after it and
# completed; one more beat allows for the activity showing up in DescribeScalingActivities.
ACTIVITY_POLL_BEATS = 2


def policy_of(a: Activity) -> str | None:
    """The policy whose alarm caused the activity; ``None`` for other causes (scheduled actions, ...)."""
    m = POLICY_CAUSE.fullmatch(a.cause.strip())
    return m["policy"] if m else None


def desired_of(a: Activity) -> int | None:
    """The capacity the activity set, from its Description."""
    m = DESIRED.search(a.description)
    return int(m["n"]) if m else None


def _by(a: Activity) -> str:
    policy = policy_of(a)
    return f"policy {policy}" if policy is not None else f"an activity caused by {a.cause.strip()!r}"


def check_scaled_by(exp: ScaledByExpectation, recorded: Recorded, profile: Profile, final: bool) -> Outcome:
    details: dict[str, Any] = {"policy": exp.policy, "to": exp.to, "within_s": exp.within_s, "after": exp.after,
                               "observed_until_ts": observed_until(recorded)}
    if exp.to is not None:
        b = Bounds.of(profile)
        impossible = (b.above(exp.to, f"set {instances(exp.to)}") or b.below(exp.to, f"set {instances(exp.to)}"))
        if impossible:
            return Outcome(verdict(exp, "FAIL", impossible, details=details))
    trigger = trigger_or_outcome(exp, exp.after, recorded, profile, final, details)
    if isinstance(trigger, Outcome):
        return trigger
    end = trigger + exp.within_s
    settle = end + ACTIVITY_POLL_BEATS * profile.collector.describe_interval_s
    window = f"within {format_span(exp.within_s)} after {exp.after}"

    def at(ts: float) -> str:
        return f"{format_span(ts - trigger)} after {exp.after}"

    def out(status: VerdictStatus, summary: str, observed_ts: float | None = None, pending: bool = False) -> Outcome:
        v = verdict(exp, status, summary, trigger_ts=trigger, observed_ts=observed_ts, window_start_ts=trigger,
                    window_end_ts=end, details=details)
        return Outcome(v, pending, settle if pending else None)

    in_window = [a for a in recorded.activities if trigger <= a.start_ts <= end]
    mine = [a for a in in_window if policy_of(a) == exp.policy]
    scaled = [a for a in mine if a.status_code not in NOT_SCALED]
    details["activities"] = [{"activity_id": a.activity_id, "start_ts": a.start_ts, "policy": policy_of(a),
                              "desired": desired_of(a), "status_code": a.status_code} for a in in_window]
    match = next((a for a in scaled if exp.to is None or desired_of(a) == exp.to), None)
    if match is not None:
        details["activity_id"] = match.activity_id
        n = desired_of(match)
        did = f"set {instances(n)}" if n is not None else "started a scaling activity"
        return out("PASS", f"policy {exp.policy} {did} {at(match.start_ts)} (window {format_span(exp.within_s)})",
                   match.start_ts)

    sets = [f"{instances(n)} {at(a.start_ts)}" if (n := desired_of(a)) is not None else f"? {at(a.start_ts)}"
            for a in scaled]
    if exp.to is None:
        head = f"no scaling activity triggered by policy {exp.policy} {window}"
    elif scaled:
        head = f"policy {exp.policy} did not set {instances(exp.to)} {window}: it set {', '.join(sets)}"
    else:
        head = f"no scaling activity of policy {exp.policy} set {instances(exp.to)} {window}"
    seen = observed_until(recorded)
    if not final and (seen is None or seen < settle):
        so_far = f"; so far it set {', '.join(sets)}" if sets else ""
        return out("INCONCLUSIVE", f"waiting for a scaling activity of policy {exp.policy} until {at(end)}{so_far}",
                   pending=True)
    if seen is None:
        return out("INCONCLUSIVE", "no DescribeEndpoint sample: nothing shows the scaling activities were polled")
    if seen < end:
        return out("INCONCLUSIVE", f"scaling activities observed only up to {at(seen)}, before the window end "
                                   f"(window {format_span(exp.within_s)})")
    notes = [f"its activity {at(a.start_ts)} did not scale ({a.status_code}"
             + (f": {a.status_message}" if a.status_message else "") + ")" for a in mine if a not in scaled]
    others = [a for a in in_window if a not in mine and a.status_code not in NOT_SCALED]
    if exp.to is not None:
        instead = next((a for a in others if desired_of(a) == exp.to), None)
        if instead is not None:
            details["instead_activity_id"] = instead.activity_id
            notes.append(f"capacity {exp.to} was set by {_by(instead)} instead, {at(instead.start_ts)}")
    elif others:
        notes.append("the window saw activities of " + ", ".join(dict.fromkeys(_by(a) for a in others)))
    return out("FAIL", head + "".join(f"; {n}" for n in notes))
