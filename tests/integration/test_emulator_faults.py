"""Injected faults (``harness.emulator.faults``), STS and Service Quotas, through real boto3 clients.

Each fault kind is observed as a boto3 user sees it: deny and throttle as ``ClientError`` with AWS's codes
(and, for throttling, botocore's retries counted by the rule), delay and drop as a late answer or a closed
connection, bounded by short client timeouts. Rules are set through ``/_emulator/faults`` as a test of a
real ``scalecheck run`` would; every test starts with none.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from harness.autoscaling.params import ModelParams
from harness.emulator import fastpath
from harness.emulator.app import Emulator
from harness.emulator.http import ServerHandle
from harness.emulator.process import EmulatorProcess
from harness.emulator.quotas import quota_code
from tests.emulator_support import client, deploy, running

pytestmark = pytest.mark.integration

SPEED = 100.0
PARAMS = ModelParams(endpoint_create_delay_s=10, provisioning_delay_s=30, deprovision_delay_s=10,
                     instance_quota={"ml.m5.large": 3})
EP = "faulty"
ACCOUNT = "000000000000"
CALLER = f"arn:aws:iam::{ACCOUNT}:user/test"
RID = f"endpoint/{EP}/variant/AllTraffic"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, ServerHandle]]:
    with running(PARAMS, SPEED) as (emu, handle):
        deploy(client(handle.url, "sagemaker"), EP, instances=2)
        yield emu, handle


@pytest.fixture
def url(served: tuple[Emulator, ServerHandle]) -> Iterator[str]:
    emu, handle = served
    assert route(handle.url, "DELETE") == {"rules": []}
    yield handle.url
    emu.faults.clear()


class Clients:
    """boto3 clients for the emulator, each closed at the end of the test (no leaked connections)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[Any] = []

    def __call__(self, service: str, attempts: int = 1, **config: Any) -> Any:
        """A client for ``service``: ``attempts`` in all, with botocore's standard retries beyond one."""
        retries = {"mode": "standard", "total_max_attempts": attempts}
        cfg = botocore.config.Config(retries=retries, s3={"addressing_style": "path"}, **config)
        made = boto3.Session().client(service, endpoint_url=self.url, region_name="us-east-1",
                                      aws_access_key_id="test", aws_secret_access_key="test", config=cfg)
        self.made.append(made)
        return made


@pytest.fixture
def aws(url: str) -> Iterator[Clients]:
    clients = Clients(url)
    yield clients
    for made in clients.made:
        made.close()


def route(url: str, method: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/_emulator/faults", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def put_rules(url: str, *rules: dict[str, Any]) -> None:
    route(url, "POST", {"rules": list(rules)})


def counters(url: str) -> list[tuple[int, int]]:
    return [(r["matched"], r["applied"]) for r in route(url, "GET")["rules"]]


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int, int]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    response = info.value.response
    meta = response["ResponseMetadata"]
    return response["Error"]["Code"], response["Error"].get("Message", ""), meta["HTTPStatusCode"], meta.get(
        "RetryAttempts", 0)


def denied(action: str, resource: str | None = None) -> str:
    where = f" on resource: {resource}" if resource else ""
    return (f"User: {CALLER} is not authorized to perform: {action}{where} because no identity-based policy "
            f"allows the {action} action")


# --- the route ----------------------------------------------------------------------------------------


