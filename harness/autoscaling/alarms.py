"""CloudWatch metric alarms: M-of-N evaluation over visible datapoints, with TreatMissingData.

An alarm evaluates once per period over its last ``evaluation_periods`` visible periods:
- ALARM when at least ``datapoints_to_alarm`` of them breach;
- OK when so many do not breach that ALARM is out of reach;
- otherwise the state is kept, and with no datapoints at all (TreatMissingData ``missing``) it is
  INSUFFICIENT_DATA — no scaling happens without data (aws-semantics §1 "Missing data").
Actions of an alarm in ALARM run at every evaluation, not only on the transition: Auto Scaling
actions repeat once per minute while the alarm stays in ALARM (aws-semantics §1, S19).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from harness.autoscaling.metrics import MetricKey

AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
Comparison = Literal[
    "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
]
TreatMissing = Literal["missing", "breaching", "notBreaching", "ignore"]


def breaches(value: float, comparison: Comparison, threshold: float) -> bool:
    """Whether one datapoint is on the alarm side of ``threshold``."""
    if comparison == "GreaterThanThreshold":
        return value > threshold
    if comparison == "GreaterThanOrEqualToThreshold":
        return value >= threshold
    if comparison == "LessThanThreshold":
        return value < threshold
    if comparison == "LessThanOrEqualToThreshold":
        return value <= threshold
    raise ValueError(f"unknown ComparisonOperator {comparison!r}")


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass
class Alarm:
    """One alarm: its definition (as PutMetricAlarm takes it) and its current state."""

    name: str
    arn: str
    metric: MetricKey
    statistic: str
    period_s: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: Comparison
    treat_missing: TreatMissing = "missing"
    actions: list[str] = field(default_factory=list)
    description: str = ""
    unit: str | None = None
    state: AlarmState = "INSUFFICIENT_DATA"
    state_reason: str = "Unchecked: Initial alarm creation"
    state_updated_ts: float = 0.0
    last_value: float | None = None
    last_value_ts: int | None = None
    created_ts: float = 0.0
    last_points: list[float] = field(default_factory=list)  # values of the last evaluation, oldest first
    last_eval_ts: float | None = None
    managed: bool = False  # created by a target-tracking policy (not by PutMetricAlarm)


def next_state(alarm: Alarm, points: Sequence[tuple[int, float]]) -> tuple[AlarmState, str]:
    """The state after evaluating ``points`` (the datapoints present among the last N periods)."""
    state, reason = evaluate(alarm, points)
    return state, reason()


def evaluate(alarm: Alarm, points: Sequence[tuple[int, float]]) -> tuple[AlarmState, Callable[[], str]]:
    """:func:`next_state` with the reason left to compute: only a change of state records it."""
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    present = len(points)
    missing = max(0, n - present)
    comparison, threshold = alarm.comparison, alarm.threshold
    op = _OPERATORS.get(comparison)
    if op is None:  # breaches() refuses it (when there is a point to compare)
        breached = sum(1 for _, v in points if breaches(v, comparison, threshold))
    else:
        breached = sum(1 for _, v in points if op(v, threshold))
    breaching = breached + missing if alarm.treat_missing == "breaching" else breached
    not_breaching = present - breached
    if alarm.treat_missing == "notBreaching":
        not_breaching += missing

    def shown() -> str:
        return ", ".join(f"{v:g}" for _, v in points) or "none"

    if breaching >= m:
        return "ALARM", lambda: (f"Threshold Crossed: {breaching} out of the last {n} datapoints [{shown()}] were "
                                 f"{_words(comparison)} the threshold ({threshold:g}).")
    if not_breaching > n - m:
        return "OK", lambda: (f"Threshold Crossed: {not_breaching} out of the last {n} datapoints [{shown()}] were "
                              f"not {_words(comparison)} the threshold ({threshold:g}).")
    if present == 0 and alarm.treat_missing == "missing":
        return "INSUFFICIENT_DATA", lambda: f"Insufficient Data: no datapoints in the last {n} periods."
    state, reason = alarm.state, alarm.state_reason
    return state, lambda: reason


def _words(comparison: Comparison) -> str:
    return {
        "GreaterThanThreshold": "greater than",
        "GreaterThanOrEqualToThreshold": "greater than or equal to",
        "LessThanThreshold": "less than",
        "LessThanOrEqualToThreshold": "less than or equal to",
    }[comparison]
