"""Every operation the emulator implements, round-tripped through real boto3 clients.

One emulator runs in-process for the module at ``SPEED`` x wall time with minute-scale model delays,
so an endpoint comes InService, a period of metrics is published and an alarm is evaluated within a
fraction of a wall second. Each operation gets a happy path (the response fields a user relies on)
and sad paths (the AWS error code, message and HTTP status as botocore surfaces them). Emulators with
other parameters (overload) are started per test.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness.autoscaling.params import ModelParams
from harness.emulator import cbor
from harness.emulator.app import Emulator
from harness.emulator.http import start_in_thread
from harness.emulator.runtime import fake_prediction
from tests.emulator_support import running, wait_until

pytestmark = pytest.mark.integration

SPEED = 600.0  # one endpoint minute = 0.1 s of wall time
PARAMS = ModelParams(endpoint_create_delay_s=60, provisioning_delay_s=60, deprovision_delay_s=30,
                     model_latency_ms=50, latency_jitter=0.0)
REGION = "us-east-1"
ACCOUNT = "000000000000"
DIM = "sagemaker:variant:DesiredInstanceCount"
VARIANT = "AllTraffic"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
SM_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
WIRES = [pytest.param("json", id="cw-json-1.0"), pytest.param("cbor", id="cw-rpc-v2-cbor")]
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int, dict[str, Any]]:
    """(code, message, HTTP status, whole response) of a call that must fail with a ClientError."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    assert response["ResponseMetadata"]["RequestId"], "every AWS answer carries a request id"
    assert "Traceback" not in str(response)
    return (response["Error"]["Code"], response["Error"].get("Message", ""),
            response["ResponseMetadata"]["HTTPStatusCode"], response)


def fill(value: Any, names: dict[str, str]) -> Any:
    """``value`` with ``{placeholders}`` in its strings replaced from ``names``."""
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value


def datetimes(value: Any) -> list[datetime]:
    """Every datetime in a boto3 response (ResponseMetadata excluded)."""
    if isinstance(value, datetime):
        return [value]
    if isinstance(value, dict):
        return [d for k, v in value.items() if k != "ResponseMetadata" for d in datetimes(v)]
    if isinstance(value, list):
        return [d for v in value for d in datetimes(v)]
    return []


class Aws:
    """Real boto3 clients for one running emulator, plus deployment helpers."""

    def __init__(self, emu: Emulator, url: str, sessions: dict[str, boto3.Session]) -> None:
        self.emu = emu
        self.url = url
        self._sessions = sessions
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self._pool: dict[tuple[int, tuple[str, ...]], list[str]] = {}

    def prepare(self, count: int, *, instances: int = 1, variants: tuple[str, ...] = (VARIANT,)) -> None:
        """Start creating ``count`` endpoints for :meth:`fresh` now, so tests do not each wait for one."""
        self._pool.setdefault((instances, variants), []).extend(
            self.deploy(unique("pool"), instances=instances, variants=variants, wait=False) for _ in range(count))

    def fresh(self, *, instances: int = 1, variants: tuple[str, ...] = (VARIANT,)) -> str:
        """An InService endpoint no other test uses (from the prepared pool when one is left)."""
        pool = self._pool.get((instances, variants))
        if not pool:
            return self.deploy(unique("ep"), instances=instances, variants=variants)
        name = pool.pop(0)
        self.wait_status(name, "InService")
        return name

    def client(self, service: str, *, wire: str = "json", key: str = "test", secret: str = "test",
               validate: bool = True) -> Any:
        """A cached client; ``wire='cbor'`` makes CloudWatch speak smithy-rpc-v2-cbor."""
        cache_key = (service, wire, key, secret, validate)
        with self._lock:
            if cache_key not in self._clients:
                self._clients[cache_key] = self._sessions[wire].client(
                    service, endpoint_url=self.url, region_name=REGION, aws_access_key_id=key,
                    aws_secret_access_key=secret,
                    # total_max_attempts=1: no retries at all (max_attempts counts retries only, so
                    # max_attempts=1 would retry a ThrottlingException or a 500 once).
                    config=botocore.config.Config(retries={"total_max_attempts": 1},
                                                  parameter_validation=validate))
            return self._clients[cache_key]

    @property
    def sm(self) -> Any:
        return self.client("sagemaker")

    @property
    def rt(self) -> Any:
        return self.client("sagemaker-runtime")

    @property
    def aas(self) -> Any:
        return self.client("application-autoscaling")

    def cw(self, wire: str = "json") -> Any:
        return self.client("cloudwatch", wire=wire)

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        """InvokeEndpoint with the body read (an unread body would leak its connection)."""
        out = self.rt.invoke_endpoint(**kwargs)
        return {**out, "Body": out["Body"].read()}

    def clock(self) -> dict[str, float]:
        with urllib.request.urlopen(f"{self.url}/_emulator/clock", timeout=5) as resp:
            return json.load(resp)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock()["endpoint_ts"], tz=UTC)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def deploy(self, name: str, *, instances: int = 1, variants: tuple[str, ...] = (VARIANT,),
               wait: bool = True) -> str:
        """Model + endpoint config + endpoint ``name``; waits for InService unless ``wait=False``."""
        self.sm.create_model(ModelName=f"{name}-model", ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                             PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/m:1"})
        self.sm.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=[
            {"VariantName": v, "ModelName": f"{name}-model", "InitialInstanceCount": instances,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0} for v in variants])
        self.sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
        if wait:
            self.wait_status(name, "InService")
        return name

    def status(self, name: str) -> str:
        return self.sm.describe_endpoint(EndpointName=name)["EndpointStatus"]

    def wait_status(self, name: str, status: str) -> dict[str, Any]:
        return wait_until(lambda: (d := self.sm.describe_endpoint(EndpointName=name))["EndpointStatus"] == status
                          and d, f"{name} {status}")

    def register(self, name: str, min_c: int = 1, max_c: int = 4, **extra: Any) -> dict[str, Any]:
        return self.aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource(name),
                                                 ScalableDimension=DIM, MinCapacity=min_c, MaxCapacity=max_c,
                                                 **extra)

    def put_policy(self, name: str, policy: str, target: float, **config: Any) -> dict[str, Any]:
        return self.aas.put_scaling_policy(
            PolicyName=policy, ServiceNamespace="sagemaker", ResourceId=resource(name), ScalableDimension=DIM,
            PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration={
                "TargetValue": target, "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}, **config})


def resource(endpoint: str, variant: str = VARIANT) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, boto3.Session]:
    """One boto3 session per wire, shared (a client from a warm session is cheap to make).

    ``cbor``: a botocore data path whose CloudWatch model offers only smithy-rpc-v2-cbor, so the client
    speaks it (the pinned botocore resolves ``json`` first: see test_cloudwatch_protocol).
    """
    root: Path = tmp_path_factory.mktemp("botocore-data")
    data = botocore.session.get_session().get_component("data_loader").load_service_model("cloudwatch", "service-2")
    data = {**data, "metadata": {**data["metadata"], "protocols": ["smithy-rpc-v2-cbor"]}}
    folder = root / "cloudwatch" / data["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(data))
    core = botocore.session.get_session()
    core.set_config_variable("data_path", str(root))
    return {"json": boto3.Session(), "cbor": boto3.Session(botocore_session=core)}


@pytest.fixture(scope="module")
def aws(sessions: dict[str, boto3.Session]) -> Iterator[Aws]:
    with running(PARAMS, SPEED) as (emu, handle):
        env = Aws(emu, handle.url, sessions)
        for service in ("sagemaker", "sagemaker-runtime", "application-autoscaling"):
            env.client(service)  # created up front: a first client takes tens of ms, Creating lasts 100
        env.cw(), env.cw("cbor")
        env.prepare(10)
        env.prepare(1, instances=2)
        env.prepare(1, variants=(VARIANT, "Shadow"))
        env.prepare(1, variants=("A", "B"))
        try:
            yield env
        finally:
            env.close()


@pytest.fixture(scope="module")
def base(aws: Aws) -> dict[str, str]:
    """One InService endpoint (1 instance) the read-only tests share; names for ``fill``."""
    name = aws.fresh()
    return {"endpoint": name, "model": f"{name}-model", "config": f"{name}-config", "resource": resource(name),
            "arn": SM_ARN}


@pytest.fixture(scope="module")
def traffic(aws: Aws) -> dict[str, Any]:
    """12 invocations on a 2-instance endpoint, waited for until CloudWatch publishes them."""
    name = aws.fresh(instances=2)
    start = aws.now()
    for i in range(12):
        aws.invoke(EndpointName=name, Body=f"{i},1".encode(), ContentType="text/csv")
    query = {"Id": "inv", "MetricStat": {"Metric": metric(name, "Invocations"), "Period": 60, "Stat": "Sum"}}

    def published() -> bool:
        got = aws.cw().get_metric_data(MetricDataQueries=[query], StartTime=start - timedelta(minutes=5),
                                       EndTime=aws.now() + timedelta(minutes=5))
        return sum(got["MetricDataResults"][0]["Values"]) == 12

    wait_until(published, "12 invocations to be published")
    return {"endpoint": name, "start": start, "end": aws.now()}


def metric(endpoint: str, name: str) -> dict[str, Any]:
    return {"Namespace": "AWS/SageMaker", "MetricName": name,
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}]}


