"""harness.autoscaling.alarms and the two managed alarms of a target-tracking policy (aws-semantics §1).

``next_state`` cases read ``points`` as the datapoints present among the alarm's last N periods;
N minus their number is the count of missing periods.
"""

from __future__ import annotations

import re

import pytest

from harness.autoscaling.alarms import Alarm, AlarmState, Comparison, TreatMissing, breaches, next_state
from harness.autoscaling.metrics import MetricKey
from harness.autoscaling.params import ModelParams
from harness.autoscaling.world import DIMENSION, NAMESPACE
from tests.unit.test_autoscaling_world import (
    EP,
    RID,
    UUID_RE,
    VARIANT,
    in_service_world,
    send,
    transitions,
    with_policy,
)

KEY = MetricKey.of("AWS/SageMaker", "InvocationsPerInstance", EndpointName="ep", VariantName="AllTraffic")


def alarm(*, n: int = 3, m: int = 3, threshold: float = 10.0, comparison: Comparison = "GreaterThanThreshold",
          treat: TreatMissing = "missing", state: AlarmState = "INSUFFICIENT_DATA") -> Alarm:
    return Alarm(name="a", arn="", metric=KEY, statistic="Sum", period_s=60, evaluation_periods=n,
                 datapoints_to_alarm=m, threshold=threshold, comparison=comparison, treat_missing=treat,
                 state=state, state_reason="before")


def pts(*values: float) -> list[tuple[int, float]]:
    return [(60 * i, v) for i, v in enumerate(values)]


# ------------------------------------------------------------------------------------- breaches
@pytest.mark.parametrize(("value", "comparison", "expected"), [
    pytest.param(10.0, "GreaterThanThreshold", False, id="S19-GT-equal-does-not-breach"),
    pytest.param(10.001, "GreaterThanThreshold", True, id="S19-GT-above"),
    pytest.param(10.0, "GreaterThanOrEqualToThreshold", True, id="S19-GE-equal-breaches"),
    pytest.param(9.999, "GreaterThanOrEqualToThreshold", False, id="S19-GE-below"),
    pytest.param(10.0, "LessThanThreshold", False, id="S19-LT-equal-does-not-breach"),
    pytest.param(9.999, "LessThanThreshold", True, id="S19-LT-below"),
    pytest.param(10.0, "LessThanOrEqualToThreshold", True, id="S19-LE-equal-breaches"),
    pytest.param(10.001, "LessThanOrEqualToThreshold", False, id="S19-LE-above"),
])
def test_breaches(value: float, comparison: Comparison, expected: bool) -> None:
    assert breaches(value, comparison, 10.0) is expected


def test_breaches_unknown_operator() -> None:
    with pytest.raises(ValueError, match="unknown ComparisonOperator 'Sideways'"):
        breaches(1.0, "Sideways", 0.0)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ next_state
