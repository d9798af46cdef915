"""Asynchronous inference through real boto3 clients: AsyncInferenceConfig, InvokeEndpointAsync, results in S3.

One emulator serves the module at ``SPEED`` x wall time (one endpoint minute = 0.1 s), so a request
processed for ``async_processing_s`` = 30 endpoint seconds is done within 0.05 wall seconds, and the
whole scale-from-zero story of AWS's guide (two alarm minutes, a minute of provisioning, fifteen
minutes of target tracking's scale-in alarm) takes a few wall seconds. Every wait is bounded and
fails with what it was waiting for.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.autoscaling.params import ModelParams
from harness.emulator.app import Emulator
from harness.emulator.http import ServerHandle
from harness.emulator.runtime import fake_prediction
from harness.emulator.timestamps import to_datetime
from tests.emulator_support import client, running, wait_until

pytestmark = pytest.mark.integration

SPEED = 600.0
PROCESSING_S = 30.0
PARAMS = ModelParams(endpoint_create_delay_s=60, provisioning_delay_s=60, deprovision_delay_s=30,
                     latency_jitter=0.0, async_processing_s=PROCESSING_S)
BUCKET = "async-io"
VARIANT = "AllTraffic"
DIM = "sagemaker:variant:DesiredInstanceCount"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
_names = itertools.count()


class Aws:
    def __init__(self, emu: Emulator, url: str) -> None:
        self.emu, self.url = emu, url
        self.sm, self.rt, self.s3, self.aas, self.cw = (
            client(url, name) for name in ("sagemaker", "sagemaker-runtime", "s3", "application-autoscaling",
                                           "cloudwatch"))

    def close(self) -> None:
        for c in (self.sm, self.rt, self.s3, self.aas, self.cw):
            c.close()

    def deploy(self, *, instances: int = 1, max_concurrent: int | None = 2, failure_path: bool = True,
               output_path: str = f"s3://{BUCKET}/out", wait: bool = True) -> str:
        name = f"async-{next(_names)}"
        self.sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                             PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/m:1"})
        output_config = {"S3OutputPath": output_path}
        if failure_path:
            output_config["S3FailurePath"] = f"s3://{BUCKET}/failed/"
        async_config: dict[str, Any] = {"OutputConfig": output_config}
        if max_concurrent is not None:
            async_config["ClientConfig"] = {"MaxConcurrentInvocationsPerInstance": max_concurrent}
        self.sm.create_endpoint_config(EndpointConfigName=name, AsyncInferenceConfig=async_config, ProductionVariants=[
            {"VariantName": VARIANT, "ModelName": name, "InitialInstanceCount": instances,
             "InstanceType": "ml.m5.large"}])
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        if wait:
            self.wait_in_service(name)
        return name

    def wait_in_service(self, name: str) -> dict[str, Any]:
        return wait_until(lambda: (d := self.sm.describe_endpoint(EndpointName=name))["EndpointStatus"] == "InService"
                          and d, f"{name} InService", timeout_s=10)

    def upload(self, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="text/csv")
        return f"s3://{BUCKET}/{key}"

    def read(self, location: str, what: str, timeout_s: float = 60) -> dict[str, Any]:
        """The object at ``location`` once it exists (GetObject answers NoSuchKey until then)."""
        bucket, _, key = location.removeprefix("s3://").partition("/")

        def probe() -> dict[str, Any] | None:
            try:
                got = self.s3.get_object(Bucket=bucket, Key=key)
            except ClientError as err:
                if err.response["Error"]["Code"] == "NoSuchKey":
                    return None
                raise
            return {**got, "Body": got["Body"].read()}

        return wait_until(probe, f"{what} at {location}", timeout_s=timeout_s)

    def exists(self, location: str) -> bool:
        bucket, _, key = location.removeprefix("s3://").partition("/")
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=key)
        return any(o["Key"] == key for o in listed.get("Contents", []))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, ServerHandle]]:
    with running(PARAMS, SPEED) as pair:
        yield pair


@pytest.fixture(scope="module")
def aws(served: tuple[Emulator, ServerHandle]) -> Iterator[Aws]:
    made = Aws(served[0], served[1].url)
    made.s3.create_bucket(Bucket=BUCKET)
    yield made
    made.close()


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    r = caught.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r["ResponseMetadata"]["HTTPStatusCode"]


def test_async_inference_config_is_stored_and_described(aws: Aws) -> None:
    name = aws.deploy(max_concurrent=3)
    expected = {"OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/out", "S3FailurePath": f"s3://{BUCKET}/failed/"},
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 3}}
    assert aws.sm.describe_endpoint_config(EndpointConfigName=name)["AsyncInferenceConfig"] == expected
    assert aws.sm.describe_endpoint(EndpointName=name)["AsyncInferenceConfig"] == expected
    with aws.emu.lock:
        assert aws.emu.world.endpoints[name].async_config.max_concurrent_per_instance == 3  # handed to the model


@pytest.mark.parametrize("output_config, client_config, fragment", [
    ({"S3OutputPath": "https://bucket.s3.amazonaws.com/out"}, None, "s3OutputPath"),
    ({"S3OutputPath": f"s3://{BUCKET}/out", "S3FailurePath": "bucket/failed"}, None, "s3FailurePath"),
    ({"S3FailurePath": f"s3://{BUCKET}/failed"}, None, "S3OutputPath is required"),
    ({"S3OutputPath": f"s3://{BUCKET}/out"}, {"MaxConcurrentInvocationsPerInstance": 1001}, "between 1 and 1000"),
])
def test_async_inference_config_validation(aws: Aws, output_config: dict[str, str],
                                           client_config: dict[str, int] | None, fragment: str) -> None:
    config: dict[str, Any] = {"OutputConfig": output_config}
    if client_config:
        config["ClientConfig"] = client_config
    code, message, status = error_of(
        aws.sm.create_endpoint_config, EndpointConfigName=f"bad-{next(_names)}", AsyncInferenceConfig=config,
        ProductionVariants=[{"VariantName": VARIANT, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    assert (code, status) == ("ValidationException", 400) and fragment in message


def test_invoke_endpoint_async_writes_the_result_to_s3(aws: Aws) -> None:
    name = aws.deploy()
    source = aws.upload("in/round-trip.csv", b"1,2,3\n")
    response = aws.rt.invoke_endpoint_async(EndpointName=name, InputLocation=source, ContentType="text/csv",
                                            Accept="application/json")
    meta = response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 202
    inference_id = response["InferenceId"]
    assert re.fullmatch(UUID, inference_id)  # generated: a uuid4
    assert response["OutputLocation"] == f"s3://{BUCKET}/out/{inference_id}.out"
    assert response["FailureLocation"] == f"s3://{BUCKET}/failed/{inference_id}-error.out"
    assert meta["HTTPHeaders"]["x-amzn-sagemaker-outputlocation"] == response["OutputLocation"]
    started = time.monotonic()
    result = aws.read(response["OutputLocation"], "the result")
    assert time.monotonic() - started < 2.0
    assert result["Body"] == fake_prediction(b"1,2,3\n")
    assert result["ContentType"] == "application/json"  # the request's Accept
    assert not aws.exists(response["FailureLocation"])
    # caller-chosen id, extension and file name
    response = aws.rt.invoke_endpoint_async(EndpointName=name, InputLocation=source, InferenceId="my-id-1",
                                            S3OutputPathExtension="batch/7", Filename="answer.json",
                                            RequestTTLSeconds=600, InvocationTimeoutSeconds=120)
    assert response["InferenceId"] == "my-id-1"
    assert response["OutputLocation"] == f"s3://{BUCKET}/out/batch/7/answer.json"
    assert response["FailureLocation"] == f"s3://{BUCKET}/failed/my-id-1-error.out"
    assert aws.read(response["OutputLocation"], "the named result")["Body"] == fake_prediction(b"1,2,3\n")


def test_timeout_lands_at_the_failure_location(aws: Aws) -> None:
    name = aws.deploy(failure_path=True)
    source = aws.upload("in/slow.csv", b"9")
    response = aws.rt.invoke_endpoint_async(EndpointName=name, InputLocation=source,
                                            InvocationTimeoutSeconds=int(PROCESSING_S / 3))
    failure = aws.read(response["FailureLocation"], "the timeout failure")
    assert b"timed out" in failure["Body"] and b"InvocationTimeoutSeconds (10 s)" in failure["Body"]
    assert failure["ContentType"] == "text/plain"
    assert not aws.exists(response["OutputLocation"])


def test_missing_input_and_missing_output_bucket(aws: Aws) -> None:
    name = aws.deploy(failure_path=False)
    response = aws.rt.invoke_endpoint_async(EndpointName=name, InputLocation=f"s3://{BUCKET}/in/never-uploaded")
    # without S3FailurePath failures go next to the outputs
    assert response["FailureLocation"] == f"s3://{BUCKET}/out/{response['InferenceId']}-error.out"
    failure = aws.read(response["FailureLocation"], "the download failure")
    assert b"Failed to download the input" in failure["Body"] and b"NoSuchKey" in failure["Body"]
    assert not aws.exists(response["OutputLocation"])
    # an output bucket that does not exist is not created: the result is dropped and recorded
    lost = aws.deploy(output_path="s3://no-such-output-bucket/out")
    source = aws.upload("in/lost.csv", b"1")
    response = aws.rt.invoke_endpoint_async(EndpointName=lost, InputLocation=source)
    wait_until(lambda: any(f[0] == response["InferenceId"] for f in aws.emu.async_write_failures),
               "the dropped result to be recorded")
    failure = next(f for f in aws.emu.async_write_failures if f[0] == response["InferenceId"])
    assert failure[1:] == (response["OutputLocation"], "NoSuchBucket: The specified bucket does not exist")
    assert "no-such-output-bucket" not in [b["Name"] for b in aws.s3.list_buckets()["Buckets"]]


def test_expired_request_lands_at_the_failure_location(aws: Aws) -> None:
    name = aws.deploy()
    rid = f"endpoint/{name}/variant/{VARIANT}"
    aws.aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM,
                                     MinCapacity=0, MaxCapacity=2)
    aws.sm.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=[
        {"VariantName": VARIANT, "DesiredInstanceCount": 0}])
    assert aws.wait_in_service(name)["ProductionVariants"][0]["CurrentInstanceCount"] == 0
    source = aws.upload("in/expiring.csv", b"1")
    response = aws.rt.invoke_endpoint_async(EndpointName=name, InputLocation=source, RequestTTLSeconds=60)
    failure = aws.read(response["FailureLocation"], "the expiry")
    assert failure["Body"], "an expired request says why"
    assert not aws.exists(response["OutputLocation"])


@pytest.mark.parametrize("kwargs, fragment", [
    ({}, "inputLocation"),  # optional in the pinned service model; AWS needs it (was a KeyError: 500)
    ({"InputLocation": "ftp://bucket/key"}, "inputLocation"),
    ({"InputLocation": "s3://b/k", "RequestTTLSeconds": 21601}, "requestTTLSeconds"),
    ({"InputLocation": "s3://b/k", "InvocationTimeoutSeconds": 3601}, "invocationTimeoutSeconds"),
    ({"InputLocation": "s3://b/k", "InferenceId": "x" * 65}, "inferenceId"),
    ({"InputLocation": "s3://b/k", "Filename": "a.b.c"}, "filename"),
    ({"InputLocation": "s3://b/k", "S3OutputPathExtension": "s3://x"}, "s3OutputPathExtension"),
])
def test_invoke_endpoint_async_validation(aws: Aws, kwargs: dict[str, Any], fragment: str) -> None:
    code, message, status = error_of(aws.rt.invoke_endpoint_async, EndpointName="whatever", **kwargs)
    assert (code, status) == ("ValidationError", 400) and fragment in message


def test_async_and_real_time_endpoints_refuse_each_others_calls(aws: Aws) -> None:
    name = aws.deploy()
    code, message, status = error_of(aws.rt.invoke_endpoint, EndpointName=name, Body=b"1")
    assert (code, status) == ("ValidationError", 400) and "InvokeEndpointAsync" in message
    aws.sm.create_model(ModelName="rt-model", ExecutionRoleArn="arn:aws:iam::000000000000:role/r",
                        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/m:1"})
    aws.sm.create_endpoint_config(EndpointConfigName="rt-config", ProductionVariants=[
        {"VariantName": VARIANT, "ModelName": "rt-model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    aws.sm.create_endpoint(EndpointName="rt-endpoint", EndpointConfigName="rt-config")
    aws.wait_in_service("rt-endpoint")
    code, message, status = error_of(aws.rt.invoke_endpoint_async, EndpointName="rt-endpoint",
                                     InputLocation=f"s3://{BUCKET}/in/x")
    assert (code, status) == ("ValidationError", 400) and "not an asynchronous endpoint" in message
    code, message, status = error_of(aws.rt.invoke_endpoint_async, EndpointName="no-such-endpoint",
                                     InputLocation=f"s3://{BUCKET}/in/x")
    assert (code, status) == ("ValidationError", 400) and "not found" in message


def _metric(aws: Aws, name: str, stat: str, dims: dict[str, str], start: Any, end: Any) -> list[tuple[Any, float]]:
    result = aws.cw.get_metric_data(StartTime=start, EndTime=end, ScanBy="TimestampAscending", MetricDataQueries=[
        {"Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": name, "Dimensions": [
            {"Name": k, "Value": v} for k, v in dims.items()]}, "Period": 60, "Stat": stat}}])
    series = result["MetricDataResults"][0]
    return list(zip(series["Timestamps"], series["Values"], strict=True))


def test_async_metrics_and_alarms_on_both_processed_spellings(aws: Aws) -> None:
    name = aws.deploy(max_concurrent=1)
    start = to_datetime(aws.emu.now())
    source = aws.upload("in/metrics.csv", b"1")
    ids = [aws.rt.invoke_endpoint_async(EndpointName=name, InputLocation=source)["OutputLocation"] for _ in range(3)]
    for location in ids:
        aws.read(location, "a result")
    variant_dims = {"EndpointName": name, "VariantName": VARIANT}
    for spelling in ("InvocationsProcesssed", "InvocationsProcessed"):
        aws.cw.put_metric_alarm(AlarmName=f"{name}-{spelling}", Namespace="AWS/SageMaker", MetricName=spelling,
                                Dimensions=[{"Name": k, "Value": v} for k, v in variant_dims.items()],
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanOrEqualToThreshold")
    aws.cw.put_metric_alarm(AlarmName=f"{name}-backlog", Namespace="AWS/SageMaker", MetricName="ApproximateBacklogSize",
                            Dimensions=[{"Name": "EndpointName", "Value": name}], Statistic="Maximum", Period=60,
                            EvaluationPeriods=1, Threshold=100, ComparisonOperator="GreaterThanOrEqualToThreshold")

    def processed() -> dict[str, float] | None:
        end = to_datetime(aws.emu.now())
        sums = {s: sum(v for _, v in _metric(aws, s, "Sum", variant_dims, start, end))
                for s in ("InvocationsProcesssed", "InvocationsProcessed")}
        return sums if all(v == 3 for v in sums.values()) else None

    assert wait_until(processed, "3 processed requests under both spellings") == {
        "InvocationsProcesssed": 3.0, "InvocationsProcessed": 3.0}
    end = to_datetime(aws.emu.now())
    backlog = _metric(aws, "ApproximateBacklogSize", "Maximum", {"EndpointName": name}, start, end)
    assert max(v for _, v in backlog) >= 2  # one slot: at least two waited
    assert _metric(aws, "ApproximateBacklogSize", "Maximum", variant_dims, start, end) == []  # EndpointName only
    assert {v for _, v in _metric(aws, "HasBacklogWithoutCapacity", "Average", {"EndpointName": name}, start,
                                  end)} == {0.0}
    for metric in ("Invocations", "InvocationsPerInstance", "OverheadLatency"):  # not published for async
        assert _metric(aws, metric, "Sum", variant_dims, start, end) == []

    def states() -> dict[str, str] | None:
        alarms = aws.cw.describe_alarms(AlarmNamePrefix=f"{name}-")["MetricAlarms"]
        found = {a["AlarmName"].removeprefix(f"{name}-"): a["StateValue"] for a in alarms}
        return found if "INSUFFICIENT_DATA" not in found.values() else None

    found = wait_until(states, "the alarms to evaluate their metrics")
    assert found["backlog"] == "OK"
    assert {found["InvocationsProcesssed"], found["InvocationsProcessed"]} <= {"OK", "ALARM"}
    described = aws.cw.describe_alarms(AlarmNames=[f"{name}-backlog"])["MetricAlarms"][0]
    assert described["Dimensions"] == [{"Name": "EndpointName", "Value": name}]


# ---------------------------------------------------------------------------------------------------------
# AWS's guide "Autoscale an asynchronous endpoint", its boto3 calls verbatim (placeholders filled in).


def guide_calls(endpoint_name: str, variant_name: str, step_scaling_policy_alarm_name: str) -> str:
    """The guide's calls, verbatim but for the filled placeholders; returns the step policy's ARN.

    ``boto3.client(...)`` builds default-session clients: the test points them at the emulator
    through the environment (AWS_ENDPOINT_URL, test credentials), as a user of the guide would.
    """
    # Common class representing application autoscaling for SageMaker
    client = boto3.client('application-autoscaling')
    cw_client = boto3.client('cloudwatch')  # placeholder: the guide uses cw_client without creating it

    # This is the format in which application autoscaling references the endpoint
    resource_id='endpoint/' + endpoint_name + '/variant/' + variant_name

    # Define and register your endpoint variant
    response = client.register_scalable_target(
        ServiceNamespace='sagemaker',
        ResourceId=resource_id,
        ScalableDimension='sagemaker:variant:DesiredInstanceCount', # The number of EC2 instances for your Amazon SageMaker model endpoint variant.  # noqa: E501 (verbatim)
        MinCapacity=0,
        MaxCapacity=5
    )

    # Target tracking configuration (used with put_scaling_policy PolicyType='TargetTrackingScaling'):
    TargetTrackingScalingPolicyConfiguration={
            'TargetValue': 5.0, # The target value for the metric. Here the metric is: ApproximateBacklogSizePerInstance
            'CustomizedMetricSpecification': {
                'MetricName': 'ApproximateBacklogSizePerInstance',
                'Namespace': 'AWS/SageMaker',
                'Dimensions': [
                    {'Name': 'EndpointName', 'Value': endpoint_name }
                ],
                'Statistic': 'Average',
            }
        }
    # placeholder: the call the guide's comment above names, with the guide's configuration
    response = client.put_scaling_policy(
        PolicyName='Invocations-ScalingPolicy',
        ServiceNamespace='sagemaker',
        ResourceId=resource_id,
        ScalableDimension='sagemaker:variant:DesiredInstanceCount',
        PolicyType='TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration=TargetTrackingScalingPolicyConfiguration,
    )

    response = client.put_scaling_policy(
        PolicyName="HasBacklogWithoutCapacity-ScalingPolicy",
        ServiceNamespace="sagemaker",  # The namespace of the service that provides the resource.
        ResourceId=resource_id,  # Endpoint name
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",  # SageMaker supports only Instance Count
        PolicyType="StepScaling",  # 'StepScaling' or 'TargetTrackingScaling'
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity", # Specifies whether the ScalingAdjustment value in the StepAdjustment property is an absolute number or a percentage of the current capacity.  # noqa: E501 (verbatim)
            "MetricAggregationType": "Average", # The aggregation type for the CloudWatch metrics.
            "Cooldown": 300, # The amount of time, in seconds, to wait for a previous scaling activity to take effect.
            "StepAdjustments": # A set of adjustments that enable you to scale based on the size of the alarm breach.
            [
                {
                  "MetricIntervalLowerBound": 0,
                  "ScalingAdjustment": 1
                }
              ]
        },
    )
    step_scaling_policy_arn = response['PolicyARN']  # placeholder: "the PolicyARN returned by the step call"

    response = cw_client.put_metric_alarm(
        AlarmName=step_scaling_policy_alarm_name,
        MetricName='HasBacklogWithoutCapacity',
        Namespace='AWS/SageMaker',
        Statistic='Average',
        EvaluationPeriods= 2,
        DatapointsToAlarm= 2,
        Threshold= 1,
        ComparisonOperator='GreaterThanOrEqualToThreshold',
        TreatMissingData='missing',
        Dimensions=[
            { 'Name':'EndpointName', 'Value':endpoint_name },
        ],
        Period= 60,
        AlarmActions=[step_scaling_policy_arn]
    )
    client.close()
    cw_client.close()
    return step_scaling_policy_arn


@pytest.fixture
def default_session_at(served: tuple[Emulator, ServerHandle], monkeypatch: pytest.MonkeyPatch,
                       tmp_path: Path) -> None:
    """``boto3.client(name)`` (the default session) talks to the emulator, whatever the machine's AWS setup."""
    for var in [v for v in os.environ if v.startswith("AWS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_ENDPOINT_URL", served[1].url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def test_aws_async_autoscaling_guide_scales_from_zero_and_back(aws: Aws, default_session_at: None) -> None:
    """The guide's step policy + alarm take the variant 0 -> 1 on a backlog; target tracking takes it back to 0."""
    name = aws.deploy(instances=1, max_concurrent=2)
    alarm_name = f"{name}-HasBacklogWithoutCapacity"
    rid = f"endpoint/{name}/variant/{VARIANT}"
    step_arn = guide_calls(name, VARIANT, alarm_name)
    assert step_arn.endswith(f":resource/sagemaker/{rid}:policyName/HasBacklogWithoutCapacity-ScalingPolicy")
    # to zero by hand first (the variant is registered with MinCapacity 0)
    aws.sm.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=[
        {"VariantName": VARIANT, "DesiredInstanceCount": 0}])
    described = aws.wait_in_service(name)
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 0
    target = aws.aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 5)

    start = to_datetime(aws.emu.now())
    inputs = [aws.upload(f"in/guide-{i}.csv", f"{i},{i}".encode()) for i in range(3)]
    invoked = [aws.rt.invoke_endpoint_async(EndpointName=name, InputLocation=src) for src in inputs]
    assert {r["ResponseMetadata"]["HTTPStatusCode"] for r in invoked} == {202}
    time.sleep(0.05)
    assert not any(aws.exists(r["OutputLocation"]) for r in invoked), "no instance: the requests wait"

    # 1. HasBacklogWithoutCapacity = 1 for two whole minutes -> the alarm goes to ALARM
    def alarm() -> dict[str, Any] | None:
        found = aws.cw.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]
        return found if found["StateValue"] == "ALARM" else None

    in_alarm = wait_until(alarm, f"{alarm_name} in ALARM", timeout_s=10)
    assert in_alarm["AlarmActions"] == [step_arn]
    assert in_alarm["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints")

    # 2. the step policy's activity: 0 -> 1, caused by the alarm through the policy
    def activities() -> list[dict[str, Any]]:
        acts = aws.aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingActivities"]
        return sorted(acts, key=lambda a: a["StartTime"])

    up = wait_until(lambda: [a for a in activities() if a["Description"] == "Setting desired instance count to 1."],
                    "the scale-up activity", timeout_s=10)[0]
    assert up["Cause"] == f"monitor alarm {alarm_name} in state ALARM triggered policy " \
                          "HasBacklogWithoutCapacity-ScalingPolicy"
    updating = aws.sm.describe_endpoint(EndpointName=name)
    assert updating["ProductionVariants"][0]["DesiredInstanceCount"] == 1
    wait_until(lambda: aws.sm.describe_endpoint(EndpointName=name)["ProductionVariants"][0]
               ["CurrentInstanceCount"] == 1, "the instance InService", timeout_s=10)

    # 3. the queued requests complete once the instance is up
    results = [aws.read(r["OutputLocation"], "a queued request's result") for r in invoked]
    assert [r["Body"] for r in results] == [fake_prediction(f"{i},{i}".encode()) for i in range(3)]
    assert min(r["LastModified"] for r in results) >= up["StartTime"].replace(microsecond=0)

    # 4. the backlog stays empty -> target tracking's scale-in takes the variant back to 0
    down = wait_until(lambda: [a for a in activities() if a["Description"] == "Setting desired instance count to 0."
                               and a["StatusCode"] == "Successful"], "the scale-in to 0", timeout_s=15)[0]
    assert "Invocations-ScalingPolicy" in down["Cause"] and down["StartTime"] > up["StartTime"]
    assert max(r["LastModified"] for r in results) <= down["StartTime"]
    final = wait_until(lambda: (d := aws.sm.describe_endpoint(EndpointName=name))["EndpointStatus"] == "InService"
                       and d["ProductionVariants"][0]["CurrentInstanceCount"] == 0 and d,
                       "the variant at 0 instances", timeout_s=10)
    assert final["ProductionVariants"][0]["DesiredInstanceCount"] == 0
    assert wait_until(lambda: aws.cw.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]["StateValue"] == "OK",
                      f"{alarm_name} back to OK")

    # The metrics tell the same story (EndpointName dimension only).
    end = to_datetime(aws.emu.now()) + timedelta(minutes=1)
    dims = {"EndpointName": name}
    backlog = _metric(aws, "ApproximateBacklogSize", "Maximum", dims, start, end)
    without = _metric(aws, "HasBacklogWithoutCapacity", "Average", dims, start, end)
    assert max(v for _, v in backlog) == 3 and backlog[-1][1] == 0
    assert 1.0 in [v for _, v in without] and without[-1][1] == 0
    first_breach = next(ts for ts, v in without if v == 1.0)
    assert first_breach < up["StartTime"]
    with closing(client(aws.url, "sagemaker")) as sm:
        assert sm.describe_endpoint(EndpointName=name)["AsyncInferenceConfig"]["ClientConfig"] == {
            "MaxConcurrentInvocationsPerInstance": 2}