# ============================================================================ SageMaker control plane
def test_model_create_describe_delete(aws: Aws) -> None:
    name = unique("Model")
    arn = f"{SM_ARN}:model/{name.lower()}"
    before = aws.now()
    created = aws.sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::1:role/r",
                                  PrimaryContainer={"Image": "img:1", "Environment": {"A": "1"}})
    assert created["ModelArn"] == arn
    got = aws.sm.describe_model(ModelName=name)
    assert (got["ModelName"], got["ModelArn"], got["ExecutionRoleArn"]) == (name, arn, "arn:aws:iam::1:role/r")
    assert got["PrimaryContainer"] == {"Image": "img:1", "Environment": {"A": "1"}}
    assert before <= got["CreationTime"] <= aws.now() and got["CreationTime"].tzinfo is not None

    code, message, status, _ = error_of(aws.sm.create_model, ModelName=name, ExecutionRoleArn="arn:aws:iam::1:role/r")
    assert (code, status) == ("ValidationException", 400)
    assert message == f'Cannot create already existing model "{arn}".'

    assert aws.sm.delete_model(ModelName=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    for op in (aws.sm.describe_model, aws.sm.delete_model):
        code, message, status, _ = error_of(op, ModelName=name)
        assert (code, message, status) == ("ValidationException", f'Could not find model "{arn}".', 400)


def test_endpoint_config_create_describe_delete(aws: Aws, base: dict[str, str]) -> None:
    name = unique("Config")
    arn = f"{SM_ARN}:endpoint-config/{name.lower()}"
    variant = {"VariantName": "v1", "ModelName": base["model"], "InitialInstanceCount": 2,
               "InstanceType": "ml.c5.xlarge", "InitialVariantWeight": 0.5}
    assert aws.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])[
        "EndpointConfigArn"] == arn
    got = aws.sm.describe_endpoint_config(EndpointConfigName=name)
    assert (got["EndpointConfigName"], got["EndpointConfigArn"]) == (name, arn)
    assert got["ProductionVariants"] == [variant]
    assert isinstance(got["CreationTime"], datetime)

    code, message, _, _ = error_of(aws.sm.create_endpoint_config, EndpointConfigName=name,
                                   ProductionVariants=[variant])
    assert (code, message) == ("ValidationException", f'Cannot create already existing endpoint configuration "{arn}".')
    aws.sm.delete_endpoint_config(EndpointConfigName=name)
    for op in (aws.sm.describe_endpoint_config, aws.sm.delete_endpoint_config):
        code, message, status, _ = error_of(op, EndpointConfigName=name)
        assert (code, status) == ("ValidationException", 400)
        assert message == f'Could not find endpoint configuration "{arn}".'


# fmt: off
SAGEMAKER_ERRORS = [
    pytest.param("describe_model", {"ModelName": "nope"}, 'Could not find model "{arn}:model/nope".',
                 id="DescribeModel-unknown"),
    pytest.param("create_endpoint_config", {"EndpointConfigName": "c-nomodel", "ProductionVariants": [
        {"VariantName": "v", "ModelName": "ghost", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]},
        'Could not find model "{arn}:model/ghost".', id="CreateEndpointConfig-unknown-model"),
    pytest.param("create_endpoint_config", {"EndpointConfigName": "c-serverless", "ProductionVariants": [
        {"VariantName": "v", "ModelName": "{model}", "ServerlessConfig": {"MemorySizeInMB": 2048,
                                                                           "MaxConcurrency": 1}}]},
        "Variant v: this emulator models instance-based variants", id="CreateEndpointConfig-serverless"),
    pytest.param("create_endpoint", {"EndpointName": "e-noconfig", "EndpointConfigName": "ghost"},
                 'Could not find endpoint configuration "{arn}:endpoint-config/ghost".',
                 id="CreateEndpoint-unknown-config"),
    pytest.param("create_endpoint", {"EndpointName": "{endpoint}", "EndpointConfigName": "{config}"},
                 'Cannot create already existing endpoint "{arn}:endpoint/{endpoint}".', id="CreateEndpoint-duplicate"),
    pytest.param("describe_endpoint", {"EndpointName": "Ghost"}, 'Could not find endpoint "{arn}:endpoint/ghost".',
                 id="DescribeEndpoint-unknown"),
    pytest.param("delete_endpoint", {"EndpointName": "ghost"}, 'Could not find endpoint "{arn}:endpoint/ghost".',
                 id="DeleteEndpoint-unknown"),
    pytest.param("update_endpoint_weights_and_capacities", {"EndpointName": "ghost", "DesiredWeightsAndCapacities": [
        {"VariantName": "AllTraffic", "DesiredInstanceCount": 2}]},
        'Could not find endpoint "{arn}:endpoint/ghost".', id="UpdateEndpointWeightsAndCapacities-unknown"),
    pytest.param("update_endpoint_weights_and_capacities", {"EndpointName": "{endpoint}",
                                                            "DesiredWeightsAndCapacities": [
        {"VariantName": "Nope", "DesiredInstanceCount": 2}]},
        "The variant name(s) [Nope] is/are not present in endpoint {endpoint}.",
        id="UpdateEndpointWeightsAndCapacities-unknown-variant"),
    pytest.param("list_endpoints", {"StatusEquals": "Sleeping"},
                 "1 validation error detected: Value 'Sleeping' at 'statusEquals' failed to satisfy constraint",
                 id="ListEndpoints-bad-status"),
    pytest.param("list_endpoints", {"SortBy": "Size"},
                 "1 validation error detected: Value 'Size' at 'sortBy' failed to satisfy constraint",
                 id="ListEndpoints-bad-sort"),
    pytest.param("list_endpoints", {"NextToken": "not-a-token"}, "Invalid pagination token",
                 id="ListEndpoints-bad-token"),
]
# fmt: on


@pytest.mark.parametrize("method,kwargs,message", SAGEMAKER_ERRORS)
def test_sagemaker_errors(aws: Aws, base: dict[str, str], method: str, kwargs: dict[str, Any], message: str) -> None:
    code, got, status, _ = error_of(getattr(aws.sm, method), **fill(kwargs, base))
    assert (code, status) == ("ValidationException", 400)
    assert got.startswith(fill(message, base))


class HeldClock:
    """Endpoint time that moves only when the test moves it: what the endpoint says "meanwhile" cannot depend
    on how busy the machine is (a stall of 100 ms at speed 600 would skip the whole Creating phase)."""

    speed = 1.0

    def __init__(self, ts: float) -> None:
        self.ts = ts

    def now(self) -> float:
        return self.ts

    def sleep(self, endpoint_s: float) -> None:  # the model's latency: not needed to observe Creating
        return None


def test_endpoint_creating_then_in_service_with_the_waiter(sessions: dict[str, boto3.Session]) -> None:
    clock = HeldClock(1_800_000_000.0)
    emu = Emulator(PARAMS, clock=clock)  # no ticker: every request advances the model to the clock's time
    handle = start_in_thread(emu.router)
    aws = Aws(emu, handle.url, sessions)
    try:
        name = unique("Life")
        aws.sm.create_model(ModelName="m", ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
                            PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/m:1"})
        aws.sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
            {"VariantName": VARIANT, "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
             "InitialVariantWeight": 1.0}])
        created = datetime.fromtimestamp(clock.ts, tz=UTC)
        arn = aws.sm.create_endpoint(EndpointName=name, EndpointConfigName="c")["EndpointArn"]
        assert arn == f"{SM_ARN}:endpoint/{name.lower()}"
        clock.ts += PARAMS.endpoint_create_delay_s - 1  # a second before it is due
        creating = aws.sm.describe_endpoint(EndpointName=name)
        assert creating["EndpointStatus"] == "Creating"
        # UNCONFIRMED for Creating in aws-semantics §9; the emulator answers as for an unknown endpoint
        code, message, status, _ = error_of(aws.rt.invoke_endpoint, EndpointName=name, Body=b"1")
        assert (code, message, status) == ("ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.",
                                           400)
        code, message, _, _ = error_of(aws.sm.update_endpoint_weights_and_capacities, EndpointName=name,
                                       DesiredWeightsAndCapacities=[{"VariantName": VARIANT,
                                                                     "DesiredInstanceCount": 2}])
        assert (code, message) == ("ValidationException", f'Cannot update in-progress endpoint "{arn}".')

        clock.ts += 1  # due now
        aws.sm.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig={"Delay": 0.02,
                                                                                        "MaxAttempts": 5})
        got = aws.sm.describe_endpoint(EndpointName=name)
        assert (got["EndpointName"], got["EndpointArn"], got["EndpointConfigName"], got["EndpointStatus"]) == (
            name, arn, "c", "InService")
        [variant] = got["ProductionVariants"]
        assert variant == {"VariantName": VARIANT, "CurrentWeight": 1.0, "DesiredWeight": 1.0,
                           "CurrentInstanceCount": 1, "DesiredInstanceCount": 1}
        assert isinstance(got["CreationTime"], datetime) and got["CreationTime"].utcoffset() == timedelta(0)
        # Creating lasted endpoint_create_delay_s of endpoint time, exactly
        assert got["CreationTime"] == created
        assert got["LastModifiedTime"] - got["CreationTime"] == timedelta(seconds=PARAMS.endpoint_create_delay_s)
    finally:
        aws.close()
        handle.stop()
        emu.stop()