@pytest.mark.parametrize(("kw", "points", "expected"), [
    # §1 [S1] TreatMissingData `missing`: no data -> INSUFFICIENT_DATA, and no scaling without data.
    pytest.param({}, [], "INSUFFICIENT_DATA", id="§1-S1-no-data-is-INSUFFICIENT_DATA"),
    pytest.param({"state": "ALARM"}, [], "INSUFFICIENT_DATA", id="§1-S1-ALARM-loses-its-data"),
    pytest.param({}, pts(11, 12, 13), "ALARM", id="§1-S12-3-of-3-breaching-is-ALARM"),
    pytest.param({}, pts(11, 12, 10), "OK", id="§1-equal-to-threshold-is-not-breaching-so-OK"),
    pytest.param({}, pts(0, 0, 0), "OK", id="§1-none-breaching-is-OK"),
    pytest.param({"state": "OK"}, pts(11, 12), "OK", id="missing-partial-data-keeps-OK"),
    pytest.param({"state": "ALARM"}, pts(11, 12), "ALARM", id="missing-partial-data-keeps-ALARM"),
    pytest.param({}, pts(11, 12), "INSUFFICIENT_DATA", id="missing-partial-data-keeps-INSUFFICIENT_DATA"),
    pytest.param({"state": "ALARM"}, pts(11, 5), "OK", id="missing-one-ok-point-makes-ALARM-unreachable"),
    # TreatMissingData variants (CloudWatch; managed alarms use `missing` [S25]).
    pytest.param({"treat": "breaching"}, pts(11, 12), "ALARM", id="breaching-missing-counts-as-breach"),
    pytest.param({"treat": "breaching"}, [], "ALARM", id="breaching-no-data-is-ALARM"),
    pytest.param({"treat": "breaching"}, pts(11, 5), "OK", id="breaching-one-ok-point-is-enough-for-OK"),
    pytest.param({"treat": "notBreaching", "state": "ALARM"}, pts(11, 12), "OK",
                 id="notBreaching-missing-counts-as-ok"),
    pytest.param({"treat": "notBreaching", "state": "ALARM"}, [], "OK", id="notBreaching-no-data-is-OK"),
    pytest.param({"treat": "ignore", "state": "ALARM"}, [], "ALARM", id="ignore-no-data-keeps-ALARM"),
    pytest.param({"treat": "ignore", "state": "OK"}, [], "OK", id="ignore-no-data-keeps-OK"),
    pytest.param({"treat": "ignore", "state": "OK"}, pts(11, 12, 13), "ALARM",
                 id="ignore-full-breach-is-ALARM"),
    # M of N: ALARM at M breaching; OK once more than N - M do not breach.
    pytest.param({"n": 5, "m": 3}, pts(11, 5, 12, 5, 13), "ALARM", id="3-of-5-breaching-is-ALARM"),
    pytest.param({"n": 5, "m": 3, "state": "ALARM"}, pts(11, 12, 5, 5), "ALARM",
                 id="3-of-5-two-ok-one-missing-keeps-state"),
    pytest.param({"n": 5, "m": 3, "state": "ALARM"}, pts(11, 5, 5, 5), "OK", id="3-of-5-three-ok-is-OK"),
    # AlarmLow shape: < 0.9 x target, 15 of 15 [S12].
    pytest.param({"n": 15, "m": 15, "threshold": 9.0, "comparison": "LessThanThreshold", "state": "OK"},
                 pts(*[0] * 15), "ALARM", id="§1-S12-15-of-15-low-is-ALARM"),
    pytest.param({"n": 15, "m": 15, "threshold": 9.0, "comparison": "LessThanThreshold", "state": "OK"},
                 pts(*[0] * 14), "OK", id="§1-S12-14-low-and-one-missing-keeps-OK"),
    pytest.param({"n": 15, "m": 15, "threshold": 9.0, "comparison": "LessThanThreshold", "state": "ALARM"},
                 pts(*[0] * 14, 9), "OK", id="§1-S12-equal-to-low-threshold-is-not-low"),
])
def test_next_state(kw: dict[str, object], points: list[tuple[int, float]], expected: AlarmState) -> None:
    state, _ = next_state(alarm(**kw), points)  # type: ignore[arg-type]
    assert state == expected


@pytest.mark.parametrize(("kw", "points", "reason"), [
    pytest.param({}, pts(11, 12, 13), "Threshold Crossed: 3 out of the last 3 datapoints [11, 12, 13] were "
                 "greater than the threshold (10).", id="ALARM-reason"),
    pytest.param({"threshold": 9.0, "comparison": "LessThanThreshold"}, pts(9, 20),
                 "Threshold Crossed: 2 out of the last 3 datapoints [9, 20] were not less than the "
                 "threshold (9).",
                 id="OK-reason"),
    pytest.param({}, [], "Insufficient Data: no datapoints in the last 3 periods.",
                 id="INSUFFICIENT_DATA-reason"),
    pytest.param({"state": "OK"}, pts(11, 12), "before", id="kept-state-keeps-its-reason"),
])
def test_next_state_reason(kw: dict[str, object], points: list[tuple[int, float]], reason: str) -> None:
    assert next_state(alarm(**kw), points)[1] == reason  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the two managed alarms
def test_managed_alarm_definitions() -> None:
    # §1 [S2, S8, S12, S25, S26]: names, thresholds, M of N, period, operators, statistic, missing data,
    # actions and the DO NOT EDIT description of the two alarms PutScalingPolicy creates.
    world, ready = in_service_world()
    policy = with_policy(world, ready, target=10.0)
    high, low = world.alarms[policy.alarm_high], world.alarms[policy.alarm_low]
    assert re.fullmatch(rf"TargetTracking-{re.escape(RID)}-AlarmHigh-{UUID_RE}", high.name)
    assert re.fullmatch(rf"TargetTracking-{re.escape(RID)}-AlarmLow-{UUID_RE}", low.name)
    description = (r"DO NOT EDIT OR DELETE\. For TargetTrackingScaling policy "
                   rf"{re.escape(policy.arn)}:createdBy/{UUID_RE}\.")
    metric = MetricKey.of(NAMESPACE, "InvocationsPerInstance", EndpointName=EP, VariantName=VARIANT)
    for a, (n, threshold, comparison) in [(high, (3, 10.0, "GreaterThanThreshold")),
                                          (low, (15, 9.0, "LessThanThreshold"))]:
        assert (a.evaluation_periods, a.datapoints_to_alarm, a.threshold, a.comparison) == (
            n, n, threshold, comparison), a.name
        assert (a.period_s, a.statistic, a.treat_missing, a.metric, a.actions, a.state) == (
            60, "Sum", "missing", metric, [policy.arn], "INSUFFICIENT_DATA"), a.name
        assert re.fullmatch(description, a.description), a.description
        assert a.arn == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{a.name}"
    assert policy.arn.startswith("arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:")
    assert policy.arn.endswith(f":resource/sagemaker/{RID}:policyName/p")


