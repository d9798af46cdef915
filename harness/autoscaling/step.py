"""Step scaling: the configuration, its validation, and the decision when the policy's alarm acts.

All functions are pure; ``now`` and capacities are arguments. Rules and their sources
(``docs/aws-semantics.md`` §2, §4):

- S1 bounds are offsets from the alarm threshold; above it the lower bound is inclusive and the upper
  exclusive, below it the lower is exclusive and the upper inclusive; null is ±∞ [S3, S8].
- S2 validation: 1..20 steps [S7], no overlap, no gap, at most one null lower and one null upper bound,
  no step with both null [S3, S8]; ExactCapacity non-negative; MinAdjustmentMagnitude only with
  PercentChangeInCapacity [S8].
- S3 PercentChangeInCapacity rounding: >1 rounds down, (0, 1] → 1, [-1, 0) → -1, < -1 toward zero;
  MinAdjustmentMagnitude is a floor on the magnitude [S3].
- S4 cooldown (default 300 s): a scale-out in it adds only what exceeds the capacity already added
  in it; scale-in is blocked in it; a scale-out in it proceeds [S3].
- S5 MetricAggregationType (Average default, Minimum, Maximum) over the alarm's evaluated datapoints [S3, S8].
- S6 DynamicScalingIn/OutSuspended block the policy's scale-in/scale-out [S6].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.autoscaling.entities import WorldError
from harness.autoscaling.policy import Decision

AdjustmentType = Literal["ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity"]
Aggregation = Literal["Average", "Minimum", "Maximum"]
MAX_STEPS = 20  # aws-semantics §2 [S7]


@dataclass(frozen=True)
class StepAdjustment:
    """One step: ``lower``/``upper`` offsets from the threshold (None = -inf/+inf) and its adjustment."""

    lower: float | None
    upper: float | None
    adjustment: int


@dataclass(frozen=True)
class StepConfig:
    """A parsed StepScalingPolicyConfiguration."""

    adjustment_type: AdjustmentType
    steps: tuple[StepAdjustment, ...]
    cooldown_s: float = 300.0
    aggregation: Aggregation = "Average"
    min_adjustment_magnitude: int | None = None


@dataclass
class StepCooldown:
    """Cooldown of one step policy: until when, and the capacity its scale-outs added in it."""

    until: float = -math.inf
    added: int = 0


def _invalid(message: str) -> WorldError:
    return WorldError("ValidationException", message)


def parse_step_config(cfg: dict[str, Any]) -> StepConfig:
    """S2: StepScalingPolicyConfiguration (botocore shape) → StepConfig, or a ValidationException."""
    kind = cfg.get("AdjustmentType")
    if kind not in ("ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity"):
        raise _invalid(f"AdjustmentType must be ChangeInCapacity, PercentChangeInCapacity or ExactCapacity; "
                       f"got {kind!r}")
    raw = cfg.get("StepAdjustments") or []
    steps = tuple(StepAdjustment(
        None if s.get("MetricIntervalLowerBound") is None else float(s["MetricIntervalLowerBound"]),
        None if s.get("MetricIntervalUpperBound") is None else float(s["MetricIntervalUpperBound"]),
        int(s["ScalingAdjustment"])) for s in raw)
    validate_steps(steps)
    if kind == "ExactCapacity" and any(s.adjustment < 0 for s in steps):
        raise _invalid("ScalingAdjustment must be non-negative when AdjustmentType is ExactCapacity")
    magnitude = cfg.get("MinAdjustmentMagnitude")
    if magnitude is not None and kind != "PercentChangeInCapacity":
        raise _invalid("MinAdjustmentMagnitude is only supported with AdjustmentType PercentChangeInCapacity")
    aggregation = cfg.get("MetricAggregationType") or "Average"
    if aggregation not in ("Average", "Minimum", "Maximum"):
        raise _invalid(f"MetricAggregationType must be Average, Minimum or Maximum; got {aggregation!r}")
    cooldown = cfg.get("Cooldown")
    return StepConfig(adjustment_type=kind, steps=steps, aggregation=aggregation,
                      cooldown_s=300.0 if cooldown is None else float(cooldown),
                      min_adjustment_magnitude=None if magnitude is None else int(magnitude))


def validate_steps(steps: Sequence[StepAdjustment]) -> None:
    """S2: raise a ValidationException unless ``steps`` tile their range without overlap or gap."""
    if not 1 <= len(steps) <= MAX_STEPS:
        raise _invalid(f"StepAdjustments must have between 1 and {MAX_STEPS} steps; got {len(steps)}")
    if sum(s.lower is None for s in steps) > 1:
        raise _invalid("Only one step adjustment may have an unspecified (null) MetricIntervalLowerBound")
    if sum(s.upper is None for s in steps) > 1:
        raise _invalid("Only one step adjustment may have an unspecified (null) MetricIntervalUpperBound")
    for s in steps:
        if s.lower is None and s.upper is None:
            raise _invalid("A step adjustment cannot have both bounds null")
        if s.lower is not None and s.upper is not None and s.lower >= s.upper:
            raise _invalid(f"MetricIntervalLowerBound {s.lower:g} must be less than MetricIntervalUpperBound "
                           f"{s.upper:g}")
    ordered = sorted(steps, key=lambda s: -math.inf if s.lower is None else s.lower)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.upper is None or b.lower is None or a.upper > b.lower:
            raise _invalid("Step adjustments must not overlap")
        if a.upper < b.lower:
            raise _invalid(f"Step adjustments must not have gaps: nothing covers {a.upper:g} to {b.lower:g}")


def find_step(steps: Sequence[StepAdjustment], offset: float) -> StepAdjustment | None:
    """S1: the step containing ``offset`` = aggregated metric - threshold, or None."""
    lo_inf, hi_inf = -math.inf, math.inf
    for s in steps:
        lower = lo_inf if s.lower is None else s.lower
        upper = hi_inf if s.upper is None else s.upper
        if offset >= 0 and lower <= offset < upper:
            return s
        if offset < 0 and lower < offset <= upper:
            return s
    return None


def aggregate(values: Sequence[float], kind: Aggregation) -> float:
    """S5: the metric value the steps are matched against."""
    if not values:
        raise ValueError("no datapoints to aggregate")
    if kind == "Minimum":
        return min(values)
    if kind == "Maximum":
        return max(values)
    return sum(values) / len(values)


def percent_change(capacity: int, percent: int, min_magnitude: int | None = None) -> int:
    """S3: the instance change ``percent`` % of ``capacity`` makes, rounded as AWS rounds it."""
    raw = capacity * percent / 100
    if raw > 1:
        change = math.floor(raw)
    elif raw > 0:
        change = 1
    elif raw >= -1:
        change = -1 if raw < 0 else 0
    else:
        change = math.ceil(raw)
    if min_magnitude is not None and change != 0 and abs(change) < min_magnitude:
        change = min_magnitude if change > 0 else -min_magnitude
    return change


def raw_capacity(config: StepConfig, step: StepAdjustment, desired: int) -> int:
    """The capacity ``step`` asks for from ``desired``, before clamping."""
    if config.adjustment_type == "ExactCapacity":
        return step.adjustment
    if config.adjustment_type == "PercentChangeInCapacity":
        return desired + percent_change(desired, step.adjustment, config.min_adjustment_magnitude)
    return desired + step.adjustment


def decide_step(*, now: float, config: StepConfig, cooldown: StepCooldown, desired: int, min_c: int,
                max_c: int, values: Sequence[float], threshold: float, in_suspended: bool = False,
                out_suspended: bool = False) -> Decision:
    """S1, S3-S6: the decision when the alarm of a step policy acts over datapoints ``values``."""
    if not values:
        return Decision("none", desired, "NoDatapoints")
    step = find_step(config.steps, aggregate(values, config.aggregation) - threshold)
    if step is None:
        return Decision("none", desired, "NoStepAdjustmentMatched")
    raw = raw_capacity(config, step, desired)
    in_cooldown = now < cooldown.until
    if raw > desired:
        if out_suspended:
            return Decision("none", desired, "DynamicScalingOutSuspended")
        change = raw - desired
        if in_cooldown and config.adjustment_type != "ExactCapacity":
            change -= cooldown.added  # S4: "+2 done, +3 step fires, only +1 added"
        new = max(min_c, min(max_c, desired + change))
        if new > desired:
            return Decision("scale_out", new)
        if desired >= max_c:
            return Decision("none", desired, "AlreadyAtMaxCapacity")
        return Decision("none", desired, "ScaleOutCooldown")
    if raw < desired:
        if in_suspended:
            return Decision("none", desired, "DynamicScalingInSuspended")
        if in_cooldown:
            return Decision("none", desired, "ScaleInCooldown")
        new = max(min_c, min(max_c, raw))
        if new < desired:
            return Decision("scale_in", new)
        return Decision("none", desired, "AlreadyAtMinCapacity")
    return Decision("none", desired, "AlreadyAtDesiredCapacity")


def start_step_cooldown(cooldown: StepCooldown, decision: Decision, *, now: float, desired_before: int,
                        cooldown_s: float) -> None:
    """S4: start (or extend) the cooldown after ``decision`` changed the capacity from ``desired_before``."""
    if decision.action == "scale_out":
        if now >= cooldown.until:
            cooldown.added = 0
        cooldown.added += decision.new_capacity - desired_before
        cooldown.until = now + cooldown_s
    elif decision.action == "scale_in":
        cooldown.added = 0
        cooldown.until = now + cooldown_s


@dataclass
class StepPolicy:
    """A step scaling policy; the alarms that invoke it are the user's own (it manages none)."""

    arn: str
    name: str
    namespace: str
    resource_id: str
    dimension: str
    config: StepConfig
    configuration: dict[str, Any]
    created_ts: float
    cooldown: StepCooldown = field(default_factory=StepCooldown)