def test_update_weights_and_capacities(aws: Aws) -> None:
    name = aws.fresh(variants=(VARIANT, "Shadow"))
    arn = f"{SM_ARN}:endpoint/{name}"
    out = aws.sm.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=[
        {"VariantName": VARIANT, "DesiredInstanceCount": 3}])
    assert out["EndpointArn"] == arn
    got = aws.sm.describe_endpoint(EndpointName=name)
    assert got["EndpointStatus"] == "Updating"
    variants = {v["VariantName"]: v for v in got["ProductionVariants"]}
    assert (variants[VARIANT]["CurrentInstanceCount"], variants[VARIANT]["DesiredInstanceCount"]) == (1, 3)
    assert variants[VARIANT]["VariantStatus"][0]["Status"] == "Updating"
    assert (variants["Shadow"]["CurrentInstanceCount"], variants["Shadow"]["DesiredInstanceCount"]) == (1, 1)

    # anything, even a weight change, is refused while the endpoint is Updating — and changes nothing
    for change in ({"DesiredInstanceCount": 4}, {"DesiredWeight": 0.25}):
        code, message, status, _ = error_of(aws.sm.update_endpoint_weights_and_capacities, EndpointName=name,
                                            DesiredWeightsAndCapacities=[{"VariantName": VARIANT, **change}])
        assert (code, message, status) == ("ValidationException", f'Cannot update in-progress endpoint "{arn}".', 400)

    done = aws.wait_status(name, "InService")
    variants = {v["VariantName"]: v for v in done["ProductionVariants"]}
    assert (variants[VARIANT]["CurrentInstanceCount"], variants[VARIANT]["DesiredInstanceCount"]) == (3, 3)
    assert variants[VARIANT]["CurrentWeight"] == 1.0 and "VariantStatus" not in variants[VARIANT]
    assert done["LastModifiedTime"] > got["LastModifiedTime"]

    # a refused request (one unknown variant) applies none of its items
    code, _, _, _ = error_of(aws.sm.update_endpoint_weights_and_capacities, EndpointName=name,
                             DesiredWeightsAndCapacities=[{"VariantName": "Shadow", "DesiredWeight": 0.1},
                                                          {"VariantName": "Ghost", "DesiredWeight": 0.1}])
    assert code == "ValidationException"
    weights = {v["VariantName"]: v["CurrentWeight"]
               for v in aws.sm.describe_endpoint(EndpointName=name)["ProductionVariants"]}
    assert weights == {VARIANT: 1.0, "Shadow": 1.0}

    aws.sm.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=[
        {"VariantName": "Shadow", "DesiredWeight": 0.0}])
    aws.wait_status(name, "InService")
    weights = {v["VariantName"]: (v["CurrentWeight"], v["DesiredWeight"])
               for v in aws.sm.describe_endpoint(EndpointName=name)["ProductionVariants"]}
    assert weights == {VARIANT: (1.0, 1.0), "Shadow": (0.0, 0.0)}
    for _ in range(5):  # weight 0 receives no traffic
        assert aws.invoke(EndpointName=name, Body=b"1")["InvokedProductionVariant"] == VARIANT