@pytest.mark.parametrize(("target", "high", "low"), [
    pytest.param(10.0, 10.0, 9.0, id="§1-foundation-target-10"),
    pytest.param(1500.0, 1500.0, 1350.0, id="§1-S12-1500-low-1350"),
    pytest.param(70.0, 70.0, 63.0, id="§1-S25-70-low-63"),
    pytest.param(80.0, 80.0, 72.0, id="§1-S25-80-low-72"),
])
def test_managed_alarm_thresholds(target: float, high: float, low: float) -> None:
    # §1: AlarmHigh threshold = TargetValue; AlarmLow = 0.9 x TargetValue.
    world, ready = in_service_world()
    policy = with_policy(world, ready, target=target)
    thresholds = (world.alarms[policy.alarm_high].threshold, world.alarms[policy.alarm_low].threshold)
    assert thresholds == (high, low)


def test_managed_alarm_settings_are_model_parameters() -> None:
    # params.py: the UNCONFIRMED alarm settings are named parameters, not constants.
    params = ModelParams(alarm_high_datapoints=2, alarm_low_datapoints=10, alarm_low_ratio=0.8,
                         alarm_statistic="Average")
    world, ready = in_service_world(params)
    policy = with_policy(world, ready, target=10.0)
    high, low = world.alarms[policy.alarm_high], world.alarms[policy.alarm_low]
    assert (high.evaluation_periods, high.datapoints_to_alarm, high.statistic) == (2, 2, "Average")
    assert (low.evaluation_periods, low.datapoints_to_alarm, low.threshold, low.statistic) == (
        10, 10, 8.0, "Average")


def test_replacing_a_policy_replaces_its_alarms() -> None:
    # §1 [S8]: PutScalingPolicy with an existing name replaces the policy and its managed alarms.
    world, ready = in_service_world()
    first = with_policy(world, ready, target=10.0)
    second = world.put_target_tracking(name="p", namespace="sagemaker", resource_id=RID, dimension=DIMENSION,
                                       configuration={"TargetValue": 20.0, "PredefinedMetricSpecification": {
                                           "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}},
                                       now=ready + 1)
    assert sorted(world.alarms) == sorted([second.alarm_high, second.alarm_low])
    assert first.alarm_high not in world.alarms
    assert list(world.policies) == [second.arn]


# ----------------------------------------------------------------------- action repetition (S19)
def test_alarm_action_repeats_each_minute_while_in_alarm() -> None:
    # §1 [S19]: an Auto Scaling action runs once per minute while the alarm stays in ALARM. Capped at
    # MaxCapacity 2, then max raised to 4: the next evaluation scales further with no new transition.
    params = ModelParams()
    period, lag = params.metric_period_s, params.metric_publish_lag_s
    world, ready = in_service_world(params)
    policy = with_policy(world, ready, min_c=1, max_c=2, ScaleOutCooldown=300)
    send(world, ready, 600, 0.5)  # 2 rps for 300 s: 120 per instance per minute on 1 instance
    alarm_ts = ready + params.alarm_high_datapoints * period + lag
    world.advance(alarm_ts)
    assert world.targets[RID].desired == 2  # R1: ceil(1 x 120 / 10) = 12, clamped to MaxCapacity 2
    world.register_target(namespace="sagemaker", resource_id=RID, dimension=DIMENSION, now=alarm_ts + 10,
                          max_capacity=4)
    assert len(world.activities) == 1  # 2 is inside [1, 4]: the register itself scales nothing
    world.advance(alarm_ts + period - 1)
    assert world.targets[RID].desired == 2
    world.advance(alarm_ts + period)
    # R3: in the scale-out cooldown a larger scale-out proceeds; basis 1 x 120 / 10 -> 12, clamped to 4.
    assert world.targets[RID].desired == 4
    assert transitions(world, policy.alarm_high) == [(alarm_ts, "ALARM")]
    first, second = world.activities
    assert (first.target_capacity, first.status_code, first.end_ts) == (2, "Overridden", alarm_ts + period)
    assert (second.target_capacity, second.start_ts, second.status_code, second.cause) == (
        4, alarm_ts + period, "InProgress",
        f"monitor alarm {policy.alarm_high} in state ALARM triggered policy p")
    # §7: the endpoint is Updating to 2 until provisioning_delay_s; only then is 4 applied.
    world.advance(alarm_ts + 2 * params.provisioning_delay_s)
    ep = world.endpoints[EP]
    assert (ep.status, ep.variants[VARIANT].current) == ("InService", 4)
    assert (second.status_code, second.end_ts) == ("Successful", alarm_ts + 2 * params.provisioning_delay_s)
