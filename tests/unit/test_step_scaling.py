"""harness.autoscaling.step: bounds, validation, rounding, cooldown, aggregation; and step policies in World.

Rules are the S-numbers of ``harness/autoscaling/step.py`` with their ``docs/aws-semantics.md``
source tags (§2 [S3, S7, S8]).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from harness.autoscaling.entities import WorldError
from harness.autoscaling.metrics import MetricKey
from harness.autoscaling.step import (
    StepAdjustment,
    StepConfig,
    StepCooldown,
    decide_step,
    find_step,
    parse_step_config,
    percent_change,
)
from harness.autoscaling.world import DIMENSION
from tests.unit.test_autoscaling_world import EP, RID, VARIANT, in_service_world, send

UP = (StepAdjustment(0, 10, 1), StepAdjustment(10, None, 3))
DOWN = (StepAdjustment(None, -10, -3), StepAdjustment(-10, 0, -1))


def step(lower: float | None, upper: float | None, adj: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"ScalingAdjustment": adj}
    if lower is not None:
        out["MetricIntervalLowerBound"] = lower
    if upper is not None:
        out["MetricIntervalUpperBound"] = upper
    return out


@pytest.mark.parametrize("steps, offset, expected", [
    pytest.param(UP, 0.0, 1, id="S1-S3-above-lower-inclusive"),
    pytest.param(UP, 9.99, 1, id="S1-S3-above-inside"),
    pytest.param(UP, 10.0, 3, id="S1-S3-above-upper-exclusive"),
    pytest.param(UP, 1e9, 3, id="S1-S3-null-upper-is-plus-inf"),
    pytest.param(UP, -0.1, None, id="S1-S3-below-threshold-no-step"),
    pytest.param(DOWN, 0.0, None, id="S1-S3-zero-is-above-side"),
    pytest.param(DOWN, -0.1, -1, id="S1-S3-below-upper-inclusive"),
    pytest.param(DOWN, -10.0, -3, id="S1-S3-below-lower-exclusive-upper-inclusive"),
    pytest.param(DOWN, -10.01, -3, id="S1-S3-null-lower-is-minus-inf"),
])
def test_find_step(steps: tuple[StepAdjustment, ...], offset: float, expected: int | None) -> None:
    found = find_step(steps, offset)
    assert (found.adjustment if found else None) == expected


@pytest.mark.parametrize("config, message", [
    pytest.param({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": []}, "between 1 and 20",
                 id="S2-S7-no-steps"),
    pytest.param({"AdjustmentType": "ChangeInCapacity",
                  "StepAdjustments": [step(i, i + 1) for i in range(20)] + [step(20, None)]},
                 "between 1 and 20", id="S2-S7-21-steps"),
    pytest.param({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [step(0, 10), step(5, None)]},
                 "overlap", id="S2-S3-overlap"),
    pytest.param({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [step(0, 10), step(20, None)]},
                 "gaps", id="S2-S3-gap"),
    pytest.param({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [step(None, 0), step(None, 10)]},
                 "null. MetricIntervalLowerBound", id="S2-S8-two-null-lower"),
    pytest.param({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [step(0, None), step(10, None)]},
                 "null. MetricIntervalUpperBound", id="S2-S8-two-null-upper"),
    pytest.param({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [step(None, None)]},
                 "both bounds null", id="S2-S3-both-null"),
    pytest.param({"AdjustmentType": "ExactCapacity", "StepAdjustments": [step(0, None, -1)]},
                 "non-negative", id="S2-S8-exact-capacity-negative"),
    pytest.param({"AdjustmentType": "ChangeInCapacity", "MinAdjustmentMagnitude": 2,
                  "StepAdjustments": [step(0, None)]}, "only supported", id="S2-S8-min-magnitude-not-percent"),
    pytest.param({"AdjustmentType": "Bogus", "StepAdjustments": [step(0, None)]}, "AdjustmentType",
                 id="S2-S8-adjustment-type"),
    pytest.param({"AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Sum",
                  "StepAdjustments": [step(0, None)]}, "MetricAggregationType", id="S5-S8-aggregation"),
])
def test_invalid_configurations(config: dict[str, Any], message: str) -> None:
    with pytest.raises(WorldError, match=message) as err:
        parse_step_config(config)
    assert err.value.code == "ValidationException"


def test_defaults() -> None:
    """S4/S5 [S8]: Cooldown defaults to 300 s, MetricAggregationType to Average."""
    config = parse_step_config({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [step(0, None)]})
    assert (config.cooldown_s, config.aggregation) == (300.0, "Average")


@pytest.mark.parametrize("capacity, percent, magnitude, expected", [
    pytest.param(100, 127, None, 127, id="S3-exact"),
    pytest.param(10, 127, None, 12, id="S3-above-1-rounds-down-12.7"),
    pytest.param(4, 10, None, 1, id="S3-0-to-1-is-1"),
    pytest.param(4, -10, None, -1, id="S3-minus1-to-0-is-minus1"),
    pytest.param(3, -222, None, -6, id="S3-below-minus1-toward-zero-6.67"),
    pytest.param(4, 25, 2, 2, id="S3-min-magnitude-floor-25pct-of-4"),
    pytest.param(4, -25, 2, -2, id="S3-min-magnitude-negative"),
    pytest.param(10, 10, None, 1, id="S3-worked-example-first-step"),
    pytest.param(11, 30, None, 3, id="S3-worked-example-3.3"),
])
def test_percent_change(capacity: int, percent: int, magnitude: int | None, expected: int) -> None:
    assert percent_change(capacity, percent, magnitude) == expected


def config(kind: str = "ChangeInCapacity", steps: tuple[StepAdjustment, ...] = (StepAdjustment(0, None, 3),),
           aggregation: str = "Average") -> StepConfig:
    return StepConfig(adjustment_type=kind, steps=steps, aggregation=aggregation)  # type: ignore[arg-type]


@pytest.mark.parametrize("cfg, cooldown, desired, values, expected", [
    pytest.param(config(), StepCooldown(), 5, [60.0], ("scale_out", 8), id="S4-change-in-capacity"),
    pytest.param(config(), StepCooldown(until=1_000, added=2), 7, [60.0], ("scale_out", 8),
                 id="S4-S3-cooldown-plus2-done-plus3-adds-1"),
    pytest.param(config(), StepCooldown(until=1_000, added=3), 8, [60.0], ("none", 8),
                 id="S4-S3-cooldown-already-added"),
    pytest.param(config(), StepCooldown(until=10, added=3), 6, [60.0], ("scale_out", 9),
                 id="S4-S3-cooldown-expired"),
    pytest.param(config(steps=(StepAdjustment(None, 0, -2),)), StepCooldown(until=1_000), 8, [40.0],
                 ("none", 8), id="S4-S3-scale-in-blocked-in-cooldown"),
    pytest.param(config(steps=(StepAdjustment(None, 0, -2),)), StepCooldown(), 8, [40.0],
                 ("scale_in", 6), id="S4-S3-scale-in-outside-cooldown"),
    pytest.param(config(), StepCooldown(), 9, [60.0], ("scale_out", 10), id="S4-clamped-to-max"),
    pytest.param(config(), StepCooldown(), 10, [60.0], ("none", 10), id="S4-already-at-max"),
    pytest.param(config(steps=(StepAdjustment(None, 0, -9),)), StepCooldown(), 3, [40.0],
                 ("scale_in", 1), id="S4-clamped-to-min"),
    pytest.param(config("ExactCapacity", (StepAdjustment(0, None, 6),)), StepCooldown(until=1_000, added=5),
                 3, [60.0], ("scale_out", 6), id="S2-S8-exact-capacity"),
    pytest.param(config(steps=(StepAdjustment(0, 10, 1), StepAdjustment(10, None, 3))), StepCooldown(), 5,
                 [40.0, 80.0], ("scale_out", 8), id="S5-S3-average-of-datapoints"),
    pytest.param(config(steps=(StepAdjustment(0, 10, 1), StepAdjustment(10, None, 3)), aggregation="Minimum"),
                 StepCooldown(), 5, [55.0, 80.0], ("scale_out", 6), id="S5-S3-minimum"),
    pytest.param(config(steps=(StepAdjustment(0, 10, 1), StepAdjustment(10, None, 3)), aggregation="Maximum"),
                 StepCooldown(), 5, [50.0, 55.0], ("scale_out", 6), id="S5-S3-maximum-below-10"),
    pytest.param(config(), StepCooldown(), 5, [40.0], ("none", 5), id="S1-no-step-matches"),
])
def test_decide_step(cfg: StepConfig, cooldown: StepCooldown, desired: int, values: list[float],
                     expected: tuple[str, int]) -> None:
    d = decide_step(now=100, config=cfg, cooldown=cooldown, desired=desired, min_c=1, max_c=10, values=values,
                    threshold=50.0)
    assert (d.action, d.new_capacity) == expected


@pytest.mark.parametrize("suspended, steps, values", [
    pytest.param("out", (StepAdjustment(0, None, 3),), [60.0], id="S6-S6-out-suspended"),
    pytest.param("in", (StepAdjustment(None, 0, -3),), [40.0], id="S6-S6-in-suspended"),
])
def test_suspended(suspended: str, steps: tuple[StepAdjustment, ...], values: list[float]) -> None:
    d = decide_step(now=0, config=config(steps=steps), cooldown=StepCooldown(), desired=5, min_c=1, max_c=10,
                    values=values, threshold=50.0, in_suspended=suspended == "in",
                    out_suspended=suspended == "out")
    assert d.action == "none" and "Suspended" in d.reason


def test_aws_worked_example() -> None:
    """§2 [S3]: capacity 10, threshold 50, +10 % at [50, 60), +30 % at [60, inf): 10 -> 11 -> 14."""
    cfg = config("PercentChangeInCapacity", (StepAdjustment(0, 10, 10), StepAdjustment(10, None, 30)))
    first = decide_step(now=0, config=cfg, cooldown=StepCooldown(), desired=10, min_c=1, max_c=100,
                        values=[60.0 - 1e-9], threshold=50.0)
    second = decide_step(now=400, config=cfg, cooldown=StepCooldown(until=300, added=1), desired=11, min_c=1,
                         max_c=100, values=[70.0], threshold=50.0)
    assert (first.new_capacity, second.new_capacity) == (11, 14)


def test_step_policy_in_world() -> None:
    """§2 [S15-async-as] async-guide alarm shape, real-time metric: +1 per cooldown while in ALARM (S19)."""
    world, ready = in_service_world()
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                          min_capacity=1, max_capacity=4)
    policy = world.put_step_scaling(name="out", namespace="sagemaker", resource_id=RID, dimension=DIMENSION,
                                    now=ready, configuration={
                                        "AdjustmentType": "ChangeInCapacity", "Cooldown": 300,
                                        "StepAdjustments": [step(0, None, 1)]})
    key = MetricKey.of("AWS/SageMaker", "InvocationsPerInstance", EndpointName=EP, VariantName=VARIANT)
    world.put_metric_alarm(name="busy", metric=key, statistic="Sum", period_s=60, evaluation_periods=2,
                           datapoints_to_alarm=2, threshold=10, comparison="GreaterThanOrEqualToThreshold",
                           actions=[policy.arn], now=ready)
    send(world, ready, 600, 1.0)  # 60/min per instance >> 10
    assert world.alarms["busy"].state == "ALARM"
    acts = sorted(world.activities, key=lambda a: a.start_ts)
    assert [a.target_capacity for a in acts][:2] == [2, 3]
    assert acts[1].start_ts - acts[0].start_ts == pytest.approx(300)
    assert acts[0].cause == "monitor alarm busy in state ALARM triggered policy out"
    assert world.policies[policy.arn].cooldown.until > ready
    assert not math.isinf(world.policies[policy.arn].cooldown.until)
