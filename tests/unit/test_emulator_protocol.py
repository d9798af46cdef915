"""The emulator's wire layer, exercised by real boto3 clients and by hand-signed raw HTTP requests."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.parsers
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from harness.emulator import cbor
from harness.emulator.errors import AwsError
from harness.emulator.http import ServerHandle, start_in_thread
from harness.emulator.protocol import Call, Router, service_model
from harness.emulator.sigv4 import SignatureError, SigV4Verifier, signing_key

T0 = datetime(2024, 5, 17, 12, 30, 15, 250000, tzinfo=UTC)
T1 = datetime(2024, 5, 17, 13, 0, tzinfo=UTC)
MODEL_ERROR = {"OriginalStatusCode": 500, "OriginalMessage": "worker died", "LogStreamArn": "arn:aws:logs:x"}


def _describe_endpoint(call: Call) -> dict[str, Any]:
    name = call.params["EndpointName"]
    if name == "crash":
        raise RuntimeError("secret-internal-detail")
    if name == "typo":  # a handler bug: an output member the model does not have
        return {"EndpointNmae": name}
    if name == "bad-fields":  # a handler bug: error fields that cannot be serialized
        raise AwsError("ValidationException", "x", 400, {"Extra": object()})
    if name == "missing":
        raise AwsError("ValidationException", 'Could not find endpoint "missing".')
    return {
        "EndpointName": name,
        "EndpointArn": f"arn:aws:sagemaker:{call.region}:1:endpoint/{name}",
        "EndpointStatus": "InService",
        "CreationTime": T0,
        "LastModifiedTime": T1,
    }


def _scaling_activities(call: Call) -> dict[str, Any]:
    if call.params.get("ResourceId") == "endpoint/gone/variant/v":
        raise AwsError("ObjectNotFoundException", "No scalable target registered")
    return {
        "ScalingActivities": [
            {
                "ActivityId": "a1",
                "ServiceNamespace": call.params["ServiceNamespace"],
                "ResourceId": "endpoint/e/variant/v",
                "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
                "Description": "d",
                "Cause": "alarm",
                "StartTime": T0,
                "EndTime": T1,
                "StatusCode": "Successful",
            }
        ]
    }


def _metric_data(call: Call) -> dict[str, Any]:
    queries = call.params["MetricDataQueries"]
    if queries[0]["Id"] == "crash":
        raise KeyError("secret-internal-detail")
    return {
        "MetricDataResults": [
            {
                "Id": queries[0]["Id"],
                "Label": "l",
                "StatusCode": "Complete",
                "Timestamps": [call.params["StartTime"], call.params["EndTime"]],
                "Values": [1, -2.5],
            }
        ]
    }


def _describe_alarms(call: Call) -> dict[str, Any]:
    if call.params.get("NextToken"):
        raise AwsError("InvalidNextToken", "The token is not valid")
    return {"MetricAlarms": [{"AlarmName": "a", "StateUpdatedTimestamp": T0, "Threshold": 70}]}


def _invoke(call: Call) -> dict[str, Any]:
    name = call.params["EndpointName"]
    if name == "overloaded":
        raise AwsError("ModelError", "Received server error (500) from primary", 424, MODEL_ERROR)
    if name == "throttled":
        raise AwsError("ThrottlingException", "Rate exceeded", 400)
    if name == "crash":
        raise ZeroDivisionError("secret-internal-detail")
    if name == "slow":
        time.sleep(0.3)
    return {
        "Body": call.params["Body"] + name.encode(),
        "ContentType": call.params.get("ContentType"),
        "InvokedProductionVariant": "AllTraffic",
        "CustomAttributes": call.params.get("CustomAttributes"),
    }


def _invoke_async(call: Call) -> dict[str, Any]:
    return {
        "InferenceId": call.params.get("InferenceId", "generated"),
        "OutputLocation": f"s3://out/{call.params['EndpointName']}.out",
    }


def _raw_echo(params: dict[str, Any]) -> tuple[int, Any]:
    if params.get("crash"):
        raise RuntimeError("secret-internal-detail")
    return 201, {"got": params, "at": T0}


def _router() -> Router:
    router = Router()
    router.register("sagemaker", "DescribeEndpoint", _describe_endpoint)
    router.register("application-autoscaling", "DescribeScalingActivities", _scaling_activities)
    router.register("cloudwatch", "GetMetricData", _metric_data)
    router.register("cloudwatch", "DescribeAlarms", _describe_alarms)
    router.register("cloudwatch", "PutMetricData", lambda call: {})
    router.register("sagemaker-runtime", "InvokeEndpoint", _invoke)
    router.register("sagemaker-runtime", "InvokeEndpointAsync", _invoke_async)
    router.register_raw("GET", "/_emulator/echo", _raw_echo)
    router.register_raw("POST", "/_emulator/echo", _raw_echo)
    return router


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    handle = start_in_thread(_router())
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def cbor_models(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A botocore data path whose CloudWatch model offers only smithy-rpc-v2-cbor.

    The pinned botocore prefers JSON for CloudWatch; this makes a real client speak CBOR, as a
    botocore that ranks CBOR first would.
    """
    root = tmp_path_factory.mktemp("botocore-data")
    data = (
        botocore.session.get_session()
        .get_component("data_loader")
        .load_service_model("cloudwatch", "service-2")
    )
    data = {**data, "metadata": {**data["metadata"], "protocols": ["smithy-rpc-v2-cbor"]}}
    folder = root / "cloudwatch" / data["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(data))
    return str(root)


@pytest.fixture(scope="module")
def clients(server: ServerHandle, cbor_models: str) -> Iterator[Callable[..., Any]]:
    """``clients(service, wire='default', key='test', secret='test')`` -> a cached real boto3 client."""
    made: dict[tuple[str, str, str, str], Any] = {}
    cbor_session = botocore.session.get_session()
    cbor_session.set_config_variable("data_path", cbor_models)
    sessions = {"default": boto3.Session(), "cbor": boto3.Session(botocore_session=cbor_session)}

    def get(service: str, wire: str = "default", key: str = "test", secret: str = "test") -> Any:
        if (service, wire, key, secret) not in made:
            made[(service, wire, key, secret)] = sessions[wire].client(
                service,
                endpoint_url=server.url,
                region_name="eu-west-1",
                aws_access_key_id=key,
                aws_secret_access_key=secret,
                config=botocore.config.Config(retries={"total_max_attempts": 1}),
            )
        return made[(service, wire, key, secret)]

    yield get
    for client in made.values():
        client.close()


def _plain(value: Any) -> Any:
    return value.read() if isinstance(value, StreamingBody) else value


# fmt: off
GET_METRIC_DATA = {"MetricDataQueries": [{"Id": "q1", "MetricStat": {
    "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"}, "Period": 60, "Stat": "Sum"}}],
    "StartTime": T0, "EndTime": T1}