def test_delete_endpoint(aws: Aws) -> None:
    name = aws.fresh()
    assert aws.sm.delete_endpoint(EndpointName=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    code, message, _, _ = error_of(aws.sm.describe_endpoint, EndpointName=name)
    assert (code, message) == ("ValidationException", f'Could not find endpoint "{SM_ARN}:endpoint/{name}".')
    assert name not in [e["EndpointName"] for e in aws.sm.list_endpoints(NameContains=name)["Endpoints"]]
    code, _, _, _ = error_of(aws.rt.invoke_endpoint, EndpointName=name, Body=b"1")
    assert code == "ValidationError"
    # the config and model survive their endpoint
    aws.sm.describe_endpoint_config(EndpointConfigName=f"{name}-config")
    aws.sm.describe_model(ModelName=f"{name}-model")


def test_list_endpoints_filters_sort_and_pagination(aws: Aws) -> None:
    prefix = unique("lst")
    first = [aws.deploy(f"{prefix}-b", wait=False), aws.deploy(f"{prefix}-a", wait=False)]
    for name in first:
        aws.wait_status(name, "InService")
    last = aws.deploy(f"{prefix}-c", wait=False)
    listed = aws.sm.list_endpoints(NameContains=prefix)
    assert [e["EndpointName"] for e in listed["Endpoints"]] == [last, *reversed(first)]  # CreationTime, Descending
    assert "NextToken" not in listed
    item = listed["Endpoints"][0]
    assert set(item) == {"EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus"}
    assert item["EndpointArn"] == f"{SM_ARN}:endpoint/{last}" and isinstance(item["CreationTime"], datetime)

    def names(**kw: Any) -> list[str]:
        return [e["EndpointName"] for e in aws.sm.list_endpoints(**{"NameContains": prefix, **kw})["Endpoints"]]

    # c is Creating for 60 endpoint s = 0.1 wall s: look now
    assert names(StatusEquals="Creating") == [last]
    assert names(SortBy="Status", SortOrder="Ascending")[0] == last  # Creating < InService
    assert names(SortBy="Name", SortOrder="Ascending") == sorted([*first, last])
    assert names(SortBy="CreationTime", SortOrder="Ascending") == [*first, last]
    created = item["CreationTime"]
    assert names(CreationTimeAfter=created - timedelta(milliseconds=1)) == [last]
    assert names(CreationTimeBefore=created) == list(reversed(first))
    assert names(LastModifiedTimeAfter=created - timedelta(milliseconds=1)) == [last]
    assert names(NameContains=f"{prefix}-a") == [f"{prefix}-a"]
    aws.wait_status(last, "InService")
    assert names(StatusEquals="InService") == [last, *reversed(first)]
    assert names(StatusEquals="Creating") == []

    page1 = aws.sm.list_endpoints(NameContains=prefix, MaxResults=2)
    assert len(page1["Endpoints"]) == 2 and page1["NextToken"]
    page2 = aws.sm.list_endpoints(NameContains=prefix, MaxResults=2, NextToken=page1["NextToken"])
    assert len(page2["Endpoints"]) == 1 and "NextToken" not in page2
    assert [e["EndpointName"] for e in page1["Endpoints"] + page2["Endpoints"]] == names()
    pages = list(aws.sm.get_paginator("list_endpoints").paginate(NameContains=prefix,
                                                                 PaginationConfig={"PageSize": 1}))
    assert [p["Endpoints"][0]["EndpointName"] for p in pages] == names()


# =========================================================================== SageMaker Runtime
def test_invoke_endpoint(aws: Aws, base: dict[str, str]) -> None:
    out = aws.rt.invoke_endpoint(EndpointName=base["endpoint"], Body=b"1.0,2.0", ContentType="text/csv",
                                 Accept="application/json", CustomAttributes="trace=abc-123")
    assert out["Body"].read() == fake_prediction(b"1.0,2.0")
    assert out["ContentType"] == "application/json"
    assert out["InvokedProductionVariant"] == VARIANT
    assert out["CustomAttributes"] == "trace=abc-123"
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    plain = aws.rt.invoke_endpoint(EndpointName=base["endpoint"], Body=b"x")
    assert plain["ContentType"] == "text/csv; charset=utf-8" and "CustomAttributes" not in plain
    plain["Body"].close()


def test_invoke_endpoint_target_variant(aws: Aws) -> None:
    name = aws.fresh(variants=("A", "B"))
    for variant in ("A", "B", "B"):
        out = aws.invoke(EndpointName=name, Body=b"1", TargetVariant=variant)
        assert out["InvokedProductionVariant"] == variant
    code, message, status, _ = error_of(aws.rt.invoke_endpoint, EndpointName=name, Body=b"1", TargetVariant="C")
    assert (code, status) == ("ValidationError", 400) and "C" in message


# fmt: off
@pytest.mark.parametrize("endpoint,message", [
    pytest.param("nope", f"Endpoint nope of account {ACCOUNT} not found.", id="unknown-endpoint"),
    pytest.param("Mixed-Case-9", f"Endpoint Mixed-Case-9 of account {ACCOUNT} not found.", id="name-kept-as-given"),
])
# fmt: on
def test_invoke_unknown_endpoint(aws: Aws, endpoint: str, message: str) -> None:
    code, got, status, _ = error_of(aws.rt.invoke_endpoint, EndpointName=endpoint, Body=b"1")
    assert (code, got, status) == ("ValidationError", message, 400)


# fmt: off
@pytest.mark.parametrize("overload_error,status,fields", [
    pytest.param("ModelError", 424, True, id="ModelError-424"),
    pytest.param("ThrottlingException", 400, False, id="ThrottlingException-400"),
])
# fmt: on
def test_overload(sessions: dict[str, boto3.Session], overload_error: str, status: int, fields: bool) -> None:
    # 1 instance x 1 slot, no queue: while one request is held (6 endpoint s = 0.1 wall s) the others fail
    params = ModelParams(instance_concurrency=1, max_queue_per_instance=0, model_latency_ms=6_000,
                         latency_jitter=0.0, endpoint_create_delay_s=3, overload_error=overload_error)
    with running(params, 60.0) as (emu, handle):
        env = Aws(emu, handle.url, sessions)
        try:
            name = env.deploy("busy")
            barrier = threading.Barrier(4)

            def invoke(i: int) -> Any:
                barrier.wait(timeout=5)
                try:
                    return env.invoke(EndpointName=name, Body=str(i).encode())["InvokedProductionVariant"]
                except ClientError as err:
                    return err.response

            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(invoke, range(4)))
        finally:
            env.close()
    served = [r for r in results if r == VARIANT]
    errors = [r for r in results if r != VARIANT]
    assert len(served) >= 1 and len(errors) >= 1, results
    for err in errors:
        assert err["Error"]["Code"] == overload_error
        assert err["ResponseMetadata"]["HTTPStatusCode"] == status
        if fields:
            message = err["Error"]["Message"]
            assert message.startswith(f"Amazon SageMaker could not get a response from the {name} endpoint.")
            assert err["OriginalStatusCode"] in (0, 500) and err["OriginalMessage"] == message
            assert err["LogStreamArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{name}"
        else:
            assert not err["Error"].get("Message")  # aws-semantics §9: message null


# ================================================================= Application Auto Scaling
def test_scalable_target_register_update_describe_deregister(aws: Aws) -> None:
    name = aws.fresh()
    before = aws.now()
    arn = aws.register(name, 1, 4)["ScalableTargetARN"]
    assert re.fullmatch(rf"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/[0-9a-f]+", arn)

    def describe(**kw: Any) -> list[dict[str, Any]]:
        return aws.aas.describe_scalable_targets(ServiceNamespace="sagemaker", **kw)["ScalableTargets"]

    [target] = describe(ResourceIds=[resource(name)])
    assert target["ScalableTargetARN"] == arn
    assert (target["ServiceNamespace"], target["ResourceId"], target["ScalableDimension"]) == (
        "sagemaker", resource(name), DIM)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    assert target["SuspendedState"] == {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False,
                                        "ScheduledScalingSuspended": False}
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in target["RoleARN"]
    assert before <= target["CreationTime"] <= aws.now()

    # update in place: same ARN, new bounds, suspension (omitted keys keep their value)
    suspend = {"DynamicScalingInSuspended": True}
    assert aws.register(name, 1, 6, SuspendedState=suspend)["ScalableTargetARN"] == arn
    [target] = describe(ResourceIds=[resource(name)], ScalableDimension=DIM)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 6)
    assert target["SuspendedState"] == {"DynamicScalingInSuspended": True, "DynamicScalingOutSuspended": False,
                                        "ScheduledScalingSuspended": False}
    aws.aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource(name), ScalableDimension=DIM,
                                     MaxCapacity=5, SuspendedState={"DynamicScalingInSuspended": False})
    [target] = describe(ResourceIds=[resource(name)])
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 5)
    assert not any(target["SuspendedState"].values())

    # a refused update (min > max) changes nothing
    code, message, status, _ = error_of(aws.register, name=name, min_c=7, max_c=5)
    assert (code, status) == ("ValidationException", 400) and "7" in message and "5" in message
    code, _, _, _ = error_of(aws.aas.register_scalable_target, ServiceNamespace="sagemaker",
                             ResourceId=resource(name), ScalableDimension=DIM, MinCapacity=9)
    assert code == "ValidationException"
    [target] = describe(ResourceIds=[resource(name)])
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 5)

    assert describe(ResourceIds=[resource("ghost")]) == []
    assert aws.aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    aws.aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource(name),
                                       ScalableDimension=DIM)
    assert describe(ResourceIds=[resource(name)]) == []
    code, message, status, _ = error_of(aws.aas.deregister_scalable_target, ServiceNamespace="sagemaker",
                                        ResourceId=resource(name), ScalableDimension=DIM)
    assert (code, status) == ("ObjectNotFoundException", 400)
    assert message == (f"No scalable target registered for service namespace: sagemaker, resource ID: "
                       f"{resource(name)}, scalable dimension: {DIM}")


def test_describe_scalable_targets_pagination(aws: Aws) -> None:
    names = [aws.fresh() for _ in range(3)]
    for name in names:
        aws.register(name)
    ids = [resource(n) for n in names]
    page1 = aws.aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=ids, MaxResults=2)
    page2 = aws.aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=ids, MaxResults=2,
                                              NextToken=page1["NextToken"])
    assert [t["ResourceId"] for t in page1["ScalableTargets"] + page2["ScalableTargets"]] == ids
    assert "NextToken" not in page2
    pages = aws.aas.get_paginator("describe_scalable_targets").paginate(
        ServiceNamespace="sagemaker", ResourceIds=ids, PaginationConfig={"PageSize": 1})
    assert [t["ResourceId"] for p in pages for t in p["ScalableTargets"]] == ids


