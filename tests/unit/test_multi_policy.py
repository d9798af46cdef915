"""Several policies on one target: rules M1-M3 of ``harness/autoscaling/actions.py``.

aws-semantics §1 "Multiple policies" [S1, S24]: scale out if any policy wants to; a target-tracking scale-in
only if all target-tracking policies with scale-in enabled want to; a step policy's scale-in is never
blocked (corrected 2026-12); when they conflict the largest capacity wins.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.autoscaling.actions import Vote, combine
from harness.autoscaling.metrics import MetricKey
from harness.autoscaling.policy import Decision
from harness.autoscaling.world import DIMENSION, World
from tests.unit.test_autoscaling_world import EP, RID, VARIANT, in_service_world, send, tt_config

OUT = {"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [{"MetricIntervalLowerBound": 0,
                                                                  "ScalingAdjustment": 3}]}


def vote(arn: str, action: str, capacity: int, *, step: bool = False) -> Vote:
    return Vote(arn, f"alarm-{arn}", Decision(action, capacity), step=step)  # type: ignore[arg-type]


@pytest.mark.parametrize("votes, enabled, expected", [
    pytest.param([vote("a", "scale_out", 13), vote("b", "scale_out", 30)], set(), "b",
                 id="M1-S24-largest-scale-out-wins-10-plus3-vs-200pct"),
    pytest.param([vote("a", "scale_out", 11), vote("b", "scale_in", 5)], {"b"}, "a",
                 id="M1-S1-any-scale-out-beats-scale-in"),
    pytest.param([vote("a", "scale_in", 5)], {"a", "b"}, None, id="M2-S1-silent-policy-vetoes-scale-in"),
    pytest.param([vote("a", "scale_in", 5), vote("b", "scale_in", 7)], {"a", "b"}, "b",
                 id="M2-S1-all-agree-largest-capacity-wins"),
    pytest.param([vote("a", "scale_in", 5)], {"a"}, "a", id="M2-S1-disabled-policy-does-not-veto"),
    pytest.param([vote("a", "none", 10)], {"a"}, None, id="M1-no-change"),
    pytest.param([vote("s", "scale_in", 3, step=True)], {"tt"}, "s",
                 id="M2-S1-step-scale-in-not-blocked-by-target-tracking"),
    pytest.param([vote("s", "scale_in", 3, step=True), vote("tt", "scale_in", 4)], {"tt", "tt2"}, "s",
                 id="M2-S1-step-scale-in-goes-while-target-tracking-still-vetoed"),
    pytest.param([vote("s", "scale_in", 3, step=True), vote("tt", "scale_in", 4)], {"tt"}, "tt",
                 id="M2-S1-both-may-scale-in-largest-capacity-wins"),
    pytest.param([vote("s", "scale_in", 3, step=True), vote("s2", "scale_out", 6, step=True)], set(), "s2",
                 id="M1-step-scale-out-beats-step-scale-in"),
])
def test_combine(votes: list[Vote], enabled: set[str], expected: str | None) -> None:
    winner = combine(votes, enabled)
    assert (winner.policy_arn if winner else None) == expected


def step_setup(world: World, now: float, configs: dict[str, dict[str, Any]], threshold: float,
               comparison: str = "GreaterThanOrEqualToThreshold") -> None:
    key = MetricKey.of("AWS/SageMaker", "InvocationsPerInstance", EndpointName=EP, VariantName=VARIANT)
    for name, cfg in configs.items():
        pol = world.put_step_scaling(name=name, namespace="sagemaker", resource_id=RID, dimension=DIMENSION,
                                     configuration=cfg, now=now)
        world.put_metric_alarm(name=f"alarm-{name}", metric=key, statistic="Sum", period_s=60,
                               evaluation_periods=1, threshold=threshold, comparison=comparison,  # type: ignore[arg-type]
                               actions=[pol.arn], now=now)


def test_plus3_versus_plus200pct_gives_30() -> None:
    """§1 [S1, S24]: current 10, +3 versus +200 %: the result is 30."""
    world, ready = in_service_world(instances=10)
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                          min_capacity=1, max_capacity=100)
    pct = {"AdjustmentType": "PercentChangeInCapacity",
           "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 200}]}
    step_setup(world, ready, {"plus3": OUT, "plus200": pct}, threshold=1)
    send(world, ready, 60, 1.0)
    world.advance(ready + 180)
    assert [a.target_capacity for a in world.activities][:1] == [30]
    assert world.activities[0].cause == "monitor alarm alarm-plus200 in state ALARM triggered policy plus200"


@pytest.mark.parametrize("disable_scale_in, expected", [
    pytest.param(False, [3], id="M2-S1-target-tracking-alarmlow-not-in-alarm-does-not-block-step"),
    pytest.param(True, [3], id="M2-S8-disable-scale-in-does-not-block-step"),
])
def test_step_scale_in_is_not_blocked_by_target_tracking(disable_scale_in: bool, expected: list[int]) -> None:
    """aws-semantics §1 (corrected 2026-12) [S1 considerations, S24]: "If the step scaling policy initiates a
    scale-in activity before the target tracking policy is ready to scale in, the scale-in activity will not
    be blocked"."""
    world, ready = in_service_world(instances=4)
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=ready,
                          min_capacity=1, max_capacity=10)
    world.put_target_tracking(name="tt", namespace="sagemaker", resource_id=RID, dimension=DIMENSION,
                              configuration=tt_config(1000.0, DisableScaleIn=disable_scale_in), now=ready)
    scale_in = {"AdjustmentType": "ChangeInCapacity",
                "StepAdjustments": [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": -1}]}
    step_setup(world, ready, {"in": scale_in}, threshold=100, comparison="LessThanThreshold")
    send(world, ready, 5, 1.0)  # the TT AlarmLow needs 15 minutes: not in ALARM after 4
    world.advance(ready + 240)
    assert [a.target_capacity for a in world.activities] == expected
