"""Step scaling through real boto3 clients: the async guide's step policy + alarm, on a real-time metric.

aws-semantics §2 [S15-async-as]: ChangeInCapacity, Average, Cooldown 300, one step {LowerBound 0, +1};
the alarm is the user's (Sum, Period 60, 2 of 2, >= threshold, TreatMissingData missing). While the
alarm stays in ALARM its action repeats every minute (§1, S19) and the cooldown lets one +1 through
per 300 s (§2, S3).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.autoscaling.params import ModelParams
from tests.emulator_support import client, running, wait_until
from tests.emulator_support import deploy as support_deploy

pytestmark = pytest.mark.integration

SPEED = 120.0  # one endpoint minute = 0.5 s of wall time
PARAMS = ModelParams(endpoint_create_delay_s=60, provisioning_delay_s=60, deprovision_delay_s=30,
                     model_latency_ms=1, latency_jitter=0.0)
EP, VARIANT, DIM = "step-ep", "AllTraffic", "sagemaker:variant:DesiredInstanceCount"
RID = f"endpoint/{EP}/variant/{VARIANT}"


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    with running(PARAMS, SPEED) as (_emu, handle):
        made = {name: client(handle.url, name)
                for name in ("sagemaker", "sagemaker-runtime", "application-autoscaling", "cloudwatch")}
        yield made
        for c in made.values():
            c.close()


def deploy(sm: Any) -> None:
    support_deploy(sm, EP, variant=VARIANT)


def alarm_args(**override: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(
        AlarmName="busy", Namespace="AWS/SageMaker", MetricName="InvocationsPerInstance",
        Dimensions=[{"Name": "EndpointName", "Value": EP}, {"Name": "VariantName", "Value": VARIANT}],
        Statistic="Sum", Period=60, EvaluationPeriods=2, DatapointsToAlarm=2, Threshold=10.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="missing")
    return {**args, **override}


@pytest.mark.parametrize("override, message", [
    pytest.param({"Period": 30}, "multiple of 60", id="§2-period-not-multiple-of-60"),
    pytest.param({"DatapointsToAlarm": 3}, "DatapointsToAlarm", id="§2-m-greater-than-n"),
    pytest.param({"ComparisonOperator": "Above"}, "ComparisonOperator", id="§2-bad-comparison"),
    pytest.param({"TreatMissingData": "zero"}, "TreatMissingData", id="§2-bad-treat-missing"),
])
def test_put_metric_alarm_rejects(clients: dict[str, Any], override: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as err:
        clients["cloudwatch"].put_metric_alarm(**alarm_args(AlarmName="bad", **override))
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert message in err.value.response["Error"]["Message"]


def test_step_policy_scales_by_one_per_cooldown(clients: dict[str, Any]) -> None:
    sm, rt, aas, cw = (clients[n] for n in ("sagemaker", "sagemaker-runtime", "application-autoscaling",
                                             "cloudwatch"))
    deploy(sm)
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=RID, ScalableDimension=DIM,
                                 MinCapacity=1, MaxCapacity=3)
    step_config = {"AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Average", "Cooldown": 300,
                   "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]}
    put = aas.put_scaling_policy(PolicyName="scale-out", ServiceNamespace="sagemaker", ResourceId=RID,
                                 ScalableDimension=DIM, PolicyType="StepScaling",
                                 StepScalingPolicyConfiguration=step_config)
    assert put["Alarms"] == []
    arn = put["PolicyARN"]
    assert arn.endswith(f":resource/sagemaker/{RID}:policyName/scale-out")
    # An unknown action ARN is accepted, as AWS does (it simply does nothing).
    unknown = "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:0:resource/sagemaker/x:policyName/y"
    cw.put_metric_alarm(**alarm_args(AlarmActions=[arn, unknown]))
    described = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=RID)["ScalingPolicies"]
    assert [(p["PolicyType"], p["StepScalingPolicyConfiguration"], [a["AlarmName"] for a in p["Alarms"]])
            for p in described] == [("StepScaling", step_config, ["busy"])]

    def activities() -> list[dict[str, Any]]:
        acts = aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=RID)["ScalingActivities"]
        return sorted(acts, key=lambda a: a["StartTime"])

    def drive_until_two() -> bool:
        for _ in range(20):
            rt.invoke_endpoint(EndpointName=EP, Body=b"{}", ContentType="application/json")["Body"].read()
        return len(activities()) >= 2 and all(a["StatusCode"] == "Successful" for a in activities())

    wait_until(drive_until_two, "two successful step activities", timeout_s=30.0)
    acts = activities()
    assert [a["Description"] for a in acts] == ["Setting desired instance count to 2.",
                                                "Setting desired instance count to 3."]
    assert {a["Cause"] for a in acts} == {"monitor alarm busy in state ALARM triggered policy scale-out"}
    gap_s = (acts[1]["StartTime"] - acts[0]["StartTime"]).total_seconds()
    assert gap_s >= 300 - 1  # Cooldown 300: one +1 per cooldown although the action repeats every minute
    alarm = cw.describe_alarms(AlarmNames=["busy"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["AlarmActions"], alarm["DatapointsToAlarm"]) == ("ALARM", [arn, unknown], 2)
    assert alarm["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints")
    variant = sm.describe_endpoint(EndpointName=EP)["ProductionVariants"][0]
    assert variant["CurrentInstanceCount"] == 3
    cw.delete_alarms(AlarmNames=["busy"])
    assert cw.describe_alarms(AlarmNames=["busy"])["MetricAlarms"] == []