def test_the_route_sets_lists_appends_and_refuses_bad_rules(url: str) -> None:
    put_rules(url, {"fault": "throttle", "match": "cloudwatch:GetMetricData", "rate": 0.5})
    route(url, "POST", {"rules": [{"fault": "delay", "match": "application-autoscaling:*", "seconds": 2}],
                        "append": True})
    assert route(url, "GET")["rules"] == [
        {"fault": "throttle", "match": "cloudwatch:GetMetricData", "rate": 0.5, "seconds": 0.0, "times": None,
         "matched": 0, "applied": 0},
        {"fault": "delay", "match": "application-autoscaling:*", "rate": 1.0, "seconds": 2, "times": None,
         "matched": 0, "applied": 0}]
    for bad, why in [({"fault": "explode", "match": "*"}, "fault must be one of"),
                     ({"fault": "deny", "match": "sagemaker:NoSuchThing"}, "no operation 'NoSuchThing'"),
                     ({"fault": "deny", "match": "ec2:*"}, "unknown service 'ec2'"),
                     ({"fault": "throttle", "match": "*", "rate": 0}, "rate must be"),
                     ({"fault": "delay", "match": "*"}, "seconds (> 0) is required")]:
        with pytest.raises(urllib.error.HTTPError) as err:
            put_rules(url, bad)
        assert err.value.code == 400
        assert why in json.load(err.value)["error"]
    assert len(route(url, "GET")["rules"]) == 2  # a refused POST changes nothing


# --- deny ---------------------------------------------------------------------------------------------


