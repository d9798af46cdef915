"""The InvokeEndpoint fast path (``harness.emulator.fastpath``) answers exactly as the general path.

Each emulator serves its router twice: ``fast`` with the fast path attached (as every emulator on its
own clock is) and ``general`` started after detaching it, so the same signed request can go through both
paths of one model. Requests are signed by botocore's own SigV4 signer and sent with ``http.client``.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness.autoscaling.params import ModelParams
from harness.emulator import fastpath
from harness.emulator.app import Emulator
from harness.emulator.http import ServerHandle, start_in_thread
from harness.emulator.runtime import fake_prediction
from tests.emulator_support import NO_RETRIES, client, deploy, wait_until

pytestmark = pytest.mark.integration

ENDPOINT = "fast"
PATH = f"/endpoints/{ENDPOINT}/invocations"
BODY = b"1.0,2.0,3.0"
VOLATILE = {"date", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2"}


@dataclass
class Served:
    emu: Emulator
    fast: ServerHandle
    general: ServerHandle
    invoker: fastpath.FastInvoke


@contextmanager
def serving(params: ModelParams, speed: float = 1.0) -> Iterator[Served]:
    emu = Emulator(params, speed=speed)
    emu.start_ticker()
    invoker = fastpath.attached(emu.router)
    assert invoker is not None
    fast = start_in_thread(emu.router)
    fastpath.detach(emu.router)
    general = start_in_thread(emu.router)
    fastpath.attach(emu.router, invoker)
    try:
        deploy(client(fast.url, "sagemaker"), ENDPOINT)
        yield Served(emu, fast, general, invoker)
    finally:
        fast.stop()
        general.stop()
        emu.stop()


BASE = dict(endpoint_create_delay_s=0, model_latency_ms=20, latency_jitter=0, instance_concurrency=1000,
            max_queue_per_instance=1000)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serving(ModelParams(**BASE)) as s:
        yield s


def signed(url: str, path: str = PATH, body: bytes = BODY, headers: dict[str, str] | None = None, *,
           secret: str = "test", service: str = "sagemaker") -> dict[str, str]:
    request = AWSRequest("POST", url + path, data=body, headers=headers or {})
    SigV4Auth(Credentials("test", secret), service, "us-east-1").add_auth(request)
    return {"Host": url.split("://", 1)[1], **dict(request.headers.items())}  # sent to both servers as signed


def send(handle: ServerHandle, headers: dict[str, str], path: str = PATH,
         body: bytes = BODY) -> tuple[int, list[tuple[str, str]], bytes]:
    conn = http.client.HTTPConnection(handle.host, handle.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def comparable(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers if name.lower() not in VOLATILE]


def both(s: Served, headers: dict[str, str], **kwargs: Any) -> tuple[Any, Any]:
    """The same signed request through the fast and the general path (the host header names the fast one)."""
    before = s.invoker.served
    fast = send(s.fast, headers, **kwargs)
    taken = s.invoker.served - before
    general = send(s.general, headers, **kwargs)
    assert s.invoker.served - before == taken  # the general server never asks the fast path
    return (taken, fast), general


@pytest.mark.parametrize("extra", [
    {"Content-Type": "text/csv"},
    {"Content-Type": "application/json", "Accept": "application/json",
     "X-Amzn-SageMaker-Custom-Attributes": "trace=1,c000b4f9-df62-4c85-a0bf-7c525f9104a4"},
    {"X-Amzn-SageMaker-Target-Variant": "AllTraffic", "Accept": "*/*"},
])
def test_fast_answer_equals_the_general_answer(served: Served, extra: dict[str, str]) -> None:
    headers = signed(served.fast.url, headers=extra)
    (taken, fast), general = both(served, headers)
    assert taken == 1
    assert fast[0] == general[0] == 200
    assert comparable(fast[1]) == comparable(general[1])
    assert fast[2] == general[2] == fake_prediction(BODY)
    names = [name for name, _ in fast[1]]
    assert "x-amzn-RequestId" in names and "Date" in names
    assert dict(fast[1])["Content-Type"] == extra.get("Accept", "text/csv; charset=utf-8")


def test_boto3_invoke_endpoint_takes_the_fast_path(served: Served) -> None:
    runtime = boto3.Session().client("sagemaker-runtime", endpoint_url=served.fast.url, region_name="us-east-1",
                                     aws_access_key_id="test", aws_secret_access_key="test", config=NO_RETRIES)
    before = served.invoker.served
    out = runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=BODY, ContentType="text/csv", Accept="text/plain",
                                  CustomAttributes="a=b")
    assert served.invoker.served == before + 1
    assert out["Body"].read() == fake_prediction(BODY)
    assert (out["ContentType"], out["InvokedProductionVariant"], out["CustomAttributes"]) == \
        ("text/plain", "AllTraffic", "a=b")


def _error_type(response: tuple[int, list[tuple[str, str]], bytes]) -> str:
    return dict(response[1]).get("x-amzn-ErrorType", "")


@pytest.mark.parametrize(("case", "status", "code"), [
    ("bad signature", 403, "InvalidSignatureException"),
    ("unknown endpoint", 400, "ValidationError"),
    ("unknown variant", 400, "ValidationError"),
    ("scoped to s3", None, None),
    ("unknown key", 403, "UnrecognizedClientException"),
    ("inference id header", 200, ""),
])
def test_anything_unusual_falls_back_to_the_general_path(served: Served, case: str, status: int | None,
                                                         code: str | None) -> None:
    path, headers = PATH, None
    if case == "bad signature":
        headers = signed(served.fast.url, secret="wrong")
    elif case == "unknown endpoint":
        path = "/endpoints/nope/invocations"
    elif case == "unknown variant":
        headers = signed(served.fast.url, headers={"X-Amzn-SageMaker-Target-Variant": "Nope"})
    elif case == "scoped to s3":
        headers = signed(served.fast.url, service="s3")
    elif case == "unknown key":
        request = AWSRequest("POST", served.fast.url + PATH, data=BODY)
        SigV4Auth(Credentials("nobody", "x"), "sagemaker", "us-east-1").add_auth(request)
        headers = {"Host": served.fast.url.split("://", 1)[1], **dict(request.headers.items())}
    elif case == "inference id header":
        headers = signed(served.fast.url, headers={"X-Amzn-SageMaker-Inference-Id": "abc"})
    if headers is None:
        headers = signed(served.fast.url, path=path)
    before = served.invoker.fallbacks
    (taken, fast), general = both(served, headers, path=path)
    assert taken == 0 and served.invoker.fallbacks == before + 1
    assert fast[0] == general[0]
    if status is not None:
        assert fast[0] == status and _error_type(fast) == code
    assert comparable(fast[1]) == comparable(general[1])
    if case != "scoped to s3":  # S3's error XML carries the request ids
        assert fast[2] == general[2]


def test_asynchronous_endpoint_falls_back(served: Served) -> None:
    sm = client(served.fast.url, "sagemaker")
    sm.create_endpoint_config(EndpointConfigName="fast-async-c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": f"{ENDPOINT}-m", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}], AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/out"}})
    sm.create_endpoint(EndpointName="fast-async", EndpointConfigName="fast-async-c")
    wait_until(lambda: sm.describe_endpoint(EndpointName="fast-async")["EndpointStatus"] == "InService",
               "fast-async InService")
    path = "/endpoints/fast-async/invocations"
    (taken, fast), general = both(served, signed(served.fast.url, path=path), path=path)
    assert taken == 0 and fast[0] == general[0] == 400
    assert fast[2] == general[2] and b"asynchronous" in fast[2]


@pytest.mark.parametrize("overload_error", ["ModelError", "ThrottlingException"])
def test_overload_refusal_equals_the_general_refusal(overload_error: str) -> None:
    params = ModelParams(**{**BASE, "model_latency_ms": 60_000, "instance_concurrency": 1,
                            "max_queue_per_instance": 0, "overload_error": overload_error})
    with serving(params) as s:
        holder = http.client.HTTPConnection(s.fast.host, s.fast.port, timeout=30)
        holder.request("POST", PATH, body=BODY, headers=signed(s.fast.url))  # holds the only slot for 60 s
        variant = s.emu.world.endpoints[ENDPOINT].variants["AllTraffic"]
        wait_until(lambda: variant.inflight == 1, "the first request to hold its slot")
        (taken, fast), general = both(s, signed(s.fast.url))
        assert taken == 1
        status = 424 if overload_error == "ModelError" else 400
        assert fast[0] == general[0] == status
        assert _error_type(fast) == overload_error
        assert comparable(fast[1]) == comparable(general[1])
        assert fast[2] == general[2]
        holder.close()
    assert variant.inflight == 0  # stop() completed the held request: its slot is free


def test_many_held_requests_wait_together_without_threads() -> None:
    """200 requests each held 2 s by the model are all in flight at once, and none holds a thread."""
    count = 200
    params = ModelParams(**{**BASE, "model_latency_ms": 2000})
    with serving(params) as s:
        headers = signed(s.fast.url)
        variant = s.emu.world.endpoints[ENDPOINT].variants["AllTraffic"]
        threads_before = threading.active_count()
        conns = [http.client.HTTPConnection(s.fast.host, s.fast.port, timeout=30) for _ in range(count)]
        try:
            for conn in conns:
                conn.request("POST", PATH, body=BODY, headers=headers)
            wait_until(lambda: variant.inflight == count, f"{count} requests in flight", timeout_s=20)
            assert threading.active_count() <= threads_before + 2
            for conn in conns:
                response = conn.getresponse()
                assert (response.status, response.read()) == (200, fake_prediction(BODY))
        finally:
            for conn in conns:
                conn.close()
        assert variant.inflight == 0


def test_repeated_identical_requests_are_each_admitted_and_a_tampered_repeat_is_refused(served: Served) -> None:
    # The fast path remembers a screened and verified request by its head and body: every repeat must still
    # reach the model (counted, answered), and one byte changed in the signature or the body must not
    # inherit the verdict.
    headers = signed(served.fast.url)
    before = served.invoker.served
    with served.emu.lock:
        invocations_before = _invocations(served.emu)
    for _ in range(5):
        status, _headers, body = send(served.fast, headers)
        assert status == 200 and body == fake_prediction(BODY)
    assert served.invoker.served == before + 5
    with served.emu.lock:
        assert _invocations(served.emu) == invocations_before + 5

    auth = headers["Authorization"]
    tampered = {**headers, "Authorization": auth[:-1] + ("0" if auth[-1] != "0" else "1")}
    status, _headers, _body = send(served.fast, tampered)
    assert status == 403
    status, _headers, _body = send(served.fast, headers, body=BODY + b"0")  # signed for BODY
    assert status == 403


def _invocations(emu: Emulator) -> float:
    """Every Invocations sample the model holds for the endpoint, over all periods (visible or not yet)."""
    store = emu.world.metrics
    return sum(sum(v for _ts, v in store.datapoints(key, "Sum", store.period_s, 0, 1e12, now=1e12))
               for key in store.keys(name="Invocations") if dict(key.dims).get("EndpointName") == ENDPOINT)