def test_target_tracking_policy_and_its_managed_alarms(aws: Aws) -> None:
    name = aws.fresh()
    aws.register(name, 1, 4)
    before = aws.now()
    out = aws.put_policy(name, "ipi-70", 70.0, ScaleInCooldown=120, ScaleOutCooldown=60)
    rid = resource(name)
    policy_arn = out["PolicyARN"]
    assert re.fullmatch(rf"arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:{UUID}:resource/sagemaker/"
                        rf"endpoint/{name}/variant/{VARIANT}:policyName/ipi-70", policy_arn)
    high, low = (a["AlarmName"] for a in out["Alarms"])
    assert re.fullmatch(rf"TargetTracking-{re.escape(rid)}-AlarmHigh-{UUID}", high)
    assert re.fullmatch(rf"TargetTracking-{re.escape(rid)}-AlarmLow-{UUID}", low)
    assert [a["AlarmARN"] for a in out["Alarms"]] == [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{n}"
                                                     for n in (high, low)]

    [policy] = aws.aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"]
    assert (policy["PolicyARN"], policy["PolicyName"], policy["PolicyType"]) == (
        policy_arn, "ipi-70", "TargetTrackingScaling")
    assert (policy["ResourceId"], policy["ScalableDimension"], policy["ServiceNamespace"]) == (rid, DIM, "sagemaker")
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": 70.0, "ScaleInCooldown": 120, "ScaleOutCooldown": 60,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}
    assert policy["Alarms"] == out["Alarms"]
    assert before <= policy["CreationTime"] <= aws.now()
    assert aws.aas.describe_scaling_policies(ServiceNamespace="sagemaker", PolicyNames=["ipi-70"],
                                             ResourceId=rid)["ScalingPolicies"] == [policy]
    assert aws.aas.describe_scaling_policies(ServiceNamespace="sagemaker", PolicyNames=["other"],
                                             ResourceId=rid)["ScalingPolicies"] == []

    for wire in ("json", "cbor"):
        alarms = aws.cw(wire).describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-")["MetricAlarms"]
        by_name = {a["AlarmName"]: a for a in alarms}
        assert set(by_name) == {high, low}
        for alarm_name, threshold, op, n in ((high, 70.0, "GreaterThanThreshold", 3),
                                             (low, 63.0, "LessThanThreshold", 15)):
            alarm = by_name[alarm_name]
            assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (threshold, op)
            assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (60, n, n)
            assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
                "AWS/SageMaker", "InvocationsPerInstance", "Sum")
            assert alarm["Dimensions"] == metric(name, "x")["Dimensions"]
            assert alarm["AlarmActions"] == [policy_arn] and alarm["TreatMissingData"] == "missing"
            assert alarm["AlarmDescription"].startswith(
                f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy_arn}:createdBy/")
            assert alarm["StateValue"] in ("INSUFFICIENT_DATA", "OK", "ALARM")
            assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm_name}"

    # an idle variant publishes zeros: AlarmHigh goes OK while AlarmLow collects its 15 datapoints
    prefix = f"TargetTracking-{rid}-AlarmHigh"
    wait_until(lambda: aws.cw().describe_alarms(AlarmNamePrefix=prefix, StateValue="OK")["MetricAlarms"],
               "AlarmHigh OK")
    ok = aws.cw("cbor").describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-", StateValue="OK")
    assert [a["AlarmName"] for a in ok["MetricAlarms"]] == [high]
    assert ok["MetricAlarms"][0]["StateReason"].startswith("Threshold Crossed")
    assert aws.cw().describe_alarms(AlarmNames=[low, "ghost"])["MetricAlarms"][0]["AlarmName"] == low
    assert aws.cw().describe_alarms(ActionPrefix=policy_arn)["MetricAlarms"] != []
    assert aws.cw().describe_alarms(AlarmNamePrefix=prefix, AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []

    # replacing the policy (same name) replaces its alarms
    again = aws.put_policy(name, "ipi-70", 80.0)
    assert again["PolicyARN"] != policy_arn
    names = {a["AlarmName"] for a in aws.cw().describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-")["MetricAlarms"]}
    assert names == {a["AlarmName"] for a in again["Alarms"]}

    aws.aas.delete_scaling_policy(PolicyName="ipi-70", ServiceNamespace="sagemaker", ResourceId=rid,
                                  ScalableDimension=DIM)
    assert aws.aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"] == []
    assert aws.cw().describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-")["MetricAlarms"] == []
    code, message, status, _ = error_of(aws.aas.delete_scaling_policy, PolicyName="ipi-70",
                                        ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM)
    assert (code, status) == ("ObjectNotFoundException", 400)
    assert message == (f"No scaling policy found for service namespace: sagemaker, resource ID: {rid}, "
                       f"scalable dimension: {DIM}, policy name: ipi-70")

    # deregistering the target drops its policies and their alarms
    aws.put_policy(name, "again", 50.0)
    aws.aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=DIM)
    assert aws.cw().describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-")["MetricAlarms"] == []


def test_activities_after_raising_min_capacity(aws: Aws) -> None:
    name = aws.fresh()
    rid = resource(name)
    aws.register(name, 1, 4)

    def activities(**kw: Any) -> dict[str, Any]:
        return aws.aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=rid, **kw)

    assert activities()["ScalingActivities"] == []
    before = aws.now()
    aws.register(name, 2, 4)
    [act] = activities()["ScalingActivities"]
    assert act["Description"] == "Setting desired instance count to 2."
    assert act["Cause"] == "minimum capacity was set to 2"
    assert (act["ResourceId"], act["ScalableDimension"], act["ServiceNamespace"]) == (rid, DIM, "sagemaker")
    assert act["StatusCode"] == "InProgress" and "EndTime" not in act
    assert re.fullmatch(UUID, act["ActivityId"])
    described = aws.sm.describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "Updating"
    assert described["ProductionVariants"][0]["DesiredInstanceCount"] == 2

    done = wait_until(lambda: [a for a in activities()["ScalingActivities"] if a["StatusCode"] == "Successful"],
                      "the activity to succeed")[0]
    assert done["ActivityId"] == act["ActivityId"]
    assert done["StatusMessage"] == ("Successfully set desired instance count to 2. "
                                     "Change successfully fulfilled by sagemaker.")
    assert before <= done["StartTime"] < done["EndTime"] <= aws.now()
    assert done["EndTime"] - done["StartTime"] == pytest.approx(timedelta(seconds=60), abs=timedelta(seconds=20))
    assert aws.sm.describe_endpoint(EndpointName=name)["ProductionVariants"][0]["CurrentInstanceCount"] == 2

    aws.register(name, 1, 1)  # lowering MaxCapacity below the current count scales in
    second = activities()["ScalingActivities"][0]
    assert (second["Description"], second["Cause"]) == ("Setting desired instance count to 1.",
                                                        "maximum capacity was set to 1")
    page1 = activities(MaxResults=1)
    assert [a["ActivityId"] for a in page1["ScalingActivities"]] == [second["ActivityId"]]  # newest first
    page2 = activities(MaxResults=1, NextToken=page1["NextToken"])
    assert [a["ActivityId"] for a in page2["ScalingActivities"]] == [act["ActivityId"]]
    assert "NextToken" not in page2
    assert len(activities(MaxResults=50)["ScalingActivities"]) == 2
    everything = aws.aas.describe_scaling_activities(ServiceNamespace="sagemaker")["ScalingActivities"]
    assert {act["ActivityId"], second["ActivityId"]} <= {a["ActivityId"] for a in everything}


def test_activity_driven_by_traffic_through_alarm_high(aws: Aws) -> None:
    name = aws.fresh()
    rid = resource(name)
    aws.register(name, 1, 3)
    out = aws.put_policy(name, "hot-policy", 2.0, ScaleOutCooldown=0)
    high = out["Alarms"][0]["AlarmName"]
    found: list[dict[str, Any]] = []

    def traffic_until_scaled() -> bool:
        for i in range(10):  # ~50 requests per endpoint minute on 1 instance: far above 2 per minute
            aws.invoke(EndpointName=name, Body=str(i).encode())
        found.extend(aws.aas.describe_scaling_activities(ServiceNamespace="sagemaker",
                                                         ResourceId=rid)["ScalingActivities"])
        return bool(found)

    wait_until(traffic_until_scaled, "AlarmHigh to scale the endpoint out")
    act = found[-1]
    assert re.fullmatch(r"Setting desired instance count to [23]\.", act["Description"])
    assert act["Cause"] == f"monitor alarm {high} in state ALARM triggered policy hot-policy"
    alarms = aws.cw().describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-", StateValue="ALARM")["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == [high]
    assert alarms[0]["StateReason"].startswith("Threshold Crossed: 3 out of the last 3 datapoints")
    assert alarms[0]["StateUpdatedTimestamp"] <= act["StartTime"]


def tracking(target: float, metric_type: str | None = "SageMakerVariantInvocationsPerInstance") -> dict[str, Any]:
    """PutScalingPolicy arguments for a target-tracking policy named ``p``."""
    config: dict[str, Any] = {"TargetValue": target}
    if metric_type:
        config["PredefinedMetricSpecification"] = {"PredefinedMetricType": metric_type}
    return {"PolicyName": "p", "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": config}


