"""The emulator under hostile input (the reliability probe's request classes, bounded, loopback only): every
request gets an answer in an AWS error shape — never a traceback, never an InternalFailure on a service path —
within a bounded time, and the emulator still serves real boto3 calls afterwards."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness.autoscaling.params import ModelParams
from harness.emulator.app import Emulator
from harness.emulator.framing import MAX_LINE
from harness.emulator.http import ServerHandle
from tests.emulator_support import client, running

pytestmark = pytest.mark.integration

ANSWER_WALL_S = 10.0  # every request is answered (or its connection closed) within this; generous on a busy CI


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, ServerHandle]]:
    with running(ModelParams(endpoint_create_delay_s=0), 60) as pair:
        yield pair


def signed(url: str, method: str, path: str, body: bytes, headers: dict[str, str], service: str,
           secret: str = "test") -> bytes:
    request = AWSRequest(method=method, url=url + path, data=body, headers=headers)
    SigV4Auth(Credentials("test", secret), service, "us-east-1").add_auth(request)
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    return (head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1") + body


JSON11 = {"Content-Type": "application/x-amz-json-1.1"}


def classes(url: str) -> dict[str, bytes]:
    host = url.split("//")[1]
    return {
        "garbage-request-line": b"\x16\x03\x01\x02\x00GARBAGE\r\n\r\n",
        "bad-content-length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        "content-length-over-the-cap": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n",
        "bad-chunk-size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "head-too-long": b"GET / HTTP/1.1\r\nX-Pad: " + b"p" * (MAX_LINE + 10) + b"\r\n\r\n",
        "json-nested-100k-deep": signed(url, "POST", "/", b"[" * 100_000 + b"]" * 100_000,
                                        {**JSON11, "X-Amz-Target": "SageMaker.ListEndpoints", "Host": host},
                                        "sagemaker"),
        "json-malformed": signed(url, "POST", "/", b"{nope", {**JSON11, "X-Amz-Target": "SageMaker.ListEndpoints",
                                                                 "Host": host}, "sagemaker"),
        "unknown-target": signed(url, "POST", "/", b"{}", {**JSON11, "X-Amz-Target": "SageMaker.Nope",
                                                          "Host": host}, "sagemaker"),
        "wrong-signature": signed(url, "POST", "/", b"{}", {**JSON11, "X-Amz-Target": "SageMaker.ListEndpoints",
                                                            "Host": host}, "sagemaker", secret="wrong"),
        "unsigned": b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Amz-Target: SageMaker.ListEndpoints\r\n"
                    b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}",
        "async-without-input-location": signed(url, "POST", "/endpoints/nope/async-invocations", b"",
                                               {"Host": host}, "sagemaker"),
        "invoke-unknown-endpoint": signed(url, "POST", "/endpoints/nope/invocations", b"1",
                                          {"Host": host, "Content-Type": "text/csv"}, "sagemaker"),
        "s3-malformed-xml": signed(url, "POST", "/bucket?delete", b"<Delete><Object>", {"Host": host}, "s3"),
        "cbor-garbage": signed(url, "POST", "/service/GraniteServiceVersion20100801/operation/GetMetricData",
                               b"\xff\xff\xff", {"Host": host, "Content-Type": "application/cbor",
                                                 "Smithy-Protocol": "rpc-v2-cbor"}, "monitoring"),
    }


def exchange(handle: ServerHandle, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` on a fresh connection; the answer (status, lower-case headers, body) once it is closed."""
    with socket.create_connection((handle.host, handle.port), timeout=ANSWER_WALL_S) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything: read what it said
        data = bytearray()
        deadline = time.monotonic() + ANSWER_WALL_S
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), lines[0]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def aws_error_code(headers: dict[str, str], body: bytes) -> str:
    """The AWS error code of an answer in any of the emulator's protocols ('' when there is none)."""
    if headers.get("x-amzn-errortype"):
        return headers["x-amzn-errortype"].split(":")[0]
    if body.lstrip().startswith(b"<"):
        text = body.decode("utf-8", "replace")
        return text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else ""
    if body.lstrip().startswith(b"{"):
        data = json.loads(body)
        return str(data.get("__type") or data.get("code") or "")
    if headers.get("content-type") == "application/cbor":
        from harness.emulator.cbor import decode

        return str(decode(body).get("__type", ""))
    return ""


def test_every_hostile_request_gets_an_aws_error_and_the_emulator_keeps_serving(
        served: tuple[Emulator, ServerHandle]) -> None:
    _emu, handle = served
    answers = {}
    for name, raw in classes(handle.url).items():
        status, headers, body = exchange(handle, raw)
        code = aws_error_code(headers, body)
        answers[name] = (status, code)
        assert 400 <= status < 500, (name, status, body[:300])
        assert code and code != "InternalFailure", (name, status, body[:300])
        assert b"Traceback" not in body
    assert answers["wrong-signature"] == (403, "InvalidSignatureException")
    assert answers["json-nested-100k-deep"] == (400, "SerializationException")
    assert answers["async-without-input-location"] == (400, "ValidationError")
    # still serving real clients
    assert client(handle.url, "sagemaker").list_endpoints()["Endpoints"] == []
