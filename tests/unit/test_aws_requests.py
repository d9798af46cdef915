"""The requests setup sends, built from profile objects by pure functions (no AWS, no emulator)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.profile import ScheduledActionSpec, StepPolicy, TargetTrackingPolicy, parse_profile
from harness.profile.aws_requests import (
    alarm_request,
    at_expression,
    describe_action,
    describe_policy,
    endpoint_config_request,
    relative_action_ts,
    s3_bucket,
    scheduled_action_request,
    step_policy_request,
    target_tracking_request,
)

RID = "endpoint/ep/variant/v1"
TARGET = {"ServiceNamespace": "sagemaker", "ResourceId": RID,
          "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}

BASE: dict[str, Any] = {
    "name": "p",
    "endpoint": {"name": "ep", "variant": "v1", "type": "async", "instance_type": "ml.g5.xlarge",
                 "async": {"input_path": "s3://in-bucket/in", "output_path": "s3://out-bucket/results/",
                           "failure_path": "s3://out-bucket/failures",
                           "max_concurrent_invocations_per_instance": 4}},
    "scaling": {
        "min_capacity": 0, "max_capacity": 5, "start_capacity": 0,
        "policies": [
            {"type": "target_tracking", "name": "backlog", "target_value": 5,
             "custom_metric": {"name": "ApproximateBacklogSizePerInstance", "unit": "None"},
             "scale_out_cooldown": "5m", "scale_in_cooldown": "10m"},
            {"type": "step", "name": "wake", "cooldown": "5m", "steps": [{"lower": 0, "adjustment": 1}],
             "alarm": {"name": "HasBacklogWithoutCapacity", "period": "1m", "evaluation_periods": 2,
                       "threshold": 1, "comparison": "GreaterThanOrEqualToThreshold"}},
            {"type": "step", "name": "shrink", "adjustment_type": "PercentChangeInCapacity",
             "min_adjustment_magnitude": 2, "metric_aggregation": "Maximum",
             "steps": [{"upper": -10, "adjustment": -50}, {"lower": -10, "upper": 0, "adjustment": -25}],
             "alarm": {"alarm_name": "too-quiet", "name": "Invocations", "namespace": "Custom/NS",
                       "statistic": "Sum", "dimensions": {"Fleet": "blue"}, "period": "2m",
                       "evaluation_periods": 5, "datapoints_to_alarm": 3, "threshold": 4.5,
                       "comparison": "LessThanThreshold", "treat_missing_data": "notBreaching", "unit": "Count"}},
        ],
        "scheduled_actions": [
            {"name": "nightly", "schedule": "cron(0 22 * * ? *)", "timezone": "Europe/Paris",
             "start_time": "2030-01-01T00:00:00Z", "end_time": "2030-06-01T12:00:00", "max_capacity": 2},
            {"name": "peak", "at": "stage:peak+90s", "min_capacity": 3, "max_capacity": 5},
            {"name": "release", "at": "load_end", "min_capacity": 0},
            {"name": "early", "at": "load_start+2m", "min_capacity": 1},
        ],
    },
    "traffic": {"stages": [{"name": "warm", "duration": "5m", "rate_rps": 1},
                           {"name": "peak", "duration": "10m", "rate_rps": 3}]},
    "expectations": [{"type": "scale_from_zero", "within": "10m"}],
}


def profile(**changes: Any):  # noqa: ANN201 - a Profile
    data = copy.deepcopy(BASE)
    data.update(changes)
    return parse_profile(data)


def policy(name: str) -> TargetTrackingPolicy | StepPolicy:
    found = profile().scaling.policy(name)
    assert found is not None
    return found


def action(name: str) -> ScheduledActionSpec:
    return next(a for a in profile().scaling.scheduled_actions if a.name == name)


def test_async_endpoint_config_carries_output_config_and_client_config() -> None:
    request = endpoint_config_request(profile(), "cfg", "model")
    assert request == {
        "EndpointConfigName": "cfg",
        "ProductionVariants": [{"VariantName": "v1", "ModelName": "model", "InstanceType": "ml.g5.xlarge",
                                "InitialInstanceCount": 1, "InitialVariantWeight": 1.0}],
        "AsyncInferenceConfig": {
            "OutputConfig": {"S3OutputPath": "s3://out-bucket/results/", "S3FailurePath": "s3://out-bucket/failures"},
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4}},
    }


def test_client_config_is_left_to_sagemaker_when_unset_and_realtime_has_no_async_config() -> None:
    data = copy.deepcopy(BASE)
    del data["endpoint"]["async"]["max_concurrent_invocations_per_instance"]
    request = endpoint_config_request(parse_profile(data), "cfg", "model")
    assert "ClientConfig" not in request["AsyncInferenceConfig"]
    realtime = parse_profile({**BASE, "endpoint": {"name": "ep"}, "expectations": [],
                              "scaling": {"min_capacity": 1, "max_capacity": 2, "policies": [
                                  {"type": "target_tracking", "name": "t", "target_value": 10}]}})
    assert "AsyncInferenceConfig" not in endpoint_config_request(realtime, "cfg", "model")


def test_s3_bucket_of_uri() -> None:
    assert s3_bucket("s3://out-bucket/results/") == "out-bucket"
    assert s3_bucket("s3://just-bucket") == "just-bucket"


def test_custom_metric_target_tracking_request() -> None:
    assert target_tracking_request(policy("backlog"), profile()) == {
        "PolicyName": "backlog", **TARGET, "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 5.0,
            "CustomizedMetricSpecification": {
                "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
                # a backlog metric: EndpointName only (aws-semantics §6)
                "Dimensions": [{"Name": "EndpointName", "Value": "ep"}], "Statistic": "Average", "Unit": "None"},
            "ScaleOutCooldown": 300, "ScaleInCooldown": 600, "DisableScaleIn": False},
    }


def test_predefined_metric_target_tracking_request() -> None:
    data = copy.deepcopy(BASE)
    data["endpoint"] = {"name": "ep", "variant": "v1"}
    data["expectations"] = []
    data["scaling"] = {"min_capacity": 1, "max_capacity": 2, "policies": [
        {"type": "target_tracking", "name": "ipi", "target_value": 70, "disable_scale_in": True}]}
    p = parse_profile(data)
    config = target_tracking_request(p.scaling.policies[0], p)["TargetTrackingScalingPolicyConfiguration"]
    predefined = {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert config == {"TargetValue": 70.0, "PredefinedMetricSpecification": predefined,
                      "ScaleOutCooldown": 300, "ScaleInCooldown": 300, "DisableScaleIn": True}


def test_step_policy_request_omits_open_bounds() -> None:
    assert step_policy_request(policy("wake"), profile()) == {
        "PolicyName": "wake", **TARGET, "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
            "Cooldown": 300, "MetricAggregationType": "Average"},
    }
    shrink = step_policy_request(policy("shrink"), profile())["StepScalingPolicyConfiguration"]
    assert shrink == {
        "AdjustmentType": "PercentChangeInCapacity",
        "StepAdjustments": [{"MetricIntervalUpperBound": -10.0, "ScalingAdjustment": -50},
                            {"MetricIntervalLowerBound": -10.0, "MetricIntervalUpperBound": 0.0,
                             "ScalingAdjustment": -25}],
        "Cooldown": 300, "MetricAggregationType": "Maximum", "MinAdjustmentMagnitude": 2}


def test_alarm_request_defaults_name_dimensions_and_datapoints() -> None:
    request = alarm_request(policy("wake"), profile(), "arn:policy/wake")  # type: ignore[arg-type]
    assert request.pop("AlarmDescription").startswith("Created by scalecheck")
    assert request == {
        "AlarmName": "wake-alarm", "MetricName": "HasBacklogWithoutCapacity", "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": "ep"}], "Statistic": "Average", "Period": 60,
        "EvaluationPeriods": 2, "DatapointsToAlarm": 2, "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "missing",
        "ActionsEnabled": True, "AlarmActions": ["arn:policy/wake"]}


def test_alarm_request_with_everything_given() -> None:
    request = alarm_request(policy("shrink"), profile(), "arn:policy/shrink")  # type: ignore[arg-type]
    assert {k: request[k] for k in ("AlarmName", "MetricName", "Namespace", "Dimensions", "Statistic", "Period",
                                    "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
                                    "TreatMissingData", "Unit", "AlarmActions")} == {
        "AlarmName": "too-quiet", "MetricName": "Invocations", "Namespace": "Custom/NS",
        "Dimensions": [{"Name": "Fleet", "Value": "blue"}], "Statistic": "Sum", "Period": 120,
        "EvaluationPeriods": 5, "DatapointsToAlarm": 3, "Threshold": 4.5, "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "notBreaching", "Unit": "Count", "AlarmActions": ["arn:policy/shrink"]}


def test_variant_metric_gets_both_dimensions() -> None:
    data = copy.deepcopy(BASE)
    data["scaling"]["policies"][1]["alarm"]["name"] = "InvocationsPerInstance"
    p = parse_profile(data)
    request = alarm_request(p.scaling.policies[1], p, "arn")  # type: ignore[arg-type]
    assert request["Dimensions"] == [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "v1"}]


def test_scheduled_action_request_with_schedule() -> None:
    assert scheduled_action_request(action("nightly"), profile()) == {
        "ScheduledActionName": "nightly", **TARGET, "Schedule": "cron(0 22 * * ? *)", "Timezone": "Europe/Paris",
        "StartTime": datetime(2030, 1, 1, tzinfo=UTC),
        "EndTime": datetime(2030, 6, 1, 12, tzinfo=UTC),  # a naive time is UTC
        "ScalableTargetAction": {"MaxCapacity": 2}}


def test_relative_action_needs_its_at_schedule() -> None:
    with pytest.raises(ValueError, match="relative"):
        scheduled_action_request(action("peak"), profile())
    request = scheduled_action_request(action("peak"), profile(), "at(2030-01-01T00:01:30)")
    assert request == {"ScheduledActionName": "peak", **TARGET, "Schedule": "at(2030-01-01T00:01:30)",
                       "ScalableTargetAction": {"MinCapacity": 3, "MaxCapacity": 5}}


@pytest.mark.parametrize(("ts", "expected"), [
    (0, "at(1970-01-01T00:00:00)"),
    (1_900_000_000, "at(2030-03-17T17:46:40)"),
    (1_900_000_000.4, "at(2030-03-17T17:46:40)"),
    (1_900_000_000.6, "at(2030-03-17T17:46:41)"),  # rounded to the second
])
def test_at_expression_is_utc_to_the_second(ts: float, expected: str) -> None:
    assert at_expression(ts) == expected


@pytest.mark.parametrize(("name", "offset_s"), [
    ("early", 120.0),  # load_start+2m
    ("peak", 300.0 + 90.0),  # stage:peak starts after 5 minutes of warm
    ("release", 900.0),  # load_end = load start + the traffic's 15 minutes
])
def test_relative_action_times(name: str, offset_s: float) -> None:
    assert relative_action_ts(action(name), profile(), 1_000.0) == 1_000.0 + offset_s


def test_descriptions_for_validate() -> None:
    assert describe_policy(policy("backlog")) == (
        "target tracking on custom metric AWS/SageMaker/ApproximateBacklogSizePerInstance (Average), target 5, "
        "cooldowns out 300s / in 600s")
    assert describe_policy(policy("shrink")) == (
        "step scaling PercentChangeInCapacity steps [-inf, -10) -50, [-10, 0) -25, cooldown 300s; "
        "alarm too-quiet: Custom/NS/Invocations Sum < 4.5 for 3 of 5 x 120s")
    assert describe_action(action("nightly")) == "cron(0 22 * * ? *) [Europe/Paris] max 2"
    assert describe_action(action("peak")) == "at stage:peak+90s min 3 max 5"


def test_shipped_profiles_build_requests() -> None:
    """Every policy and scheduled action of the shipped profiles turns into a request."""
    from harness.profile import load_profile

    for path in sorted((Path(__file__).resolve().parents[2] / "profiles").glob("*.yaml")):
        p = load_profile(path)
        for pol in p.scaling.policies:
            if isinstance(pol, TargetTrackingPolicy):
                assert target_tracking_request(pol, p)["PolicyName"] == pol.name
            else:
                assert step_policy_request(pol, p)["StepScalingPolicyConfiguration"]["StepAdjustments"]
                assert alarm_request(pol, p, "arn")["AlarmName"] == pol.alarm_name
        for a in p.scaling.scheduled_actions:
            request = scheduled_action_request(a, p, None if a.schedule else at_expression(0))
            assert request["ScalableTargetAction"]