GHOST = "endpoint/ghost/variant/AllTraffic"
MAX_RESULTS = "MaxResults must be between 1 and 50"
# fmt: off
AAS_ERRORS = [
    pytest.param("put_scaling_policy", {"ResourceId": GHOST, **tracking(5.0)}, "ObjectNotFoundException",
                 f"No scalable target registered for service namespace: sagemaker, resource ID: {GHOST}, "
                 f"scalable dimension: {DIM}", id="PutScalingPolicy-unregistered-target"),
    pytest.param("put_scaling_policy", {"ResourceId": "endpoint/{endpoint}", **tracking(5.0)}, "ValidationException",
                 "Unsupported resource ID 'endpoint/{endpoint}'", id="PutScalingPolicy-bad-resource-id"),
    pytest.param("put_scaling_policy", {"ResourceId": "{resource}", "PolicyName": "p",
                                        "PolicyType": "PredictiveScaling"},
                 "ValidationException", "PolicyType PredictiveScaling is not supported",
                 id="PutScalingPolicy-predictive"),
    pytest.param("put_scaling_policy", {"ResourceId": "{resource}", **tracking(0.0)}, "ValidationException",
                 "TargetValue must be greater than 0", id="PutScalingPolicy-zero-target"),
    pytest.param("put_scaling_policy", {"ResourceId": "{resource}",
                                        **tracking(5.0, "SageMakerVariantProvisionedConcurrencyUtilization")},
                 "ValidationException", "Unsupported metric for this emulator",
                 id="PutScalingPolicy-unsupported-metric"),
    pytest.param("delete_scaling_policy", {"ResourceId": "{resource}", "PolicyName": "ghost"},
                 "ObjectNotFoundException", "No scaling policy found for service namespace: sagemaker",
                 id="DeleteScalingPolicy-unknown"),
    pytest.param("delete_scaling_policy", {"ResourceId": "variant/x", "PolicyName": "p"}, "ValidationException",
                 "Unsupported resource ID 'variant/x'", id="DeleteScalingPolicy-bad-resource-id"),
    pytest.param("register_scalable_target", {"ResourceId": "endpoint/x", "MinCapacity": 1, "MaxCapacity": 2},
                 "ValidationException", "Unsupported resource ID 'endpoint/x'",
                 id="RegisterScalableTarget-bad-resource-id"),
    pytest.param("register_scalable_target", {"ResourceId": "endpoint/ghost/variant/v", "MinCapacity": 1,
                                              "MaxCapacity": 2},
                 "ValidationException", "Resource endpoint/ghost/variant/v does not exist",
                 id="RegisterScalableTarget-no-endpoint"),
    pytest.param("register_scalable_target", {"ResourceId": "{resource}", "MinCapacity": 1, "MaxCapacity": 2,
                                              "ScalableDimension": "ecs:service:DesiredCount"},
                 "ValidationException", "Unsupported scalable dimension", id="RegisterScalableTarget-bad-dimension"),
    pytest.param("deregister_scalable_target", {"ResourceId": "endpoint//variant/v"},
                 "ValidationException", "Unsupported resource ID", id="DeregisterScalableTarget-bad-resource-id"),
    pytest.param("describe_scalable_targets", {"MaxResults": 51}, "ValidationException", MAX_RESULTS,
                 id="DescribeScalableTargets-MaxResults-51"),
    pytest.param("describe_scaling_policies", {"MaxResults": 0}, "ValidationException", MAX_RESULTS,
                 id="DescribeScalingPolicies-MaxResults-0"),
    pytest.param("describe_scaling_activities", {"MaxResults": 0}, "ValidationException", MAX_RESULTS,
                 id="DescribeScalingActivities-MaxResults-0"),
    pytest.param("describe_scaling_activities", {"MaxResults": 51}, "ValidationException", MAX_RESULTS,
                 id="DescribeScalingActivities-MaxResults-51"),
    pytest.param("describe_scaling_activities", {"NextToken": "garbage"}, "InvalidNextTokenException",
                 "The next token supplied is invalid.", id="DescribeScalingActivities-bad-token"),
]
# fmt: on
SCOPE = {"ServiceNamespace": "sagemaker", "ScalableDimension": DIM}
NO_DIMENSION = {"describe_scalable_targets", "describe_scaling_activities", "describe_scaling_policies"}


@pytest.mark.parametrize("method,kwargs,code,message", AAS_ERRORS)
def test_application_autoscaling_errors(aws: Aws, base: dict[str, str], method: str, kwargs: dict[str, Any],
                                        code: str, message: str) -> None:
    if method == "put_scaling_policy" or method == "delete_scaling_policy":
        aws.register(base["endpoint"], 1, 2)
    scope = {"ServiceNamespace": "sagemaker"} if method in NO_DIMENSION else SCOPE
    got_code, got, status, _ = error_of(getattr(aws.aas, method), **{**scope, **fill(kwargs, base)})
    assert (got_code, status) == (code, 400)
    assert got.startswith(fill(message, base))


# ============================================================================== CloudWatch
def test_cloudwatch_protocol(aws: Aws) -> None:
    """botocore 1.43 models CloudWatch as smithy-rpc-v2-cbor (``protocol``) but its clients resolve
    ``json`` first (``resolved_protocol``); the emulator must answer both wires."""
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(request.headers["Content-Type"].decode() if isinstance(request.headers["Content-Type"], bytes)
                    else request.headers["Content-Type"])

    for wire, resolved, content_type in (("json", "json", "application/x-amz-json-1.0"),
                                         ("cbor", "smithy-rpc-v2-cbor", "application/cbor")):
        client = aws.cw(wire)
        assert client.meta.service_model.protocol == "smithy-rpc-v2-cbor"
        assert client.meta.service_model.resolved_protocol == resolved
        client.meta.events.register("before-send.cloudwatch.ListMetrics", record)
        try:
            client.list_metrics(Namespace="AWS/SageMaker")
        finally:
            client.meta.events.unregister("before-send.cloudwatch.ListMetrics", record)
        assert sent[-1] == content_type


@pytest.mark.parametrize("wire", WIRES)
def test_get_metric_data(aws: Aws, traffic: dict[str, Any], wire: str) -> None:
    name = traffic["endpoint"]
    # A window that ends where every datapoint is already published: the calls below see the same datapoints
    # however much endpoint time passes between them (a minute per 0.1 s of wall at SPEED: with EndTime after
    # now, a busy machine let a new trailing minute in between two calls).
    published = aws.now().timestamp() - PARAMS.metric_publish_lag_s
    end = datetime.fromtimestamp(published - published % 60, tz=UTC)
    assert end > traffic["start"]  # the fixture waited until the traffic's minutes were published
    window = {"StartTime": traffic["start"] - timedelta(minutes=2), "EndTime": end}

    def query(qid: str, metric_name: str, stat: str, **extra: Any) -> dict[str, Any]:
        return {"Id": qid, "MetricStat": {"Metric": metric(name, metric_name), "Period": 60, "Stat": stat}, **extra}

    out = aws.cw(wire).get_metric_data(MetricDataQueries=[
        query("ipi", "InvocationsPerInstance", "Sum"), query("inv", "Invocations", "Sum", Label="calls"),
        query("lat", "ModelLatency", "Average"), query("ghost", "NoSuchMetric", "Sum"),
        query("hidden", "Invocations", "Sum", ReturnData=False)], ScanBy="TimestampAscending", **window)
    results = {r["Id"]: r for r in out["MetricDataResults"]}
    assert set(results) == {"ipi", "inv", "lat", "ghost"}
    assert all(r["StatusCode"] == "Complete" for r in results.values())
    assert (results["inv"]["Label"], results["ipi"]["Label"]) == ("calls", "InvocationsPerInstance")
    inv, ipi, lat = results["inv"], results["ipi"], results["lat"]
    assert sum(inv["Values"]) == 12
    assert inv["Timestamps"] == sorted(inv["Timestamps"]) and len(inv["Timestamps"]) == len(inv["Values"])
    # each request counts 1/instances: per-minute InvocationsPerInstance = Invocations / 2
    assert ipi["Timestamps"] == inv["Timestamps"]
    assert ipi["Values"] == pytest.approx([v / 2 for v in inv["Values"]])
    assert all(ts.second == 0 and ts.microsecond == 0 for ts in inv["Timestamps"])
    # ModelLatency is microseconds (50 ms, no jitter), only for minutes with traffic
    assert lat["Values"] and lat["Values"] == pytest.approx([50_000.0] * len(lat["Values"]))
    assert (results["ghost"]["Timestamps"], results["ghost"]["Values"]) == ([], [])

    descending = aws.cw(wire).get_metric_data(
        MetricDataQueries=[query("inv", "Invocations", "Sum")], **window)["MetricDataResults"][0]  # default
    assert descending["Timestamps"] == list(reversed(inv["Timestamps"]))
    explicit = aws.cw(wire).get_metric_data(MetricDataQueries=[query("inv", "Invocations", "Sum")],
                                            ScanBy="TimestampDescending", **window)["MetricDataResults"][0]
    assert explicit["Values"] == list(reversed(inv["Values"]))
    # a 5-minute period aggregates the minutes
    wide = aws.cw(wire).get_metric_data(MetricDataQueries=[{"Id": "w", "MetricStat": {
        "Metric": metric(name, "Invocations"), "Period": 300, "Stat": "Sum"}}],
        StartTime=window["StartTime"], EndTime=window["EndTime"] + timedelta(minutes=10))["MetricDataResults"][0]
    assert all(ts.minute % 5 == 0 for ts in wide["Timestamps"])