METRIC_RESULT = [{"Id": "q1", "Label": "l", "StatusCode": "Complete", "Timestamps": [T0, T1],
                  "Values": [1.0, -2.5]}]
ACTIVITY = {"ActivityId": "a1", "ServiceNamespace": "sagemaker", "ResourceId": "endpoint/e/variant/v",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount", "Description": "d",
            "Cause": "alarm", "StartTime": T0, "EndTime": T1, "StatusCode": "Successful"}
# fmt: on


# fmt: off
@pytest.mark.parametrize("service,wire,content_type", [
    pytest.param("sagemaker", "default", "application/x-amz-json-1.1", id="sagemaker-json-1.1"),
    pytest.param("application-autoscaling", "default", "application/x-amz-json-1.1", id="aas-json-1.1"),
    pytest.param("cloudwatch", "default", "application/x-amz-json-1.0", id="cloudwatch-pinned-json-1.0"),
    pytest.param("cloudwatch", "cbor", "application/cbor", id="cloudwatch-rpc-v2-cbor"),
])
# fmt: on
def test_pinned_botocore_protocols_reach_the_emulator_on_their_wire(
    clients: Callable[..., Any], service: str, wire: str, content_type: str
) -> None:
    """A botocore upgrade that changes a service's wire protocol must fail here, loudly."""
    model = service_model(service)
    if service == "cloudwatch":
        # The model lists CBOR first, but the pinned botocore ranks 'json' above it and sends JSON 1.0.
        assert model.protocol == "smithy-rpc-v2-cbor"
        assert model.metadata["protocols"] == ["smithy-rpc-v2-cbor", "json", "query"]
        assert model.resolved_protocol == "json"
        out = clients(service, wire).get_metric_data(**GET_METRIC_DATA)
    elif service == "sagemaker":
        assert model.resolved_protocol == "json"
        out = clients(service).describe_endpoint(EndpointName="e")
    else:
        assert model.resolved_protocol == "json"
        out = clients(service).describe_scaling_activities(ServiceNamespace="sagemaker")
    assert out["ResponseMetadata"]["HTTPHeaders"]["content-type"] == content_type
    assert service_model("sagemaker-runtime").resolved_protocol == "rest-json"


