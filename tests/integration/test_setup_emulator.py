"""``harness.observe.setup`` against the emulator through real boto3 clients: what AWS would show afterwards.

An async endpoint with start_capacity 0, a custom-metric target-tracking policy, a step policy with
its alarm, a cron scheduled action and a relative one; then the same endpoint reused by a scenario
"without" the step policy, which must not inherit it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from harness.autoscaling.params import ModelParams
from harness.errors import ConfigError
from harness.observe.aws import Clients, Target, emulator_clock, make_clients
from harness.observe.setup import ensure_buckets, ensure_endpoint, prepare, put_relative_action
from harness.profile import Profile, parse_profile
from harness.profile.aws_requests import DIMENSION, at_expression, relative_action_ts
from harness.record import Clock
from tests.emulator_support import running

pytestmark = pytest.mark.integration

SPEED = 200.0
PARAMS = ModelParams(endpoint_create_delay_s=60, provisioning_delay_s=60, deprovision_delay_s=20)
EP, VARIANT = "setup-async", "variant1"
RID = f"endpoint/{EP}/variant/{VARIANT}"
TARGET = {"ServiceNamespace": "sagemaker", "ResourceId": RID, "ScalableDimension": DIMENSION}
LOCAL = {"local": True, "change_scaling": True, "create_endpoint": True}  # as a --local run's consent

PROFILE: dict[str, Any] = {
    "name": "setup-async",
    "endpoint": {"name": EP, "variant": VARIANT, "type": "async", "instance_type": "ml.g5.xlarge",
                 "initial_instance_count": 1,
                 "async": {"input_path": "s3://setup-in/requests", "output_path": "s3://setup-out/ok",
                           "failure_path": "s3://setup-out/failed", "max_concurrent_invocations_per_instance": 2}},
    "scaling": {
        "min_capacity": 0, "max_capacity": 5, "start_capacity": 0,
        "policies": [
            {"type": "target_tracking", "name": "backlog-per-instance", "target_value": 5,
             "custom_metric": {"name": "ApproximateBacklogSizePerInstance"}, "scale_in_cooldown": "10m"},
            {"type": "step", "name": "wake-from-zero", "cooldown": "5m", "steps": [{"lower": 0, "adjustment": 1}],
             "alarm": {"name": "HasBacklogWithoutCapacity", "period": "1m", "evaluation_periods": 2,
                       "threshold": 1, "comparison": "GreaterThanOrEqualToThreshold"}},
        ],
        "scheduled_actions": [
            {"name": "weekday-floor", "schedule": "cron(0 8 ? * MON-FRI *)", "timezone": "Europe/Paris",
             "min_capacity": 1, "max_capacity": 5},
            {"name": "after-load", "at": "load_end+1m", "min_capacity": 0},
        ],
    },
    "traffic": {"stages": [{"name": "burst", "duration": "2m", "rate_rps": 0.1}]},
    "expectations": [{"type": "scale_from_zero", "within": "10m"}],
    "scenarios": [{"name": "with-wake"}, {"name": "without-wake", "without_policies": ["wake-from-zero"]}],
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[Clients, Clock]]:
    with running(PARAMS, SPEED) as (_emu, handle):
        yield make_clients(Target(region="us-east-1", endpoint_url=handle.url)), emulator_clock(handle.url)


def profile(**scaling: Any) -> Profile:
    data = copy.deepcopy(PROFILE)
    data["scaling"].update(scaling)
    return parse_profile(data)


def policies(clients: Clients) -> dict[str, dict[str, Any]]:
    found = clients.autoscaling.describe_scaling_policies(**TARGET)["ScalingPolicies"]
    return {p["PolicyName"]: p for p in found}


def actions(clients: Clients) -> dict[str, dict[str, Any]]:
    found = clients.autoscaling.describe_scheduled_actions(**TARGET)["ScheduledActions"]
    return {a["ScheduledActionName"]: a for a in found}


def test_prepare_brings_the_emulator_to_the_profile(emulator: tuple[Clients, Clock]) -> None:
    clients, clock = emulator
    said: list[str] = []
    prepare(clients, profile(), clock, said.append, **LOCAL)

    # buckets created (locally), endpoint async with its output config, at 0 instances
    buckets = {b["Name"] for b in clients.s3.list_buckets()["Buckets"]}
    assert {"setup-in", "setup-out"} <= buckets
    desc = clients.sagemaker.describe_endpoint(EndpointName=EP)
    assert desc["EndpointStatus"] == "InService"
    assert desc["ProductionVariants"][0]["CurrentInstanceCount"] == 0
    config = clients.sagemaker.describe_endpoint_config(EndpointConfigName=desc["EndpointConfigName"])
    assert config["AsyncInferenceConfig"] == {
        "OutputConfig": {"S3OutputPath": "s3://setup-out/ok", "S3FailurePath": "s3://setup-out/failed"},
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2}}

    target = clients.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker",
                                                           ResourceIds=[RID])["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in target] == [(0, 5)]

    pols = policies(clients)
    assert set(pols) == {"backlog-per-instance", "wake-from-zero"}
    tt = pols["backlog-per-instance"]["TargetTrackingScalingPolicyConfiguration"]
    assert tt["TargetValue"] == 5.0 and tt["ScaleInCooldown"] == 600
    assert tt["CustomizedMetricSpecification"] == {
        "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": EP}], "Statistic": "Average"}
    step = pols["wake-from-zero"]
    assert step["PolicyType"] == "StepScaling"
    assert step["StepScalingPolicyConfiguration"] == {
        "AdjustmentType": "ChangeInCapacity", "StepAdjustments": [{"MetricIntervalLowerBound": 0.0,
                                                                   "ScalingAdjustment": 1}],
        "Cooldown": 300, "MetricAggregationType": "Average"}
    assert [a["AlarmName"] for a in step["Alarms"]] == ["wake-from-zero-alarm"]

    alarm = clients.cloudwatch.describe_alarms(AlarmNames=["wake-from-zero-alarm"])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [step["PolicyARN"]]
    assert (alarm["MetricName"], alarm["Namespace"], alarm["Statistic"], alarm["Period"]) == (
        "HasBacklogWithoutCapacity", "AWS/SageMaker", "Average", 60)
    assert alarm["Dimensions"] == [{"Name": "EndpointName", "Value": EP}]
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["Threshold"]) == (2, 2, 1.0)
    assert (alarm["ComparisonOperator"], alarm["TreatMissingData"]) == ("GreaterThanOrEqualToThreshold", "missing")

    # the cron action is in place; the relative one waits for the load
    acts = actions(clients)
    assert set(acts) == {"weekday-floor"}
    assert acts["weekday-floor"]["Schedule"] == "cron(0 8 ? * MON-FRI *)"
    assert acts["weekday-floor"]["Timezone"] == "Europe/Paris"
    assert acts["weekday-floor"]["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 5}
    assert any("start_capacity" in line and "0 instance" in line for line in said), said
    assert any("after-load" in line and "when the load starts" in line for line in said), said

    # a relative action, put as the run does once the load has started
    p = profile()
    after_load = p.scaling.scheduled_actions[1]
    load_start = clock.endpoint_ts()
    fire = relative_action_ts(after_load, p, load_start)
    assert fire == load_start + 180
    assert put_relative_action(clients, p, after_load, fire) == at_expression(fire)
    put = actions(clients)["after-load"]
    assert put["Schedule"] == at_expression(fire) and put["ScalableTargetAction"] == {"MinCapacity": 0}


def test_a_scenario_without_a_policy_does_not_inherit_it(emulator: tuple[Clients, Clock]) -> None:
    clients, clock = emulator
    prepare(clients, profile(), clock, lambda _m: None, **LOCAL)
    # left over from elsewhere: a scheduled action and a policy the profile does not name
    clients.autoscaling.put_scheduled_action(**TARGET, ScheduledActionName="stray", Schedule="rate(1 day)",
                                             ScalableTargetAction={"MinCapacity": 1})
    clients.autoscaling.put_scaling_policy(
        **TARGET, PolicyName="stray-policy", PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 9.0, "CustomizedMetricSpecification": {
                "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
                "Dimensions": [{"Name": "EndpointName", "Value": EP}], "Statistic": "Average"}})

    said: list[str] = []
    prepare(clients, profile().for_scenario("without-wake"), clock, said.append, **LOCAL)
    assert set(policies(clients)) == {"backlog-per-instance"}
    assert clients.cloudwatch.describe_alarms(AlarmNames=["wake-from-zero-alarm"])["MetricAlarms"] == []
    assert set(actions(clients)) == {"weekday-floor"}  # stray deleted, the old relative one too
    assert any("deleted policy wake-from-zero" in line for line in said), said
    assert any("deleted policy stray-policy" in line for line in said), said
    assert any("deleted scheduled action stray" in line for line in said), said
    assert clients.sagemaker.describe_endpoint(EndpointName=EP)["ProductionVariants"][0]["CurrentInstanceCount"] == 0


def test_start_capacity_moves_a_running_variant(emulator: tuple[Clients, Clock]) -> None:
    clients, clock = emulator
    prepare(clients, profile(start_capacity=2), clock, lambda _m: None, **LOCAL)
    variant = clients.sagemaker.describe_endpoint(EndpointName=EP)["ProductionVariants"][0]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)


def test_against_aws_buckets_are_only_checked(emulator: tuple[Clients, Clock]) -> None:
    clients, _clock = emulator
    data = copy.deepcopy(PROFILE)
    data["endpoint"]["async"]["output_path"] = "s3://nobody-made-this/out"
    with pytest.raises(ConfigError) as err:
        ensure_buckets(clients, parse_profile(data), lambda _m: None, local=False)
    assert "endpoint.async.output_path" in str(err.value) and "nobody-made-this" in str(err.value)
    assert "NoSuchBucket" in str(err.value)
    assert "nobody-made-this" not in {b["Name"] for b in clients.s3.list_buckets()["Buckets"]}


def test_an_existing_endpoint_of_the_other_type_is_refused(emulator: tuple[Clients, Clock]) -> None:
    clients, clock = emulator
    ensure_endpoint(clients, profile(), clock, lambda _m: None)  # the async endpoint exists
    data = copy.deepcopy(PROFILE)
    data["endpoint"] = {"name": EP, "variant": VARIANT}
    data["scaling"] = {"min_capacity": 1, "max_capacity": 2, "policies": [
        {"type": "target_tracking", "name": "t", "target_value": 10}]}
    data["expectations"], data["scenarios"] = [], []
    with pytest.raises(ConfigError, match="endpoint.type: the profile says realtime"):
        ensure_endpoint(clients, parse_profile(data), clock, lambda _m: None)