def test_get_metric_data_waits_for_publication(aws: Aws) -> None:
    name = aws.fresh()
    start = aws.now()
    aws.invoke(EndpointName=name, Body=b"1")
    query = [{"Id": "i", "MetricStat": {"Metric": metric(name, "Invocations"), "Period": 60, "Stat": "Sum"}}]
    window = {"StartTime": start, "EndTime": start + timedelta(hours=1)}
    # the minute is not over (plus the publication lag) yet: nothing visible
    assert aws.cw().get_metric_data(MetricDataQueries=query, **window)["MetricDataResults"][0]["Values"] == []
    wait_until(lambda: sum(aws.cw().get_metric_data(MetricDataQueries=query, **window)
                           ["MetricDataResults"][0]["Values"]) == 1, "the datapoint to be published")


@pytest.mark.parametrize("wire", WIRES)
def test_get_metric_statistics(aws: Aws, traffic: dict[str, Any], wire: str) -> None:
    name = traffic["endpoint"]
    # A window that ends where every datapoint is already published: the calls below see the same datapoints
    # however much endpoint time passes between them (a minute per 0.1 s of wall at SPEED: with EndTime after
    # now, a busy machine let a new trailing minute in between two calls).
    published = aws.now().timestamp() - PARAMS.metric_publish_lag_s
    end = datetime.fromtimestamp(published - published % 60, tz=UTC)
    assert end > traffic["start"]  # the fixture waited until the traffic's minutes were published
    window = {"StartTime": traffic["start"] - timedelta(minutes=2), "EndTime": end}
    out = aws.cw(wire).get_metric_statistics(**metric(name, "Invocations"), Period=60,
                                             Statistics=["Sum", "SampleCount", "Maximum"], **window)
    assert out["Label"] == "Invocations"
    points = out["Datapoints"]
    assert sum(p["Sum"] for p in points) == 12 and all(p["Unit"] == "None" for p in points)
    assert all(isinstance(p["Timestamp"], datetime) and p["Maximum"] <= 1.0 for p in points)
    assert [p["Timestamp"] for p in points] == sorted(p["Timestamp"] for p in points)
    latency = aws.cw(wire).get_metric_statistics(**metric(name, "ModelLatency"), Period=60,
                                                 Statistics=["Average", "Minimum"], **window)["Datapoints"]
    assert latency and all(p["Average"] == pytest.approx(50_000.0) and p["Unit"] == "Microseconds"
                           for p in latency)
    assert aws.cw(wire).get_metric_statistics(**metric(name, "ModelLatency"), Period=60, Statistics=["Average"],
                                              Unit="Seconds", **window)["Datapoints"] == []


@pytest.mark.parametrize("wire", WIRES)
def test_list_metrics(aws: Aws, traffic: dict[str, Any], wire: str) -> None:
    name = traffic["endpoint"]
    dims = [{"Name": "EndpointName", "Value": name}]
    listed = aws.cw(wire).list_metrics(Namespace="AWS/SageMaker", Dimensions=dims)["Metrics"]
    assert {m["MetricName"] for m in listed} >= {"Invocations", "InvocationsPerInstance", "ModelLatency",
                                                 "Invocation5XXErrors", "InvocationModelErrors"}
    assert all(m["Namespace"] == "AWS/SageMaker" for m in listed)
    assert all(sorted(d["Name"] for d in m["Dimensions"]) == ["EndpointName", "VariantName"] for m in listed)
    only = aws.cw(wire).list_metrics(Namespace="AWS/SageMaker", MetricName="ModelLatency", Dimensions=dims)
    assert only["Metrics"] == [metric(name, "ModelLatency")]
    by_name_only = aws.cw(wire).list_metrics(MetricName="ModelLatency", Dimensions=[{"Name": "VariantName"}])
    assert metric(name, "ModelLatency") in by_name_only["Metrics"]
    assert aws.cw(wire).list_metrics(Namespace="AWS/EC2")["Metrics"] == []
    assert aws.cw(wire).list_metrics(Namespace="AWS/SageMaker", Dimensions=[
        {"Name": "EndpointName", "Value": "ghost"}])["Metrics"] == []