def test_deny_answers_as_iam_does_in_each_protocol(url: str, aws: Clients) -> None:
    put_rules(url, {"fault": "deny", "match": "sagemaker:DescribeEndpoint"},
              {"fault": "deny", "match": "cloudwatch:GetMetricData"},
              {"fault": "deny", "match": "application-autoscaling:RegisterScalableTarget"},
              {"fault": "deny", "match": "s3:GetObject"},
              {"fault": "deny", "match": "sts:*"})
    sm = aws("sagemaker")
    assert error_of(sm.describe_endpoint, EndpointName=EP) == (
        "AccessDeniedException", denied("sagemaker:DescribeEndpoint",
                                        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{EP}"), 400, 0)
    assert sm.list_endpoints()["Endpoints"]  # other actions stay allowed
    # CloudWatch (smithy-rpc-v2-cbor, awsQueryCompatible): botocore reports the query code AccessDenied
    now = time.time()
    code, message, status, _ = error_of(
        aws("cloudwatch").get_metric_data, StartTime=now - 600, EndTime=now, MetricDataQueries=[
            {"Id": "m0", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"},
                                        "Period": 60, "Stat": "Sum"}}])
    assert (code, message, status) == ("AccessDenied", denied("cloudwatch:GetMetricData"), 400)
    aas = aws("application-autoscaling")
    assert error_of(aas.register_scalable_target, ServiceNamespace="sagemaker", ResourceId=RID,
                    ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1, MaxCapacity=2)[:3] == (
        "AccessDeniedException", denied("application-autoscaling:RegisterScalableTarget",
                                        f"arn:aws:application-autoscaling:us-east-1:{ACCOUNT}:scalable-target/*"), 400)
    s3 = aws("s3")
    s3.create_bucket(Bucket="denied-bucket")
    s3.put_object(Bucket="denied-bucket", Key="in/k", Body=b"x")
    assert error_of(s3.get_object, Bucket="denied-bucket", Key="in/k")[:3] == (
        "AccessDenied", denied("s3:GetObject", '"arn:aws:s3:::denied-bucket/in/k"'), 403)
    # AWS never denies GetCallerIdentity: the sts:* rule counts it but lets it through
    assert aws("sts").get_caller_identity()["Arn"] == CALLER
    assert counters(url) == [(1, 1), (1, 1), (1, 1), (1, 1), (1, 0)]


# --- throttle -----------------------------------------------------------------------------------------


def test_throttling_is_the_services_code_and_botocore_retries_it(url: str, aws: Clients) -> None:
    put_rules(url, {"fault": "throttle", "match": "sagemaker:DescribeEndpoint"},
              {"fault": "throttle", "match": "cloudwatch:DescribeAlarms"},
              {"fault": "throttle", "match": "service-quotas:*"},
              {"fault": "throttle", "match": "s3:HeadBucket"})
    code, message, status, retries = error_of(aws("sagemaker", 3).describe_endpoint, EndpointName=EP)
    assert (code, message, status, retries) == ("ThrottlingException", "Rate exceeded", 400, 2)
    assert error_of(aws("cloudwatch", 2).describe_alarms) == ("Throttling", "Rate exceeded", 400, 1)
    assert error_of(aws("service-quotas", 2).list_service_quotas, ServiceCode="sagemaker") == (
        "TooManyRequestsException", "Rate exceeded", 400, 1)
    s3 = aws("s3", 2)
    s3.create_bucket(Bucket="slow-bucket")
    assert error_of(s3.head_bucket, Bucket="slow-bucket")[2:] == (503, 1)  # SlowDown; a HEAD answer has no body
    assert counters(url) == [(3, 3), (2, 2), (2, 2), (2, 2)]  # every attempt reached the emulator


def test_a_rate_throttles_every_kth_call_deterministically(url: str, aws: Clients) -> None:
    put_rules(url, {"fault": "throttle", "match": "sagemaker:DescribeEndpoint", "rate": 0.5})
    sm = aws("sagemaker", 3)
    for _ in range(3):  # attempts 1, 3, 5 are throttled; each call succeeds on its retry
        response = sm.describe_endpoint(EndpointName=EP)
        assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert counters(url) == [(6, 3)]
    put_rules(url, {"fault": "throttle", "match": "sagemaker:*", "times": 1})
    assert sm.list_endpoints()["ResponseMetadata"]["RetryAttempts"] == 1
    assert sm.list_endpoints()["ResponseMetadata"]["RetryAttempts"] == 0
    assert counters(url) == [(3, 1)]


def test_faults_on_invoke_endpoint_leave_the_fast_path(served: tuple[Emulator, ServerHandle], url: str,
                                                       aws: Clients) -> None:
    emu, _ = served
    fast = fastpath.attached(emu.router)
    assert fast is not None
    runtime = aws("sagemaker-runtime")
    runtime.invoke_endpoint(EndpointName=EP, Body=b"1,2", ContentType="text/csv")["Body"].read()
    before = fast.served
    put_rules(url, {"fault": "throttle", "match": "sagemaker-runtime:InvokeEndpoint", "rate": 0.5})
    assert error_of(runtime.invoke_endpoint, EndpointName=EP, Body=b"1,2", ContentType="text/csv")[::2] == (
        "ThrottlingException", 400)
    assert runtime.invoke_endpoint(EndpointName=EP, Body=b"1,2", ContentType="text/csv")["Body"].read()
    assert fast.served == before and counters(url) == [(2, 1)]
    route(url, "DELETE")
    runtime.invoke_endpoint(EndpointName=EP, Body=b"1,2", ContentType="text/csv")["Body"].read()
    assert fast.served == before + 1


# --- delay and drop -----------------------------------------------------------------------------------


def test_delay_answers_late_and_a_short_read_timeout_gives_up(url: str, aws: Clients) -> None:
    put_rules(url, {"fault": "delay", "match": "sagemaker:ListEndpoints", "seconds": 1})
    began = time.monotonic()
    assert aws("sagemaker").list_endpoints()["Endpoints"]
    assert time.monotonic() - began >= 1.0
    impatient = aws("sagemaker", read_timeout=0.2)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        impatient.list_endpoints()
    assert counters(url) == [(2, 2)]


def test_drop_closes_the_connection_without_an_answer(url: str, aws: Clients) -> None:
    put_rules(url, {"fault": "drop", "match": "sagemaker:ListEndpoints"},
              {"fault": "drop", "match": "sagemaker-runtime:InvokeEndpoint", "times": 1})
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        aws("sagemaker").list_endpoints()
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        aws("sagemaker", 2).list_endpoints()  # retried, dropped again
    runtime = aws("sagemaker-runtime", 3)
    response = runtime.invoke_endpoint(EndpointName=EP, Body=b"1,2", ContentType="text/csv")
    assert response["Body"].read() and response["ResponseMetadata"]["RetryAttempts"] == 1
    assert counters(url) == [(3, 3), (2, 1)]


# --- STS and Service Quotas ---------------------------------------------------------------------------


def test_sts_get_caller_identity(url: str, aws: Clients) -> None:
    identity = aws("sts").get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == (ACCOUNT, CALLER)
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", identity["UserId"])
    assert aws("sts").get_caller_identity()["UserId"] == identity["UserId"]
    put_rules(url, {"fault": "throttle", "match": "sts:GetCallerIdentity"})
    assert error_of(aws("sts").get_caller_identity)[::2] == ("Throttling", 400)  # an XML error


def test_service_quotas_of_endpoint_instances(url: str, aws: Clients) -> None:
    sq = aws("service-quotas")
    pages = sq.get_paginator("list_service_quotas").paginate(ServiceCode="sagemaker", PaginationConfig={
        "PageSize": 50})
    quotas = {q["QuotaName"]: q for page in pages for q in page["Quotas"]}
    assert len(quotas) > 100  # every ProductionVariantInstanceType of the pinned model
    m5 = quotas["ml.m5.large for endpoint usage"]
    code = quota_code("ml.m5.large for endpoint usage")
    assert m5 == {"ServiceCode": "sagemaker", "ServiceName": "Amazon SageMaker", "QuotaCode": code,
                  "QuotaName": "ml.m5.large for endpoint usage",
                  "QuotaArn": f"arn:aws:servicequotas:us-east-1:{ACCOUNT}:sagemaker/{code}", "Value": 3.0,
                  "Unit": "None", "Adjustable": True, "GlobalQuota": False, "QuotaAppliedAtLevel": "ACCOUNT"}
    assert re.fullmatch(r"L-[0-9A-F]{8}", code)
    assert quotas["ml.g5.xlarge for endpoint usage"]["Value"] == 100.0  # instance_quota_default
    assert sq.get_service_quota(ServiceCode="sagemaker", QuotaCode=code)["Quota"] == m5
    assert error_of(sq.get_service_quota, ServiceCode="sagemaker", QuotaCode="L-00000000")[0] == (
        "NoSuchResourceException")
    assert error_of(sq.list_service_quotas, ServiceCode="ec2")[0] == "NoSuchResourceException"


def test_scaling_past_the_quota_fails_the_activity_and_keeps_the_capacity(url: str, aws: Clients) -> None:
    """Quota 3 of ml.m5.large, the endpoint at 2: a minimum of 5 fails; a direct update to 4 is refused."""
    aas, sm = aws("application-autoscaling"), aws("sagemaker")
    target = {"ServiceNamespace": "sagemaker", "ResourceId": RID,
              "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    aas.register_scalable_target(**target, MinCapacity=5, MaxCapacity=6)
    (activity,) = aas.describe_scaling_activities(**target)["ScalingActivities"]
    assert (activity["StatusCode"], activity["Cause"]) == ("Failed", "minimum capacity was set to 5")
    assert activity["StatusMessage"].startswith(
        "Failed to set desired instance count to 5. Reason: The account-level service limit 'ml.m5.large for "
        "endpoint usage' is 3 Instances, with current utilization of 2 Instances and a request delta of 3 "
        "Instances. Please use AWS Service Quotas to request an increase for this quota.")
    assert "Error Code: ResourceLimitExceeded" in activity["StatusMessage"]
    variant = sm.describe_endpoint(EndpointName=EP)["ProductionVariants"][0]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
    code, message, status, _ = error_of(sm.update_endpoint_weights_and_capacities, EndpointName=EP,
                                        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic",
                                                                      "DesiredInstanceCount": 4}])
    assert (code, status) == ("ResourceLimitExceeded", 400)
    assert "current utilization of 2 Instances and a request delta of 2 Instances" in message
    aas.deregister_scalable_target(**target)


def test_an_emulator_process_starts_with_faults() -> None:
    proc = EmulatorProcess.start(speed=SPEED, params=PARAMS, faults=[
        {"fault": "deny", "match": "sagemaker:ListEndpoints"}])
    sm = client(proc.url, "sagemaker")
    try:
        assert [(r["fault"], r["match"]) for r in route(proc.url, "GET")["rules"]] == [
            ("deny", "sagemaker:ListEndpoints")]
        assert error_of(sm.list_endpoints)[0] == "AccessDeniedException"
    finally:
        sm.close()
        proc.stop()