# fmt: off
@pytest.mark.parametrize("service,wire,method,kwargs,expected", [
    pytest.param("sagemaker", "default", "describe_endpoint", {"EndpointName": "e1"},
                 {"EndpointName": "e1", "EndpointArn": "arn:aws:sagemaker:eu-west-1:1:endpoint/e1",
                  "CreationTime": T0, "LastModifiedTime": T1}, id="sagemaker-timestamps-and-region"),
    pytest.param("application-autoscaling", "default", "describe_scaling_activities",
                 {"ServiceNamespace": "sagemaker"}, {"ScalingActivities": [ACTIVITY]},
                 id="aas-nested-timestamps"),
    pytest.param("cloudwatch", "default", "get_metric_data", GET_METRIC_DATA,
                 {"MetricDataResults": METRIC_RESULT}, id="cloudwatch-json-timestamp-round-trip"),
    pytest.param("cloudwatch", "cbor", "get_metric_data", GET_METRIC_DATA,
                 {"MetricDataResults": METRIC_RESULT}, id="cloudwatch-cbor-timestamp-round-trip"),
    pytest.param("cloudwatch", "cbor", "describe_alarms", {},
                 {"MetricAlarms": [{"AlarmName": "a", "StateUpdatedTimestamp": T0, "Threshold": 70.0}]},
                 id="cloudwatch-cbor-int-as-double"),
    pytest.param("cloudwatch", "cbor", "put_metric_data",
                 {"Namespace": "n", "MetricData": [{"MetricName": "m", "Timestamp": T0, "Value": 1.5}]},
                 {}, id="cloudwatch-cbor-no-output"),
    pytest.param("cloudwatch", "default", "put_metric_data",
                 {"Namespace": "n", "MetricData": [{"MetricName": "m"}]}, {}, id="cloudwatch-json-no-output"),
    pytest.param("sagemaker-runtime", "default", "invoke_endpoint",
                 {"EndpointName": "e 1/ä", "Body": b"\x00\xff,1", "ContentType": "text/csv",
                  "CustomAttributes": "c=1"},
                 {"Body": b"\x00\xff,1e 1/\xc3\xa4", "ContentType": "text/csv",
                  "InvokedProductionVariant": "AllTraffic", "CustomAttributes": "c=1"},
                 id="runtime-blob-round-trip-and-uri-label"),
    pytest.param("sagemaker-runtime", "default", "invoke_endpoint_async",
                 {"EndpointName": "e", "InputLocation": "s3://in/x", "InferenceId": "i-1"},
                 {"InferenceId": "i-1", "OutputLocation": "s3://out/e.out"}, id="runtime-async-202"),
])
# fmt: on
def test_real_boto3_calls_round_trip(
    clients: Callable[..., Any], service: str, wire: str, method: str, kwargs: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    out = getattr(clients(service, wire), method)(**kwargs)
    assert {key: _plain(out.get(key)) for key in expected} == expected
    assert out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert out["ResponseMetadata"]["HTTPStatusCode"] == (202 if method == "invoke_endpoint_async" else 200)


RUNTIME = "sagemaker-runtime"
OK, WRONG_SECRET, UNKNOWN_KEY = ("test", "test"), ("test", "wrong"), ("AKIDUNKNOWN", "test")
INTERNAL = "We encountered an internal error. Please try again."
MISMATCH = "The request signature we calculated does not match the signature you provided."


# fmt: off
@pytest.mark.parametrize("service,wire,creds,method,kwargs,code,message,status,fields", [
    pytest.param("sagemaker", "default", OK, "describe_endpoint", {"EndpointName": "missing"},
                 "ValidationException", 'Could not find endpoint "missing".', 400, {}, id="json-aws-error"),
    pytest.param("sagemaker", "default", OK, "describe_endpoint", {"EndpointName": "crash"},
                 "InternalFailure", INTERNAL, 500, {}, id="json-handler-crash"),
    pytest.param("sagemaker", "default", OK, "describe_endpoint", {"EndpointName": "typo"},
                 "InternalFailure", INTERNAL, 500, {}, id="json-handler-returns-unknown-member"),
    pytest.param("sagemaker", "default", OK, "describe_endpoint", {"EndpointName": "bad-fields"},
                 "InternalFailure", INTERNAL, 500, {}, id="json-error-fields-not-serializable"),
    pytest.param("sagemaker", "default", OK, "describe_model", {"ModelName": "m"},
                 "UnknownOperationException",
                 "sagemaker DescribeModel is not implemented by the scalecheck emulator", 400, {},
                 id="json-operation-without-handler"),
    pytest.param("application-autoscaling", "default", OK, "describe_scaling_activities",
                 {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/gone/variant/v"},
                 "ObjectNotFoundException", "No scalable target registered", 400, {}, id="aas-modeled-error"),
    pytest.param("cloudwatch", "default", OK, "describe_alarms", {"NextToken": "t"}, "InvalidNextToken",
                 "The token is not valid", 400, {}, id="cloudwatch-json-query-compatible-code"),
    pytest.param("cloudwatch", "cbor", OK, "describe_alarms", {"NextToken": "t"}, "InvalidNextToken",
                 "The token is not valid", 400, {}, id="cloudwatch-cbor-query-compatible-code"),
    pytest.param("cloudwatch", "cbor", OK, "get_metric_data",
                 {**GET_METRIC_DATA, "MetricDataQueries": [{"Id": "crash", "Expression": "1"}]},
                 "InternalFailure", INTERNAL, 500, {}, id="cloudwatch-cbor-handler-crash"),
    pytest.param(RUNTIME, "default", OK, "invoke_endpoint", {"EndpointName": "overloaded", "Body": b"x"},
                 "ModelError", "Received server error (500) from primary", 424, MODEL_ERROR,
                 id="runtime-model-error-424-fields"),
    pytest.param(RUNTIME, "default", OK, "invoke_endpoint", {"EndpointName": "throttled", "Body": b"x"},
                 "ThrottlingException", "Rate exceeded", 400, {}, id="runtime-throttling"),
    pytest.param(RUNTIME, "default", OK, "invoke_endpoint", {"EndpointName": "crash", "Body": b"x"},
                 "InternalFailure", INTERNAL, 500, {}, id="runtime-handler-crash"),
    pytest.param("sagemaker", "default", WRONG_SECRET, "describe_endpoint", {"EndpointName": "e"},
                 "InvalidSignatureException", MISMATCH, 403, {}, id="sagemaker-wrong-secret"),
    pytest.param("application-autoscaling", "default", WRONG_SECRET, "describe_scaling_activities",
                 {"ServiceNamespace": "sagemaker"}, "InvalidSignatureException", MISMATCH, 403, {},
                 id="aas-wrong-secret"),
    pytest.param("cloudwatch", "default", WRONG_SECRET, "get_metric_data", GET_METRIC_DATA,
                 "InvalidSignatureException", MISMATCH, 403, {}, id="cloudwatch-json-wrong-secret"),
    pytest.param("cloudwatch", "cbor", WRONG_SECRET, "get_metric_data", GET_METRIC_DATA,
                 "InvalidSignatureException", MISMATCH, 403, {}, id="cloudwatch-cbor-wrong-secret"),
    pytest.param(RUNTIME, "default", WRONG_SECRET, "invoke_endpoint", {"EndpointName": "e", "Body": b"x"},
                 "InvalidSignatureException", MISMATCH, 403, {}, id="runtime-wrong-secret"),
    pytest.param(RUNTIME, "default", UNKNOWN_KEY, "invoke_endpoint", {"EndpointName": "e", "Body": b"x"},
                 "UnrecognizedClientException", "The security token included in the request is invalid.", 403,
                 {}, id="runtime-unknown-access-key"),
])
# fmt: on
def test_errors_reach_botocore_in_aws_shape(
    clients: Callable[..., Any], caplog: pytest.LogCaptureFixture, service: str, wire: str,
    creds: tuple[str, str], method: str, kwargs: dict[str, Any], code: str, message: str, status: int,
    fields: dict[str, Any],
) -> None:
    client = clients(service, wire, *creds)
    with pytest.raises(ClientError) as caught:
        getattr(client, method)(**kwargs)
    response = caught.value.response
    assert response["Error"]["Code"] == code
    assert response["Error"]["Message"].startswith(message)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert {name: response.get(name) for name in fields} == fields
    assert "secret-internal-detail" not in str(response) and "Traceback" not in str(response)
    if code == "InternalFailure":
        assert "Traceback" in caplog.text  # logged server-side instead
    if code == "InvalidNextToken":  # botocore maps the query-compatible code to its modeled exception
        assert isinstance(caught.value, client.exceptions.InvalidNextToken)


def _signed(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
            signing_name: str = "sagemaker", secret: str | None = "test") -> AWSRequest:
    """A request as botocore would sign it (``secret=None``: unsigned)."""
    request = AWSRequest(method=method, url=url + path, data=body, headers=headers or {})
    if secret is not None:
        SigV4Auth(Credentials("test", secret), signing_name, "us-east-1").add_auth(request)
    return request


def _send(request: AWSRequest, chunked: bool = False) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(request.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    body: Any = request.body
    if chunked:
        body = iter([request.body[:5], request.body[5:]])
    with closing(http.client.HTTPConnection(parts.netloc, timeout=5)) as conn:
        conn.request(request.method, target, body=body, headers=dict(request.headers.items()),
                     encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _json_request(url: str, target: str, body: Any, signing_name: str = "sagemaker", **kw: Any) -> AWSRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    return _signed(url, "POST", "/", raw, headers, signing_name, **kw)


def _cbor_request(url: str, operation: str, body: bytes) -> AWSRequest:
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    path = f"/service/GraniteServiceVersion20100801/operation/{operation}"
    return _signed(url, "POST", path, body, headers, "monitoring")


GET_METRIC_DATA_JSON = {**json.loads(json.dumps(GET_METRIC_DATA, default=str)), "StartTime": "yesterday"}
DESCRIBE = "SageMaker.DescribeEndpoint"
ASYNC_HEADERS = {"X-Amzn-SageMaker-InputLocation": "s3://b/k", "X-Amzn-SageMaker-RequestTTLSeconds": "soon"}

# fmt: off
RAW_CASES = [
    pytest.param(lambda u: _json_request(u, DESCRIBE, {}), "json", 400, "ValidationException",
                 'Missing required parameter in input: "EndpointName"', id="json-missing-required"),
    pytest.param(lambda u: _json_request(u, "AnyScaleFrontendService.DescribeScalingActivities",
                                         {"ServiceNamespace": "sagemaker", "ResourceId": 5},
                                         "application-autoscaling"),
                 "json", 400, "ValidationException", "Invalid type for parameter ResourceId",
                 id="json-wrong-type"),
    pytest.param(lambda u: _json_request(u, "GraniteServiceVersion20100801.GetMetricData",
                                         GET_METRIC_DATA_JSON, "monitoring"),
                 "json", 400, "ValidationError", "Value 'yesterday' at 'StartTime'", id="json-bad-timestamp"),
    pytest.param(lambda u: _json_request(u, "SageMaker.FooBar", {}), "json", 400, "UnknownOperationException",
                 "Unknown sagemaker operation", id="json-unknown-operation"),
    pytest.param(lambda u: _json_request(u, "Nope.DescribeEndpoint", {}), "json", 400,
                 "UnknownOperationException", "Unknown operation", id="json-unknown-target-prefix"),
    pytest.param(lambda u: _json_request(u, DESCRIBE, b"{not json"), "json", 400, "SerializationException",
                 "The request body could not be parsed as JSON", id="json-malformed-body"),
    pytest.param(lambda u: _json_request(u, DESCRIBE, b"[" * 100_000 + b"]" * 100_000), "json", 400,
                 "SerializationException", "nested too deeply", id="json-body-nested-100k-deep"),
    pytest.param(lambda u: _json_request(u, DESCRIBE, {"EndpointName": "e"}, "monitoring"), "json", 403,
                 "InvalidSignatureException", "Credential should be scoped to correct service: 'sagemaker'",
                 id="json-scope-for-other-service"),
    pytest.param(lambda u: _json_request(u, DESCRIBE, {"EndpointName": "e"}, secret=None), "json", 403,
                 "MissingAuthenticationTokenException", "Missing Authentication Token", id="json-unsigned"),
    pytest.param(lambda u: _cbor_request(u, "GetMetricData", cbor.encode({"StartTime": T0, "EndTime": T1})),
                 "smithy-rpc-v2-cbor", 400, "ValidationError",
                 'Missing required parameter in input: "MetricDataQueries"', id="cbor-missing-required"),
    pytest.param(lambda u: _cbor_request(u, "GetMetricData", b"\xa1\x61"), "smithy-rpc-v2-cbor", 400,
                 "SerializationException", "The request body could not be parsed as CBOR",
                 id="cbor-truncated-body"),
    pytest.param(lambda u: _cbor_request(u, "GetMetricData", cbor.encode([1])), "smithy-rpc-v2-cbor", 400,
                 "SerializationException", "The request body must be a CBOR map", id="cbor-body-not-a-map"),
    pytest.param(lambda u: _cbor_request(u, "Nope", cbor.encode({})), "smithy-rpc-v2-cbor", 400,
                 "UnknownOperationException", "Unknown cloudwatch operation", id="cbor-unknown-operation"),
    pytest.param(lambda u: _signed(u, "POST", "/endpoints/e/nope", b"x"), "rest-json", 404,
                 "UnknownOperationException", "Unknown operation", id="rest-unknown-path"),
    pytest.param(lambda u: _signed(u, "GET", "/endpoints/e/invocations"), "rest-json", 404,
                 "UnknownOperationException", "Unknown operation", id="rest-wrong-method"),
    pytest.param(lambda u: _signed(u, "POST", "/endpoints/e/async-invocations", b"", ASYNC_HEADERS),
                 "rest-json", 400, "ValidationError",
                 "1 validation error detected: Value 'soon' at 'RequestTTLSeconds'",
                 id="rest-bad-integer-header"),
]
# fmt: on


@pytest.mark.parametrize("build,protocol,status,code,message", RAW_CASES)
def test_raw_requests_get_aws_errors_botocore_understands(
    server: ServerHandle, build: Callable[[str], AWSRequest], protocol: str, status: int, code: str,
    message: str,
) -> None:
    got_status, headers, body = _send(build(server.url))
    assert got_status == status
    assert headers["x-amzn-requestid"]
    response = {"status_code": got_status, "headers": headers, "body": body}
    parsed = botocore.parsers.create_parser(protocol).parse(response, None)
    assert parsed["Error"]["Code"] == code
    assert message in parsed["Error"]["Message"]


def test_chunked_request_body_is_read(server: ServerHandle) -> None:
    request = _json_request(server.url, DESCRIBE, {"EndpointName": "chunky"})
    del request.headers["Content-Length"]
    status, _, body = _send(request, chunked=True)
    assert status == 200 and json.loads(body)["EndpointName"] == "chunky"


# fmt: off
@pytest.mark.parametrize("method,path,body,status,expected", [
    pytest.param("GET", "/_emulator/echo?a=1&a=2&b=x", b"", 201,
                 {"got": {"a": "2", "b": "x"}, "at": T0.timestamp()}, id="get-query"),
    pytest.param("POST", "/_emulator/echo?a=1", b'{"b": [1, 2]}', 201,
                 {"got": {"a": "1", "b": [1, 2]}, "at": T0.timestamp()}, id="post-json-merged-over-query"),
    pytest.param("POST", "/_emulator/echo", b"[1]", 400, {"error": "request body must be a JSON object"},
                 id="post-not-an-object"),
    pytest.param("POST", "/_emulator/echo", b'{"crash": true}', 500, {"error": "internal error"}, id="crash"),
    pytest.param("DELETE", "/_emulator/echo", b"", 405, {"error": "no emulator route DELETE /_emulator/echo"},
                 id="wrong-method"),
    pytest.param("GET", "/_emulator/nope", b"", 404, {"error": "no emulator route GET /_emulator/nope"},
                 id="unknown-route"),
])
# fmt: on
def test_raw_emulator_routes_need_no_signature(
    server: ServerHandle, method: str, path: str, body: bytes, status: int, expected: dict[str, Any]
) -> None:
    got_status, headers, got_body = _send(_signed(server.url, method, path, body, secret=None))
    assert (got_status, json.loads(got_body)) == (status, expected)
    assert headers["content-type"] == "application/json" and headers["x-amzn-requestid"]


def test_server_binds_loopback_only(server: ServerHandle) -> None:
    assert server.host == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0


def test_keep_alive_connection_serves_requests_back_to_back(server: ServerHandle) -> None:
    with closing(http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)) as conn:
        started = time.monotonic()
        for _ in range(20):
            conn.request("GET", "/_emulator/echo?n=1")
            response = conn.getresponse()
            assert (response.status, json.loads(response.read())["got"]) == (201, {"n": "1"})
        # Nagle's algorithm plus delayed ACKs would cost ~40 ms per response.
        assert time.monotonic() - started < 0.4


def test_blocking_handlers_do_not_serialize(clients: Callable[..., Any]) -> None:
    client = clients("sagemaker-runtime")
    errors: list[BaseException] = []

    def invoke() -> None:
        try:
            client.invoke_endpoint(EndpointName="slow", Body=b"x")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=invoke) for _ in range(6)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert time.monotonic() - started < 1.2  # 6 x 0.3 s handlers would take 1.8 s one after another


def test_router_rejects_registration_the_model_does_not_know() -> None:
    router = Router(credentials=None)
    with pytest.raises(ValueError, match="has no operation 'DescribeEndpoints'"):
        router.register("sagemaker", "DescribeEndpoints", _describe_endpoint)
    with pytest.raises(ValueError, match="unknown service 'sqs'"):
        router.register("sqs", "SendMessage", _describe_endpoint)
    with pytest.raises(ValueError, match="raw routes live under /_emulator/"):
        router.register_raw("GET", "/health", _raw_echo)


def test_router_without_credentials_accepts_unsigned_calls() -> None:
    router = Router(credentials=None)
    seen: list[Call] = []
    router.register("sagemaker", "DescribeEndpoint", lambda c: seen.append(c) or _describe_endpoint(c))
    headers = {"X-Amz-Target": DESCRIBE}
    status, _, body = router.handle("POST", "/", "", headers, b'{"EndpointName": "e", "Unknown": 1}')
    assert status == 200 and json.loads(body)["CreationTime"] == T0.timestamp()
    assert seen == [Call("sagemaker", "DescribeEndpoint", {"EndpointName": "e"}, "us-east-1", "")]


# --- SigV4: the emulator's independent verifier against botocore's signer --------------------------

# fmt: off
SIGV4_CASES = [
    pytest.param("POST", "http://127.0.0.1:4566/", {"X-Amz-Target": DESCRIBE}, b"{}", "sagemaker",
                 id="json-post"),
    pytest.param("POST", "http://127.0.0.1:4566/endpoints/my%20ep%2Fx/invocations",
                 {"Content-Type": "text/csv"}, b"1,2", "sagemaker", id="path-double-encoding"),
    pytest.param("GET", "http://localhost/a/./b/../c//d?b=2&a=1&a=0&e=x%20y&f=a%2Fb~", {}, b"", "monitoring",
                 id="path-normalised-query-sorted"),
    pytest.param("POST", "http://127.0.0.1/", {"X-Amz-Security-Token": "tok", "X-Custom": "a   b  "}, b"x",
                 "application-autoscaling", id="session-token-and-header-trimming"),
    pytest.param("PUT", "http://127.0.0.1/", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}, b"body", "s3",
                 id="unsigned-payload-header"),
]
# fmt: on


def _botocore_signed(method: str, url: str, headers: dict[str, str], body: bytes, service: str,
                     secret: str = "test", token: str | None = None) -> tuple[str, str, dict[str, str]]:
    """(raw path, raw query, lower-case headers) of a request signed by botocore's ``SigV4Auth``."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials("test", secret, token), service, "eu-central-1").add_auth(request)
    parts = urlsplit(request.url)
    lower = {k.lower(): v for k, v in request.headers.items()}
    lower.setdefault("host", parts.netloc)  # what an HTTP client puts on the wire
    return parts.path, parts.query, lower


@pytest.mark.parametrize("method,url,headers,body,service", SIGV4_CASES)
def test_sigv4_verifier_accepts_botocore_signatures(
    method: str, url: str, headers: dict[str, str], body: bytes, service: str
) -> None:
    path, query, lower = _botocore_signed(method, url, headers, body, service)
    identity = SigV4Verifier({"test": "test"}).verify(method, path, query, lower, body)
    assert (identity.access_key, identity.region, identity.service) == ("test", "eu-central-1", service)


# fmt: off
@pytest.mark.parametrize("tamper,code", [
    pytest.param(lambda p, q, h, b: (p, q, h, b + b"!"), "InvalidSignatureException", id="body-changed"),
    pytest.param(lambda p, q, h, b: (p + "x", q, h, b), "InvalidSignatureException", id="path-changed"),
    pytest.param(lambda p, q, h, b: (p, "a=1", h, b), "InvalidSignatureException", id="query-added"),
    pytest.param(lambda p, q, h, b: (p, q, {**h, "x-amz-target": "SageMaker.DeleteEndpoint"}, b),
                 "InvalidSignatureException", id="signed-header-changed"),
    pytest.param(lambda p, q, h, b: (p, q, {**h, "x-amz-date": "20200101T000000Z"}, b),
                 "InvalidSignatureException", id="date-outside-scope"),
    pytest.param(lambda p, q, h, b: (p, q, {k: v for k, v in h.items() if k != "authorization"}, b),
                 "MissingAuthenticationTokenException", id="no-authorization"),
    pytest.param(lambda p, q, h, b: (p, q, {**h, "authorization": "AWS4-HMAC-SHA256 Credential=test/x"}, b),
                 "IncompleteSignatureException", id="malformed-authorization"),
    pytest.param(lambda p, q, h, b: (p, q, {**h, "x-amz-content-sha256": "0" * 64}, b),
                 "XAmzContentSHA256Mismatch", id="payload-hash-header-lies"),
])
# fmt: on
def test_sigv4_verifier_rejects_tampering(tamper: Callable[..., Any], code: str) -> None:
    signed = _botocore_signed("POST", "http://127.0.0.1/", {"X-Amz-Target": DESCRIBE}, b"{}", "sagemaker")
    path, query, headers, body = tamper(*signed, b"{}")
    with pytest.raises(SignatureError) as caught:
        SigV4Verifier({"test": "test"}).verify("POST", path, query, headers, body)
    assert caught.value.code == code


def test_sigv4_wrong_secret_and_unknown_key() -> None:
    path, query, headers = _botocore_signed("POST", "http://h/", {}, b"", "sagemaker", secret="nope")
    with pytest.raises(SignatureError, match="signature we calculated does not match"):
        SigV4Verifier({"test": "test"}).verify("POST", path, query, headers, b"")
    with pytest.raises(SignatureError, match="security token included in the request is invalid") as caught:
        SigV4Verifier({"other": "test"}).verify("POST", path, query, headers, b"")
    assert caught.value.status == 403
    # Without credentials nothing is checked, but the scope still names region and signer.
    identity = SigV4Verifier(None).verify("POST", path, query, headers, b"")
    assert (identity.access_key, identity.region) == ("test", "eu-central-1")


def test_sigv4_signing_keys_are_cached() -> None:
    signing_key.cache_clear()
    path, query, headers = _botocore_signed("POST", "http://h/", {}, b"", "sagemaker", token="t")
    verifier = SigV4Verifier({"test": "test"})
    for _ in range(3):
        verifier.verify("POST", path, query, headers, b"")
    assert signing_key.cache_info().hits == 2 and signing_key.cache_info().misses == 1
