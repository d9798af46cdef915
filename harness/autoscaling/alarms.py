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

from collections.abc import Sequence
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
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    present = len(points)
    missing = max(0, n - present)
    breaching = sum(1 for _, v in points if breaches(v, alarm.comparison, alarm.threshold))
    if alarm.treat_missing == "breaching":
        breaching += missing
    not_breaching = present - sum(1 for _, v in points if breaches(v, alarm.comparison, alarm.threshold))
    if alarm.treat_missing == "notBreaching":
        not_breaching += missing
    shown = ", ".join(f"{v:g}" for _, v in points) or "none"
    if breaching >= m:
        return "ALARM", (f"Threshold Crossed: {breaching} out of the last {n} datapoints [{shown}] were "
                         f"{_words(alarm.comparison)} the threshold ({alarm.threshold:g}).")
    if not_breaching > n - m:
        return "OK", (f"Threshold Crossed: {not_breaching} out of the last {n} datapoints [{shown}] were not "
                      f"{_words(alarm.comparison)} the threshold ({alarm.threshold:g}).")
    if present == 0 and alarm.treat_missing == "missing":
        return "INSUFFICIENT_DATA", f"Insufficient Data: no datapoints in the last {n} periods."
    return alarm.state, alarm.state_reason


def _words(comparison: Comparison) -> str:
    return {
        "GreaterThanThreshold": "greater than",
        "GreaterThanOrEqualToThreshold": "greater than or equal to",
        "LessThanThreshold": "less than",
        "LessThanOrEqualToThreshold": "less than or equal to",
    }[comparison]
