"""The awsQuery protocol (``harness.emulator.query``, STS): decoding, answers and errors, through real boto3.

A router with a stand-in AssumeRole handler (any STS operation exercises the wire): its input has nested
lists of structures, a list of strings and an integer; its output a structure with a timestamp.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness.emulator.errors import AwsError
from harness.emulator.http import ServerHandle, start_in_thread
from harness.emulator.protocol import Call, Router

EXPIRES = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
seen: list[dict[str, Any]] = []


def _assume_role(call: Call) -> dict[str, Any]:
    seen.append(call.params)
    if call.params["RoleSessionName"] == "refused":
        raise AwsError("AccessDenied", "not you", 403)
    return {"Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t",
                            "Expiration": EXPIRES},
            "AssumedRoleUser": {"AssumedRoleId": "AROA1:x", "Arn": "arn:aws:sts::1:assumed-role/r/x"},
            "PackedPolicySize": 7}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    router = Router()
    router.register("sts", "AssumeRole", _assume_role)
    handle: ServerHandle = start_in_thread(router)
    try:
        yield handle.url
    finally:
        handle.stop()


@pytest.fixture
def sts(url: str) -> Iterator[Any]:
    made = boto3.Session().client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                                  aws_secret_access_key="test",
                                  config=botocore.config.Config(retries={"total_max_attempts": 1}))
    yield made
    made.close()


def test_input_members_are_decoded_and_the_answer_parses(sts: Any) -> None:
    out = sts.assume_role(RoleArn="arn:aws:iam::1:role/r", RoleSessionName="xy", DurationSeconds=900,
                          PolicyArns=[{"arn": "arn:aws:iam::aws:policy/A"}, {"arn": "arn:aws:iam::aws:policy/B"}],
                          Tags=[{"Key": "k", "Value": "v"}], TransitiveTagKeys=["k"])
    assert seen[-1] == {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "xy", "DurationSeconds": 900,
                        "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/A"}, {"arn": "arn:aws:iam::aws:policy/B"}],
                        "Tags": [{"Key": "k", "Value": "v"}], "TransitiveTagKeys": ["k"]}
    assert out["Credentials"]["Expiration"] == EXPIRES and out["PackedPolicySize"] == 7
    assert out["AssumedRoleUser"]["Arn"] == "arn:aws:sts::1:assumed-role/r/x"
    assert out["ResponseMetadata"]["RequestId"] == out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_errors_are_query_xml(sts: Any) -> None:
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn="arn:aws:iam::1:role/r", RoleSessionName="refused")
    assert (err.value.response["Error"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        {"Type": "Sender", "Code": "AccessDenied", "Message": "not you"}, 403)
    with pytest.raises(ClientError) as err:
        sts.get_caller_identity()  # in the model, not served by this router
    assert err.value.response["Error"]["Code"] == "UnknownOperationException"


def test_a_bad_value_and_an_unknown_action(url: str, sts: Any) -> None:
    def send(body: str) -> tuple[int, bytes]:
        request = AWSRequest(method="POST", url=f"{url}/", data=body.encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials("test", "test"), "sts", "us-east-1").add_auth(request)
        host = url.removeprefix("http://")
        conn = http.client.HTTPConnection(host, timeout=10)
        try:
            conn.request("POST", "/", body=request.body, headers=dict(request.headers))
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    status, body = send("Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::1:role/r&RoleSessionName=xy"
                        "&DurationSeconds=soon")
    assert status == 400 and b"<Code>ValidationError</Code>" in body and b"DurationSeconds" in body
    status, body = send("Action=Explode&Version=2011-06-15")
    assert status == 400 and b"<Code>InvalidAction</Code>" in body and body.startswith(
        b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>')