NOW = datetime(2030, 1, 1, tzinfo=UTC)
GOOD_STAT = {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"}, "Period": 60, "Stat": "Sum"}
WINDOW = {"StartTime": NOW, "EndTime": NOW + timedelta(hours=1)}
# fmt: off
CLOUDWATCH_ERRORS = [
    pytest.param("get_metric_data", {"MetricDataQueries": [{"Id": "q", "MetricStat": {**GOOD_STAT, "Period": 90}}],
                                     **WINDOW},
                 "InvalidParameterValue",
                 "The parameter MetricDataQueries[0].MetricStat.Period must be a multiple of 60",
                 id="GetMetricData-period-90"),
    pytest.param("get_metric_data", {"MetricDataQueries": [{"Id": "m", "Expression": "SUM(METRICS())"}], **WINDOW},
                 "ValidationError", "MetricDataQueries[0] (m): metric math expressions are not supported",
                 id="GetMetricData-expression"),
    pytest.param("get_metric_data", {"MetricDataQueries": [{"Id": "q", "MetricStat": {**GOOD_STAT, "Stat": "p99"}}],
                                     **WINDOW},
                 "InvalidParameterValue", "The parameter MetricDataQueries[0].MetricStat.Stat 'p99' is not supported",
                 id="GetMetricData-percentile"),
    pytest.param("get_metric_data", {"MetricDataQueries": [{"Id": "q", "MetricStat": GOOD_STAT}],
                                     "StartTime": NOW, "EndTime": NOW},
                 "ValidationError", "The parameter StartTime must be less than the parameter EndTime",
                 id="GetMetricData-empty-window"),
    pytest.param("get_metric_statistics", {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Period": 30,
                                           "Statistics": ["Sum"], **WINDOW},
                 "InvalidParameterValue", "The parameter Period must be a multiple of 60",
                 id="GetMetricStatistics-period-30"),
    pytest.param("get_metric_statistics", {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Period": 60,
                                           **WINDOW},
                 "InvalidParameterCombination", "At least one of the parameters Statistics and ExtendedStatistics",
                 id="GetMetricStatistics-no-statistics"),
    pytest.param("describe_alarms", {"NextToken": "garbage"}, "InvalidNextToken", "The next token",
                 id="DescribeAlarms-bad-token"),
]
# fmt: on


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("method,kwargs,code,message", CLOUDWATCH_ERRORS)
def test_cloudwatch_errors(aws: Aws, wire: str, method: str, kwargs: dict[str, Any], code: str, message: str) -> None:
    got_code, got, status, _ = error_of(getattr(aws.cw(wire), method), **kwargs)
    assert (got_code, status) == (code, 400)
    assert got.startswith(message)


# ================================================================ unknown operations, signatures
PUT_METRIC_DATA = {"Namespace": "N", "MetricData": [{"MetricName": "m", "Value": 1.0}]}
# fmt: off
@pytest.mark.parametrize("service,wire,method,kwargs,status", [
    pytest.param("sagemaker", "json", "list_models", {}, 400, id="sagemaker-ListModels"),
    pytest.param("sagemaker-runtime", "json", "invoke_endpoint_with_response_stream",
                 {"EndpointName": "e", "Body": b"1"}, 404, id="runtime-InvokeEndpointWithResponseStream"),
    pytest.param("application-autoscaling", "json", "list_tags_for_resource",
                 {"ResourceARN": f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/0123"}, 400,
                 id="aas-ListTagsForResource"),
    pytest.param("cloudwatch", "json", "put_metric_data", PUT_METRIC_DATA, 400, id="cw-json-PutMetricData"),
    pytest.param("cloudwatch", "cbor", "put_metric_data", PUT_METRIC_DATA, 400, id="cw-cbor-PutMetricData"),
])
# fmt: on
def test_operations_the_emulator_does_not_implement(aws: Aws, service: str, wire: str, method: str,
                                                    kwargs: dict[str, Any], status: int) -> None:
    code, message, got_status, _ = error_of(getattr(aws.client(service, wire=wire), method), **kwargs)
    assert (code, got_status) == ("UnknownOperationException", status)
    assert re.search(r"is not (implemented|supported) by the scalecheck emulator", message), message


# fmt: off
SIGNED_CALLS = [
    pytest.param("sagemaker", "json", "describe_endpoint", {"EndpointName": "{endpoint}"}, id="sagemaker"),
    pytest.param("sagemaker-runtime", "json", "invoke_endpoint", {"EndpointName": "{endpoint}", "Body": b"1"},
                 id="runtime"),
    pytest.param("application-autoscaling", "json", "describe_scalable_targets", {"ServiceNamespace": "sagemaker"},
                 id="application-autoscaling"),
    pytest.param("cloudwatch", "json", "describe_alarms", {}, id="cloudwatch-json"),
    pytest.param("cloudwatch", "cbor", "describe_alarms", {}, id="cloudwatch-cbor"),
]
# fmt: on


@pytest.mark.parametrize("service,wire,method,kwargs", SIGNED_CALLS)
def test_wrong_secret_is_refused(aws: Aws, base: dict[str, str], service: str, wire: str, method: str,
                                 kwargs: dict[str, Any]) -> None:
    kwargs = {k: fill(v, base) if isinstance(v, str) else v for k, v in kwargs.items()}
    getattr(aws.client(service, wire=wire), method)(**kwargs)  # the right secret works
    code, message, status, _ = error_of(getattr(aws.client(service, wire=wire, secret="wrong"), method), **kwargs)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    code, message, status, _ = error_of(getattr(aws.client(service, wire=wire, key="AKIDUNKNOWN"), method),
                                        **kwargs)
    assert (code, message, status) == ("UnrecognizedClientException",
                                       "The security token included in the request is invalid.", 403)


def _send_signed(url: str, path: str, body: bytes, headers: dict[str, str], signing_name: str) -> tuple[int, Any]:
    request = AWSRequest(method="POST", url=url + path, data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), signing_name, REGION).add_auth(request)
    parts = urlsplit(url)
    with closing(http.client.HTTPConnection(parts.netloc, timeout=5)) as conn:
        conn.request("POST", path, body=body, headers=dict(request.headers.items()))
        response = conn.getresponse()
        raw = response.read()
        is_cbor = "cbor" in (response.getheader("Content-Type") or "")
        return response.status, cbor.decode(raw) if is_cbor else json.loads(raw)


# fmt: off
@pytest.mark.parametrize("path,headers,body,signing_name,code,message", [
    pytest.param("/", {"X-Amz-Target": "SageMaker.DescribeEndpoint", "Content-Type": "application/x-amz-json-1.1"},
                 b"{oops", "sagemaker", "SerializationException", "The request body could not be parsed as JSON",
                 id="sagemaker-bad-json"),
    pytest.param("/", {"X-Amz-Target": "AnyScaleFrontendService.RegisterScalableTarget",
                       "Content-Type": "application/x-amz-json-1.1"},
                 b'{"ServiceNamespace": "sagemaker", "ResourceId": 7, "ScalableDimension": "d"}',
                 "application-autoscaling", "ValidationException", "1 validation error detected: Invalid type for "
                 "parameter ResourceId", id="aas-wrong-type"),
    pytest.param("/service/GraniteServiceVersion20100801/operation/GetMetricData",
                 {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}, b"\xbf\x61",
                 "monitoring", "SerializationException", "The request body could not be parsed as CBOR",
                 id="cloudwatch-bad-cbor"),
    pytest.param("/endpoints/e/invocations", {"Content-Type": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "x"},
                 b"", "sagemaker", "ValidationError", "Endpoint e of account 000000000000 not found.",
                 id="runtime-empty-body-unknown-endpoint"),
])
# fmt: on
def test_malformed_requests_get_aws_errors(aws: Aws, path: str, headers: dict[str, str], body: bytes,
                                           signing_name: str, code: str, message: str) -> None:
    status, payload = _send_signed(aws.url, path, body, headers, signing_name)
    assert status == 400
    assert payload.get("__type", code).split("#")[-1] == code
    assert payload.get("message", payload.get("Message", "")).startswith(message)


def test_client_side_validation_off_still_gets_a_validation_error(aws: Aws) -> None:
    client = aws.client("sagemaker", validate=False)
    code, message, status, _ = error_of(client.describe_endpoint, EndpointName=123)
    assert (code, status) == ("ValidationException", 400)
    assert "EndpointName" in message


# ======================================================================= endpoint time
def test_every_timestamp_is_endpoint_time(aws: Aws, traffic: dict[str, Any]) -> None:
    # the module's emulator has run for a while: its clock is (speed - 1) x elapsed ahead of the wall
    clock = aws.clock()
    elapsed_wall = (clock["endpoint_ts"] - clock["endpoint0_ts"]) / SPEED
    if elapsed_wall < 0.25:
        time.sleep(0.25 - elapsed_wall)
        clock = aws.clock()
    ahead = clock["endpoint_ts"] - clock["wall_ts"]
    assert ahead == pytest.approx((clock["endpoint_ts"] - clock["endpoint0_ts"]) * (1 - 1 / SPEED), abs=SPEED * 0.05)
    assert ahead > 100

    before = aws.now()
    name = aws.deploy(unique("clock"))
    aws.register(name, 1, 2)
    aws.put_policy(name, "p", 10.0)
    aws.register(name, 2, 2)
    wait_until(lambda: aws.aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=resource(name))
               ["ScalingActivities"][0].get("EndTime"), "the activity to end")
    rid = resource(name)
    responses = [
        aws.sm.describe_model(ModelName=f"{name}-model"),
        aws.sm.describe_endpoint_config(EndpointConfigName=f"{name}-config"),
        aws.sm.describe_endpoint(EndpointName=name),
        aws.sm.list_endpoints(NameContains=name),
        aws.aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid]),
        aws.aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid),
        aws.aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId=rid),
        aws.cw().describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-"),
        aws.cw("cbor").describe_alarms(AlarmNamePrefix=f"TargetTracking-{rid}-"),
    ]
    after = aws.now()
    wall = datetime.now(tz=UTC)
    stamps = [d for r in responses for d in datetimes(r)]
    assert len(stamps) >= 14
    for stamp in stamps:
        assert before <= stamp <= after, stamp
        assert (stamp - wall).total_seconds() > ahead - SPEED * 0.1, stamp  # far from the wall clock

    # metric timestamps are the start of endpoint-time minutes around the traffic
    window = {"StartTime": traffic["start"] - timedelta(minutes=1), "EndTime": after}
    series = aws.cw("cbor").get_metric_data(MetricDataQueries=[{"Id": "i", "MetricStat": {
        "Metric": metric(traffic["endpoint"], "Invocations"), "Period": 60, "Stat": "Sum"}}], **window)
    stats = aws.cw().get_metric_statistics(**metric(traffic["endpoint"], "Invocations"), Period=60,
                                           Statistics=["Sum"], **window)
    metric_stamps = datetimes(series) + datetimes(stats)
    assert metric_stamps
    first_minute = window["StartTime"].replace(second=0, microsecond=0)
    for stamp in metric_stamps:
        assert first_minute <= stamp <= after
        assert stamp > datetime.fromtimestamp(clock["wall_ts"], tz=UTC) + timedelta(seconds=ahead / 2)
